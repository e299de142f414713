"""Progressive rendering in Chromium: frozen nodes stay, long answers stay smooth, selection and
scroll belong to the user, no raw syntax on screen, and the end is exactly the one-shot render."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from server.demo.scripts import Answers
from server.demo.tokens import strip_marks
from tests.browser.helpers import ASSISTANT, DONE, ask, expected_content, last_answer_content
from tests.support.commonmark import examples
from tests.support.server import Running, serve, serve_process
from tests.support.upstream import DONE as SSE_DONE
from tests.support.upstream import FakeUpstream, Paced, Scenario, Send, chunk, sse

ANSWERS = Answers.load()
RAW = ("**", "```", "|---", "| ---", "](", "~~", "__")


def paced(text: str, per_second: float, size: int = 4) -> Scenario:
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    return Scenario(
        steps=[
            Send(sse(chunk("", role="assistant"))),
            Paced([sse(chunk(p)) for p in pieces], per_second),
            Send(sse(chunk(finish_reason="stop"))),
            Send(SSE_DONE),
        ]
    )


PROSE = "\n\n".join(
    f"Paragraph {i} says something **useful** about streaming, with `code` and *emphasis*." for i in range(40)
)


def test_a_frozen_node_is_the_same_node_at_the_end(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("m", paced(PROSE, per_second=300))
    page.goto(bridge.http)
    ask(page, "go")
    page.wait_for_function(
        """() => { const e = document.querySelector('[data-inkstream]').chat.transcript.entries.at(-1);
                  return e && e.message && e.message.patcher.levels[0].blocks.length > 0; }"""
    )
    page.evaluate(
        """() => { const p = document.querySelector('[data-inkstream]').chat.transcript.entries.at(-1).message.patcher;
                  window.__marked = p.levels[0].blocks[0][0]; window.__marked.__inkMark = 'kept'; }"""
    )
    page.wait_for_selector(DONE, timeout=30_000)
    kept = page.evaluate(
        """() => { const p = document.querySelector('[data-inkstream]').chat.transcript.entries.at(-1).message.patcher;
                  const first = p.levels[0].blocks[0][0];
                  return [first === window.__marked, first.__inkMark, document.contains(window.__marked)]; }"""
    )
    assert kept == [True, "kept", True]
    assert last_answer_content(page) == expected_content(PROSE)


def test_selection_in_frozen_text_survives_streaming(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("m", paced(PROSE, per_second=150))
    page.goto(bridge.http)
    ask(page, "go")
    page.wait_for_function(
        "() => document.querySelector('[data-inkstream]').chat.transcript.entries.at(-1)?.message?.patcher.levels[0].blocks.length > 1"
    )
    selected = page.evaluate(
        """() => { const p = document.querySelector('[data-inkstream]').chat.transcript.entries.at(-1).message.patcher;
                  const node = p.levels[0].blocks[0][0];
                  const range = document.createRange(); range.selectNodeContents(node);
                  getSelection().removeAllRanges(); getSelection().addRange(range);
                  window.__frames = p.levels[0].blocks.length; return getSelection().toString(); }"""
    )
    assert selected.startswith("Paragraph 0")
    page.wait_for_function(
        "() => document.querySelector('[data-inkstream]').chat.transcript.entries.at(-1).message.patcher.levels[0].blocks.length > window.__frames + 5"
    )
    assert page.evaluate("() => getSelection().toString()") == selected
    assert page.evaluate("() => getSelection().anchorNode.isConnected") is True


def test_copy_works_mid_stream(context: BrowserContext, bridge: Running, upstream: FakeUpstream) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    text = "```python\nprint('copied')\n```\n\n" + PROSE
    upstream.add("m", paced(text, per_second=80))
    page.goto(bridge.http)
    ask(page, "go")
    answer = page.locator(ASSISTANT).last
    button = answer.locator(".codeblock [data-copy]")
    expect(answer.locator(".codeblock code")).to_have_text("print('copied')\n")
    expect(answer).to_have_attribute("aria-busy", "true")
    button.click()
    expect(button).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == "print('copied')\n"


def test_scroll_latch_and_new_content_pill(page: Page, bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", paced(PROSE + "\n\n" + PROSE, per_second=120))
    page.set_viewport_size({"width": 900, "height": 600})
    page.goto(bridge.http)
    ask(page, "go")
    box = page.locator("#transcript")
    page.wait_for_function(
        "() => { const b = document.getElementById('transcript'); return b.scrollHeight > b.clientHeight * 2; }"
    )
    # Following: the end stays in view.
    page.wait_for_function(
        "() => { const b = document.getElementById('transcript'); return b.scrollHeight - b.scrollTop - b.clientHeight < 4; }"
    )
    box.hover()
    page.mouse.wheel(0, -400)
    page.wait_for_function("() => !document.querySelector('[data-inkstream]').chat.scroller.following")
    top = box.evaluate("(b) => b.scrollTop")
    pill = page.get_by_role("button", name="New content")
    expect(pill).to_be_visible()
    height = box.evaluate("(b) => b.scrollHeight")
    page.wait_for_function(f"() => document.getElementById('transcript').scrollHeight > {height} + 200")
    assert abs(box.evaluate("(b) => b.scrollTop") - top) < 2  # the reader was not yanked down
    pill.click()
    expect(pill).to_be_hidden()
    page.wait_for_function(
        "() => { const b = document.getElementById('transcript'); return b.scrollHeight - b.scrollTop - b.clientHeight < 4; }"
    )
    assert page.evaluate("document.querySelector('[data-inkstream]').chat.scroller.following") is True


@pytest.fixture
def paced_demo() -> Iterator[Running]:
    # Slow enough for the page to show the tour in many states: the page takes fewer, larger
    # frames on a slow machine (patch.js keeps its frames to a share of the main thread).
    with serve(demo_ttft_ms=50, demo_tokens_per_second=200) as running:
        yield running


def test_no_raw_syntax_on_screen_mid_stream_and_at_the_end(
    page: Page, paced_demo: Running, artifacts: Path
) -> None:
    page.goto(paced_demo.http)
    page.evaluate(
        """() => { window.__seen = [];
          new MutationObserver(() => {
            const c = document.querySelector('article[data-role="assistant"]:last-of-type [data-part="content"]');
            if (!c) return;
            const copy = c.cloneNode(true);
            copy.querySelectorAll('pre, code').forEach((n) => n.remove());
            window.__seen.push(copy.innerText);
          }).observe(document.getElementById('transcript'), {subtree: true, childList: true, characterData: true});
        }"""
    )
    ask(page, "tour")
    answer = page.locator(ASSISTANT).last
    expect(answer.locator("table")).to_be_visible(timeout=30_000)
    expect(answer).to_have_attribute("aria-busy", "true")
    page.screenshot(path=str(artifacts / "tour-mid-stream.png"), caret="initial")
    page.wait_for_selector(DONE, timeout=60_000)
    seen = page.evaluate("window.__seen")
    assert len(seen) > 50
    flashes = [(i, marker) for i, text in enumerate(seen) for marker in RAW if marker in text]
    assert flashes == []
    text = strip_marks(ANSWERS.texts["tour"])
    turn = page.evaluate(
        "document.querySelector('[data-inkstream]').chat.transcript.entries.at(-1).message.turn"
    )
    assert last_answer_content(page) == expected_content(text, doc_id=turn)
    page.screenshot(path=str(artifacts / "tour-done.png"))  # after: screenshots touch inputs' style


def test_a_200_kb_answer_at_full_speed_is_shown_whole(page: Page, artifacts: Path) -> None:
    # Behaviour only: how fast and how smoothly is measured by benchmarks/page.py.
    # The server runs as its own process: in production it is not on the reader's machine, and
    # here it would otherwise preempt the browser's main thread on a 2-core box.
    with serve_process(nice=10, INKSTREAM_DEMO_TTFT_MS="0") as running:
        page.goto(running.http)
        page.evaluate(
            """() => { window.__long = [];
              new PerformanceObserver((list) => {
                for (const e of list.getEntries()) window.__long.push([Math.round(e.startTime), e.duration]);
              }).observe({type: 'longtask'}); }"""
        )
        page.get_by_label("Model").select_option("inkstream-demo-fast")
        started = page.evaluate("performance.now()")
        ask(page, "huge")
        page.wait_for_selector(DONE, timeout=180_000)
        finished = page.evaluate("performance.now()")
        # Long tasks from the moment the question is sent until the answer is done (information).
        long_tasks = [d for t, d in page.evaluate("window.__long") if t >= started]
        text = strip_marks(ANSWERS.texts["huge"])
        assert len(text) >= 200_000
        assert last_answer_content(page) == expected_content(text)
        metrics = page.locator(ASSISTANT).last.locator('[data-part="metrics"]').inner_text()
        (artifacts / "huge-answer.json").write_text(
            json.dumps(
                {"seconds": (finished - started) / 1000, "long_tasks_ms": long_tasks, "metrics": metrics}
            )
        )


SAMPLE = [e for e in examples() if e.number % 9 == 0]


@pytest.mark.parametrize("batch", range(3))
def test_spec_examples_end_as_the_one_shot_render_in_the_browser(page: Page, batch: int) -> None:
    with serve(demo_ttft_ms=0, demo_tokens_per_second=3000) as running:
        page.goto(running.http)
        expect(page.locator("#connection")).to_have_attribute("data-state", "open")
        for example in SAMPLE[batch::3]:
            page.evaluate(
                "(text) => document.querySelector('[data-inkstream]').chat.transcript.ask(text)",
                "echo " + example.markdown,
            )
            page.wait_for_selector(DONE + ":last-of-type", timeout=20_000)
            page.wait_for_function(
                "() => !document.querySelector('[data-inkstream]').chat.transcript.streaming"
            )
            got = last_answer_content(page)
            assert got == expected_content(example.markdown), f"spec example {example.number}"


def test_screen_readers_hear_blocks_once_and_the_end_once(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    text = "First block.\n\nSecond block.\n\nThird block."
    upstream.add("m", paced(text, per_second=60, size=2))
    page.goto(bridge.http)
    ask(page, "go")
    page.wait_for_selector(DONE)
    lines = page.locator("#announcer p").all_inner_texts()
    assert lines == [
        "The assistant is answering.",
        "First block.",
        "Second block.",
        "Third block.",
        "Answer complete.",
    ]


def test_reduced_motion_is_honoured(context: BrowserContext, bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", paced(PROSE, per_second=40))
    page = context.new_page()
    page.emulate_media(reduced_motion="reduce")
    page.goto(bridge.http)
    ask(page, "go")
    expect(page.locator(ASSISTANT).last.locator('[data-part="content"] p').first).to_be_visible()
    expect(page.locator(ASSISTANT).last.locator(".typing")).to_be_visible()
    animation = page.evaluate(
        """() => getComputedStyle(document.querySelector('article[data-role="assistant"] .typing span')).animationName"""
    )
    assert animation == "none"
