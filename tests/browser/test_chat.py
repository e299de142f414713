"""The chat page in Chromium: progressive display, Stop, errors, origin, keyboard."""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
from collections.abc import Iterator

from playwright.sync_api import Page, expect

from tests.browser.helpers import ASSISTANT, DONE, ask, expected_content, last_answer_content, record_states
from tests.support.server import Running
from tests.support.upstream import DONE as SSE_DONE
from tests.support.upstream import FakeUpstream, Paced, Scenario, Send, Stall, chunk, sse

ANSWER = (
    "# Progress report\n\nThe **bridge** streams `tokens` as they come.\n\n"
    "1. First item with *emphasis*\n2. Second item\n   - nested one\n   - nested two\n\n"
    "| Stage | Time |\n| --- | ---: |\n| connect | 3 ms |\n| render | 1 ms |\n\n"
    "```python\ndef hello(name):\n    return f'hi {name}'\n```\n\nThat is all.\n"
)


def paced(text: str, per_second: float = 60.0, size: int = 3) -> Scenario:
    pieces = [text[i : i + size] for i in range(0, len(text), size)]
    events = [sse(chunk(p)) for p in pieces]
    tail = [Send(sse(chunk(finish_reason="stop"))), Send(SSE_DONE)]
    return Scenario(steps=[Send(sse(chunk("", role="assistant"))), Paced(events, per_second), *tail])


