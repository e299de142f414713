"""Tool calls on the page: a call appears with its first fragment and its arguments grow while
they stream, two calls run at once, results and the answer follow in order, and a reload shows
the same steps."""

from __future__ import annotations

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.support.server import serve
from tests.support.upstream import (
    DONE,
    FakeUpstream,
    Scenario,
    Send,
    Sleep,
    chunk,
    sse,
    stream_text,
    tool_fragment,
)

CALL = '[data-part="tool-call"]'


def test_calls_stream_run_side_by_side_and_come_back_after_a_reload(
    page: Page, upstream: FakeUpstream, artifacts: Path
) -> None:
    alpha = json.dumps({"text": "alpha", "seconds": 1.5})
    beta = json.dumps({"text": "beta", "seconds": 1.5})
    upstream.add(
        "m",
        [
            Scenario(
                steps=[
                    Send(sse(chunk("", role="assistant"))),
                    tool_fragment(0, "", id="call_a", name="slow_echo"),
                    tool_fragment(0, alpha[:12]),
                    Sleep(1.0),
                    tool_fragment(1, "", id="call_b", name="slow_echo"),
                    tool_fragment(1, beta[:12]),
                    Sleep(1.0),
                    tool_fragment(0, alpha[12:]),
                    tool_fragment(1, beta[12:]),
                    Send(sse(chunk(finish_reason="tool_calls"))),
                    Send(DONE),
                ]
            ),
            Scenario(steps=stream_text("Got **alpha** and beta.")),
        ],
    )
    with serve(openai_base_url=upstream.base_url, python_tools=("tests.support.tools:slow_echo",)) as running:
        page.goto(running.http)
        expect(page.locator("#connection")).to_have_attribute("data-state", "open")
        # The page says which tools are on: the built-ins, then the deployer's.
        expect(page.locator('[data-ink="tools"]')).to_have_text(
            "Tools: calculator, current_time, convert_time, search_docs, slow_echo"
        )
        page.get_by_role("textbox", name="Message").fill("echo both")
        page.keyboard.press("Enter")
        answer = page.locator("article.assistant").last
        first = answer.locator(CALL).first
        # Shown with its first fragment, arguments partially parsed, before the call is complete.
        expect(first).to_have_attribute("data-tool", "slow_echo")
        expect(first).to_have_attribute("data-state", "streaming")
        expect(first.locator('[data-part="tool-args"]')).to_have_text("text: al")
        # Both complete in one read, and run at the same time.
        expect(answer.locator(f'{CALL}[data-state="running"]')).to_have_count(2, timeout=5_000)
        expect(answer.locator(f'{CALL}[data-state="done"]')).to_have_count(2, timeout=10_000)
        expect(answer.locator('[data-part="tool-result"]')).to_have_text(["alpha", "beta"])
        expect(answer.locator('[data-part="content"] strong')).to_have_text("alpha")
        expect(answer).to_have_attribute("data-state", "done")
        # The calls are above the answer's text, in call order.
        order = answer.evaluate(
            """a => [...a.querySelectorAll('[data-part="tool-call"], [data-part="content"]')]
                   .map(e => e.dataset.part === 'content' ? 'content' : e.dataset.tool)"""
        )
        assert order == ["slow_echo", "slow_echo", "content"]
        page.screenshot(path=artifacts / "tool-calls.png")
        before = answer.locator(CALL).evaluate_all("els => els.map(e => e.innerText)")

        page.reload()
        answer = page.locator("article.assistant").last
        expect(answer.locator(f'{CALL}[data-state="done"]')).to_have_count(2)
        expect(answer.locator('[data-part="tool-result"]')).to_have_text(["alpha", "beta"])
        expect(answer.locator('[data-part="content"] strong')).to_have_text("alpha")
        assert answer.locator(CALL).evaluate_all("els => els.map(e => e.innerText)") == before


def test_reasoning_streams_into_thinking_and_collapses_once_the_answer_starts(
    page: Page, upstream: FakeUpstream
) -> None:
    thoughts = ["The user ", "wants a ", "short answer."]
    upstream.add(
        "m",
        Scenario(
            steps=[
                Send(sse(chunk("", role="assistant"))),
                *(
                    step
                    for piece in thoughts
                    for step in (Send(sse(chunk(delta_extra={"reasoning_content": piece}))), Sleep(0.4))
                ),
                Send(sse(chunk("Here it is."))),
                Send(sse(chunk(finish_reason="stop"))),
                Send(DONE),
            ]
        ),
    )
    with serve(openai_base_url=upstream.base_url) as running:
        page.goto(running.http)
        expect(page.locator("#connection")).to_have_attribute("data-state", "open")
        page.get_by_role("textbox", name="Message").fill("think first")
        page.keyboard.press("Enter")
        answer = page.locator("article.assistant").last
        thinking = answer.locator('[data-part="reasoning"]')
        # Open, growing, while the model thinks.
        expect(thinking).to_have_attribute("data-state", "thinking")
        expect(thinking).to_have_js_property("open", True)
        expect(thinking.locator('[data-part="reasoning-text"]')).to_contain_text("wants a")
        expect(answer.locator('[data-part="content"]')).to_have_text("")
        # Collapsed once the answer begins, with how long the thinking took.
        expect(answer.locator('[data-part="content"]')).to_have_text("Here it is.")
        expect(thinking).to_have_js_property("open", False)
        expect(thinking.locator('[data-part="reasoning-label"]')).to_have_text(
            re.compile(r"^Thought for \d\.\d s$")
        )
        label = thinking.locator('[data-part="reasoning-label"]').inner_text()
        # The thinking is not the answer's text (the content above holds the answer alone).
        expect(answer).to_have_attribute("data-state", "done")

        page.reload()
        answer = page.locator("article.assistant").last
        thinking = answer.locator('[data-part="reasoning"]')
        expect(thinking.locator('[data-part="reasoning-label"]')).to_have_text(label)
        expect(thinking).to_have_js_property("open", False)
        expect(thinking.locator('[data-part="reasoning-text"]')).to_have_text("".join(thoughts))
        expect(answer.locator('[data-part="content"]')).to_have_text("Here it is.")
