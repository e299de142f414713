"""Long answers in chunks (content-visibility: auto), in Chromium: what is off screen is skipped
by layout and paint, yet stays whole, findable, selectable, copyable, accessible and followed by
the scroll latch, streamed or reloaded from storage."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from server.demo.scripts import Answers
from server.demo.tokens import strip_marks
from tests.browser.helpers import ASSISTANT, DONE, ask, expected_content, last_answer_content
from tests.browser.test_conversations import conversation_id, stored_final, wait_for_url
from tests.support.server import Process, serve_process

HUGE = strip_marks(Answers.load().texts["huge"])  # 224 KB: ~70 chunks
FENCES = [m.group(1) for m in re.finditer(r"^```\w*\n(.*?\n)```$", HUGE, re.MULTILINE | re.DOTALL)]
CHAT = "document.querySelector('[data-inkstream]').chat"
CONTENT = f'{ASSISTANT} [data-part="content"]'
BOX = "document.getElementById('transcript')"
AT_END = f"() => {{ const b = {BOX}; return b.scrollHeight - b.scrollTop - b.clientHeight < 4; }}"
# Each chunk: is it a chunk wrapper, how many blocks it holds, are they rendered (not skipped).
CHUNKS = f"""() => [...document.querySelector('{CONTENT}').children].map((k) => [
  k.matches('div.chunk[data-chrome="wrap"]'), k.childElementCount,
  k.firstElementChild?.checkVisibility({{contentVisibilityAuto: true}}) ?? false])"""
# Whether an element is rendered and inside the transcript's visible box.
ON_SCREEN = f"""(el) => {{ const r = el.getBoundingClientRect(), b = {BOX}.getBoundingClientRect();
  return el.checkVisibility({{contentVisibilityAuto: true}}) && r.height > 0 && r.bottom > b.top && r.top < b.bottom; }}"""
CLIPBOARD = "() => navigator.clipboard.readText()"


@pytest.fixture(scope="module")
def served() -> Iterator[Process]:
    # Its own process, niced, as in test_render's 200 KB test: the server must not take the
    # browser's share of two cores. The default demo model is paced; inkstream-demo-fast is not.
    with serve_process(
        nice=10, INKSTREAM_DEMO_TTFT_MS="0", INKSTREAM_DEMO_TOKENS_PER_SECOND="250"
    ) as running:
        yield running


def huge_answer(page: Page, served: Process) -> None:
    page.goto(served.http)
    page.get_by_label("Model").select_option("inkstream-demo-fast")
    ask(page, "huge")
    page.wait_for_selector(DONE, timeout=120_000)


def chunks(page: Page) -> list[tuple[bool, int, bool]]:
    return [(bool(a), int(b), bool(c)) for a, b, c in page.evaluate(CHUNKS)]


def test_a_long_answer_is_in_chunks_mostly_skipped_and_whole(page: Page, served: Process) -> None:
    huge_answer(page, served)
    states = chunks(page)
    assert len(states) >= 20
    assert all(is_chunk and blocks >= 1 for is_chunk, blocks, _ in states)  # every block is in one
    assert sum(1 for *_, rendered in states if not rendered) > len(states) * 3 // 4
    # Unwrapped, the chunks hold exactly the one-shot render: every block once, in order.
    assert last_answer_content(page) == expected_content(HUGE)
    # The latch followed the answer to its end, and the end is what is shown.
    assert page.evaluate(f"{CHAT}.scroller.following") is True
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(AT_END, timeout=5_000)
    top, height, client = page.evaluate(f"[{BOX}.scrollTop, {BOX}.scrollHeight, {BOX}.clientHeight]")
    assert height - top - client < 4, f"following, yet showing {top}-{top + client} px of {height}"
    assert chunks(page)[-1][2] is True


FOUND = "The refunds of one payment never add up to more than it captured"


def test_find_reaches_an_off_screen_chunk_and_scrolling_renders_it(page: Page, served: Process) -> None:
    huge_answer(page, served)
    item = page.locator(f"{CONTENT} li", has_text=FOUND)
    # The browser's find bar forces skipped content to be laid out before it searches, as does
    # execCommand('FindString') (Chromium's FindTaskController, EditorCommand). window.find()
    # does not, and misses chunks never rendered: it is not what a reader uses.
    found = item.evaluate(
        """(li, phrase) => {
          const chunk = li.closest('.chunk'), all = [...chunk.parentElement.children];
          const skipped = !li.checkVisibility({contentVisibilityAuto: true});
          getSelection().removeAllRanges();
          const ok = document.execCommand('FindString', false, phrase);
          const s = getSelection();
          return {index: all.indexOf(chunk), count: all.length, skipped, ok, text: s.toString(),
                  inside: li.contains(s.anchorNode) && li.contains(s.focusNode)};
        }""",
        FOUND,
    )
    assert found["skipped"] is True
    assert 0 < found["index"] < found["count"] - 3  # far from both ends: off screen
    assert (found["ok"], found["text"], found["inside"]) == (True, FOUND, True)
    # The selection kept it rendered; without it, it is skipped again, until scrolled to.
    page.evaluate("getSelection().removeAllRanges()")
    page.wait_for_function(
        "(li) => !li.checkVisibility({contentVisibilityAuto: true})", arg=item.element_handle()
    )
    item.evaluate("(li) => li.scrollIntoView({block: 'center'})")
    page.wait_for_function(ON_SCREEN, arg=item.element_handle())
    expect(item).to_be_in_viewport()


def test_a_selection_across_chunks_reads_and_copies_in_order(
    context: BrowserContext, page: Page, served: Process
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    huge_answer(page, served)
    picked = page.evaluate(
        f"""() => {{
          const all = [...document.querySelector('{CONTENT}').children];
          const h2 = (title) => [...document.querySelectorAll('{CONTENT} h2')].find((h) => h.textContent === title);
          const first = h2('10. Order lines'), middle = h2('11. Payments'), last = h2('12. Refunds');
          const prose = [...middle.closest('.chunk').querySelectorAll('p')].find((p) => p.textContent.includes('payments'));
          const ends = [first, middle, last].map((h) => all.indexOf(h.closest('.chunk')));
          const skipped = [first, prose, last].every((n) => !n.checkVisibility({{contentVisibilityAuto: true}}));
          const range = document.createRange();
          range.setStart(first.firstChild, 0);
          range.setEnd(last.firstChild, last.firstChild.length);
          getSelection().removeAllRanges();
          getSelection().addRange(range);
          return {{ends, skipped, prose: prose.textContent.slice(0, 60), text: getSelection().toString()}};
        }}"""
    )
    first, middle, last = picked["ends"]
    assert first < middle < last  # three different chunks
    assert picked["skipped"] is True
    text: str = picked["text"]
    assert text.startswith("10. Order lines")
    assert text.endswith("12. Refunds")
    assert 0 < text.index("11. Payments") < text.index(picked["prose"]) < len(text) - len("12. Refunds")
    page.keyboard.press("Control+c")
    assert page.evaluate(CLIPBOARD) == text


def test_copy_gives_the_markdown_and_an_off_screen_code_block_its_code(
    context: BrowserContext, page: Page, served: Process
) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    huge_answer(page, served)
    assert len(FENCES) == page.locator(f"{CONTENT} .codeblock").count() >= 40
    page.get_by_role("button", name="Copy answer 1").click()
    expect(page.locator("#announcer")).to_contain_text("Answer copied as markdown.")
    assert page.evaluate(CLIPBOARD) == HUGE
    button = page.locator(f"{CONTENT} .codeblock [data-copy]").nth(39)
    assert button.evaluate("(b) => b.checkVisibility({contentVisibilityAuto: true})") is False
    button.click()  # as a reader would: scrolled to first
    expect(button).to_have_text("Copied")
    assert page.evaluate(CLIPBOARD) == FENCES[39]


# The block a reader looks at: the first rendered one in the upper half of the transcript.
MARK = f"""() => {{ const b = {BOX}, box = b.getBoundingClientRect();
  window.__block ??= [...document.querySelectorAll('{CONTENT} > .chunk > *')].find((n) => {{
    const r = n.getBoundingClientRect();
    return n.checkVisibility({{contentVisibilityAuto: true}}) && r.top >= box.top && r.top < box.top + box.height / 2; }});
  return {{scrollTop: b.scrollTop, y: window.__block.getBoundingClientRect().top,
          chunks: document.querySelectorAll('{CONTENT} > .chunk').length}}; }}"""
SETTLED = f"""() => new Promise((done) => {{ let last = -1, same = 0;
  const tick = () => {{ const t = {BOX}.scrollTop; same = t === last ? same + 1 : 0; last = t;
    if (same >= 3) done(); else requestAnimationFrame(tick); }};
  requestAnimationFrame(tick); }})"""


def test_the_scroll_latch_follows_stays_put_and_comes_back_over_chunks(page: Page, served: Process) -> None:
    page.goto(served.http)
    ask(page, "long")  # the default demo model: paced, ~20 s
    answer = page.locator(ASSISTANT).last
    page.wait_for_function(
        f"() => document.querySelectorAll('{CONTENT} > .chunk').length >= 3 && {BOX}.scrollHeight > 3 * {BOX}.clientHeight"
    )
    page.wait_for_function(AT_END)  # following
    page.locator("#transcript").hover()
    page.mouse.wheel(0, -900)
    page.wait_for_function(f"() => !{CHAT}.scroller.following")
    page.evaluate(SETTLED)
    before = page.evaluate(MARK)
    pill = page.get_by_role("button", name="New content")
    expect(pill).to_be_visible()
    # Two more chunks arrive below, off screen: the reader's view does not move.
    page.wait_for_function(
        f"(n) => document.querySelectorAll('{CONTENT} > .chunk').length >= n + 2", arg=before["chunks"]
    )
    after = page.evaluate(MARK)
    assert abs(after["scrollTop"] - before["scrollTop"]) < 2
    assert abs(after["y"] - before["y"]) < 2
    page.wait_for_function(ON_SCREEN, arg=page.evaluate_handle("window.__block"))
    expect(answer).to_have_attribute("aria-busy", "true")
    pill.click()
    expect(pill).to_be_hidden()
    page.wait_for_function(AT_END)
    assert page.evaluate(f"{CHAT}.scroller.following") is True
    # And it follows again as the answer grows.
    height = page.evaluate(f"{BOX}.scrollHeight")
    page.wait_for_function(f"(h) => {BOX}.scrollHeight > h + 200 && ({AT_END})()", arg=height)
    page.get_by_role("button", name="Stop").click()
    expect(answer).to_have_attribute("data-state", "stopped")


def test_axe_finds_nothing_serious_with_a_long_chunked_answer(page: Page, served: Process) -> None:
    huge_answer(page, served)
    skipped = [i for i, (_, _, rendered) in enumerate(chunks(page)) if not rendered]
    assert len(skipped) > 10
    axe = Axe()
    # Every rule but contrast, over the whole page, skipped chunks included.
    everything: Any = axe.run(
        page, options={"rules": {"color-contrast": {"enabled": False}}, "resultTypes": ["violations"]}
    )
    # Contrast on what is rendered: axe cannot measure it in skipped content, whose boxes are
    # not painted (dequelabs/axe-core#2768), and reports backgrounds that are not there.
    excluded = [[f"{CONTENT} > .chunk:nth-child({i + 1})"] for i in skipped]
    contrast: Any = axe.run(
        page,
        context={"exclude": excluded},
        options={"runOnly": ["color-contrast"], "resultTypes": ["violations"]},
    )
    found = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
        for results in (everything, contrast)
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert found == []


def test_a_reload_shows_the_stored_answer_in_chunks_and_the_same(page: Page, served: Process) -> None:
    huge_answer(page, served)
    wait_for_url(page, r"/c/c_[\w-]+$")
    message = stored_final(page, served.http, conversation_id(page))["messages"][-1]
    assert message["state"] == "done"
    page.reload()  # /c/<id>: the stored message, from the boot JSON
    expect(page.locator(ASSISTANT)).to_have_count(1)
    expect(page.locator(ASSISTANT)).to_have_attribute("data-state", "done")
    states = chunks(page)
    assert len(states) >= 20
    assert all(is_chunk and blocks >= 1 for is_chunk, blocks, _ in states)
    assert sum(1 for *_, rendered in states if not rendered) > len(states) * 3 // 4
    assert last_answer_content(page) == expected_content(HUGE)
    assert page.evaluate(f"{CHAT}.transcript.entries.at(-1).message.text") == HUGE