def test_answer_streams_progressively_and_ends_rendered(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("m", paced(ANSWER))
    page.goto(bridge.http)
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    record_states(page)
    ask(page, "report please")
    answer = page.locator(ASSISTANT).last
    expect(answer).to_have_attribute("aria-busy", "true")
    # The first text shows while the upstream is still writing.
    expect(answer.locator('[data-part="content"]')).not_to_have_text("")
    total = len(ANSWER) // 3 + 4
    assert len(upstream.writes("m")) < total / 2
    page.wait_for_selector(DONE, timeout=20_000)
    expect(answer).to_have_attribute("aria-busy", "false")
    expect(answer).to_have_attribute("data-state", "done")
    states = page.evaluate("window.__states")
    busy = [s["text"] for s in states if s["busy"] == "true"]
    # Many intermediate states, not one big paint at the end. How many depends on the machine:
    # the page takes fewer, larger frames when its frames are slow (static/patch.js).
    assert len(busy) > 10
    lengths = [len(t) for t in busy]
    assert lengths[-1] > lengths[len(lengths) // 4] > 0  # it grew
    assert last_answer_content(page) == expected_content(ANSWER)
    metrics = answer.locator('[data-part="metrics"]')
    expect(metrics).to_contain_text("TTFT")
    expect(metrics).to_contain_text("tok/s")
    expect(metrics).to_contain_text("render lag")


def test_stop_freezes_the_text_and_closes_the_upstream(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("m", paced("word " * 2000, per_second=40, size=5))
    page.goto(bridge.http)
    ask(page, "go")
    answer = page.locator(ASSISTANT).last
    expect(answer.locator('[data-part="content"]')).to_contain_text("word word word")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible()
    stop.click()
    upstream.wait_for_disconnect("m", timeout=5)
    expect(answer).to_have_attribute("data-state", "stopped")
    expect(answer).to_have_attribute("aria-busy", "false")
    text = answer.locator('[data-part="content"]').inner_text()
    page.evaluate(
        """() => { window.__mutations = 0;
          new MutationObserver((m) => { window.__mutations += m.length; })
            .observe(document.querySelector('article[data-role="assistant"] [data-part="content"]'),
                     {subtree: true, childList: true, characterData: true}); }"""
    )
    page.wait_for_timeout(300)  # proving a negative: nothing may arrive in the meantime
    assert page.evaluate("window.__mutations") == 0
    assert answer.locator('[data-part="content"]').inner_text() == text
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_escape_stops_too(page: Page, bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", paced("slow " * 1000, per_second=30, size=5))
    page.goto(bridge.http)
    ask(page, "go")
    expect(page.locator(ASSISTANT).last.locator('[data-part="content"]')).to_contain_text("slow slow")
    page.keyboard.press("Escape")
    upstream.wait_for_disconnect("m", timeout=5)
    expect(page.locator(ASSISTANT).last).to_have_attribute("data-state", "stopped")


def test_an_upstream_error_shows_an_alert_and_keeps_the_partial_text(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    error = {"error": {"message": "The model is overloaded", "type": "server_error", "code": "overloaded"}}
    steps = [
        Send(sse(chunk("", role="assistant"))),
        Send(sse(chunk("Partial answer so far"))),
        Send(sse(error)),
    ]
    upstream.add("m", Scenario(steps=steps))
    page.goto(bridge.http)
    ask(page, "go")
    answer = page.locator(ASSISTANT).last
    expect(answer).to_have_attribute("data-state", "error")
    alert = answer.get_by_role("alert")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text("The model is overloaded")
    expect(answer.locator('[data-part="content"]')).to_have_text("Partial answer so far")
    retry = answer.get_by_role("button", name="Retry")
    expect(retry).to_be_visible()
    retry.click()
    expect(answer).to_have_attribute("data-state", "error")
    assert sum(1 for r in upstream.requests() if r.json and r.json.get("model") == "m") == 2


def test_an_error_status_shows_code_and_message(page: Page, bridge: Running, upstream: FakeUpstream) -> None:
    from tests.support.upstream import error_json

    upstream.add("m", error_json(429, "Slow down", code="rate_limit_exceeded", headers={"Retry-After": "7"}))
    page.goto(bridge.http)
    ask(page, "go")
    alert = page.locator(ASSISTANT).last.get_by_role("alert")
    expect(alert).to_contain_text("429")
    expect(alert).to_contain_text("Slow down")
    expect(alert).to_contain_text("Retry after 7")


@contextlib.contextmanager
def another_site() -> Iterator[str]:
    """A real site on another port: another origin, on this machine."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            # No favicon request: one still in flight when the site shuts down would fail loudly.
            body = (
                b'<!doctype html><title>elsewhere</title><link rel="icon" href="data:,"><p>another site</p>'
            )
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_address[1]}/"
    finally:
        site.shutdown()
        site.server_close()
        thread.join()


def test_a_foreign_origin_socket_is_refused(page: Page, bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", paced("ok", per_second=100))
    with another_site() as elsewhere:
        page.goto(elsewhere)
        outcome = page.evaluate(
            """(url) => new Promise((resolve) => {
              const ws = new WebSocket(url);
              ws.onopen = () => resolve('open');
              ws.onclose = (e) => resolve('closed ' + e.code);
              setTimeout(() => resolve('timeout'), 5000);
            })""",
            bridge.ws,
        )
        # Leave the other site before it shuts down, so nothing of it is still loading.
        page.goto(bridge.http)
    assert outcome == "closed 1006"
    assert any("refused a WebSocket from origin" in line for line in bridge.log), bridge.log
    # The page's own origin is let in.
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")


def test_keyboard_enter_sends_and_shift_enter_breaks_the_line(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("m", paced("ok", per_second=100))
    page.goto(bridge.http)
    box = page.get_by_label("Message")
    box.fill("line one")
    box.press("Shift+Enter")
    box.type("line two")
    assert box.input_value() == "line one\nline two"
    box.press("Enter")
    expect(page.locator('article[data-role="user"] [data-part="content"]').last).to_have_text(
        "line one\nline two"
    )
    assert box.input_value() == ""
    page.wait_for_selector(DONE)


def test_the_model_picker_lists_the_upstreams_models(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("alpha", paced("from alpha", per_second=200))
    upstream.add("beta", paced("from beta", per_second=200))
    page.goto(bridge.http)
    picker = page.get_by_label("Model")
    expect(picker.locator("option")).to_have_count(2)
    picker.select_option("beta")
    ask(page, "hi")
    page.wait_for_selector(DONE)
    expect(page.locator(ASSISTANT).last.locator('[data-part="content"]')).to_have_text("from beta")


def test_the_demo_model_works_without_a_key(page: Page, demo: Running) -> None:
    page.goto(demo.http)
    expect(page.get_by_text("demo model", exact=False).first).to_be_visible()
    ask(page, "help")
    page.wait_for_selector(DONE, timeout=30_000)
    content = page.locator(ASSISTANT).last.locator('[data-part="content"]')
    expect(content.locator("table").first).to_be_visible()
    assert re.search(r"OPENAI_BASE_URL", content.inner_text())


def test_a_stalled_turn_keeps_streaming_state_until_the_stream_ends(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add(
        "m", Scenario(steps=[Send(sse(chunk("", role="assistant"))), Send(sse(chunk("waiting"))), Stall()])
    )
    page.goto(bridge.http)
    ask(page, "go")
    answer = page.locator(ASSISTANT).last
    expect(answer.locator('[data-part="content"]')).to_have_text("waiting")
    expect(answer).to_have_attribute("aria-busy", "true")
    page.get_by_role("button", name="Stop").click()
    expect(answer).to_have_attribute("data-state", "stopped")


def test_a_dropped_socket_reconnects_and_loses_nothing(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("m", paced(ANSWER, per_second=40))
    page.goto(bridge.http)
    ask(page, "go")
    answer = page.locator(ASSISTANT).last
    expect(answer.locator('[data-part="content"] h1')).to_be_visible()
    page.evaluate(
        "document.querySelector('[data-inkstream]').chat.socket.ws.close()"
    )  # the network blinks mid-answer
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    page.wait_for_selector(DONE, timeout=30_000)
    expect(answer).to_have_attribute("data-state", "done")
    assert last_answer_content(page) == expected_content(ANSWER)
    assert (
        page.evaluate(
            "document.querySelector('[data-inkstream]').chat.transcript.entries.at(-1).message.text"
        )
        == ANSWER
    )


def test_an_answer_the_server_no_longer_has_ends_with_retry(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("m", paced("word " * 500, per_second=20, size=5))
    page.goto(bridge.http)
    ask(page, "go")
    answer = page.locator(ASSISTANT).last
    expect(answer.locator('[data-part="content"]')).to_contain_text("word word")
    # As after a server restart: the turn id the page holds means nothing to the server.
    page.evaluate(
        """() => { const m = document.querySelector('[data-inkstream]').chat.transcript.entries.at(-1).message;
                  m.turn = 't_gone'; document.querySelector('[data-inkstream]').chat.socket.ws.close(); }"""
    )
    expect(answer).to_have_attribute("data-state", "error", timeout=10_000)
    expect(answer.get_by_role("alert")).to_contain_text("no longer on the server")
    expect(answer.get_by_role("button", name="Retry")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
