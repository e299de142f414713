"""Conversations that are never lost, in Chromium: a reload or a flaky socket mid-answer ends
with exactly the stored text, another owner sees nothing, other tabs follow live, the sidebar
creates, renames and deletes, and a phone-sized screen never scrolls sideways."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, WebSocketRoute, expect

from tests.browser.helpers import ASSISTANT, CONTENT_JS, DONE, ask, expected_content, last_answer_content
from tests.support.dom import canonical, parse, serialize, strip_chrome
from tests.support.server import Running, serve

CHAT = "document.querySelector('[data-inkstream]').chat"
LAST = f"{CHAT}.transcript.entries.at(-1).message"


@pytest.fixture
def slow_demo() -> Iterator[Running]:
    """The demo model at a pace where its `long` answer (~5,700 chunks) lasts ~20 s."""
    with serve(demo_ttft_ms=50, demo_tokens_per_second=280) as running:
        yield running


def conversation_id(page: Page) -> str:
    match = re.search(r"/c/([^/.?#]+)$", page.url)
    assert match, page.url
    return match.group(1)


def stored(context: BrowserContext, http: str, cid: str) -> dict[str, Any]:
    response = context.request.get(f"{http}/api/conversations/{cid}")
    assert response.status == 200, response.text()
    data: dict[str, Any] = response.json()
    return data


def stored_final(page: Page, http: str, cid: str, timeout: float = 15.0) -> dict[str, Any]:
    """The stored conversation once its last answer is written as ended (the saver's last
    write follows the turn's end by a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        data = stored(page.context, http, cid)
        if data["messages"] and data["messages"][-1]["state"] != "streaming":
            return data
        assert time.monotonic() < deadline, data["messages"][-1]
        page.wait_for_timeout(50)


def wait_for_url(page: Page, pattern: str) -> None:
    page.wait_for_url(re.compile(pattern))


def test_a_reload_mid_stream_rebuilds_the_answer_from_the_start(page: Page, slow_demo: Running) -> None:
    page.goto(slow_demo.http)
    ask(page, "long")
    wait_for_url(page, r"/c/c_[\w-]+$")  # the start named the conversation
    cid = conversation_id(page)
    answer = page.locator(ASSISTANT).last
    expect(answer.locator('[data-part="content"] table').first).to_be_visible(timeout=20_000)
    page.reload()
    boot = json.loads(page.locator("#inkstream-boot").text_content() or "null")
    assert boot["conversation"]["id"] == cid
    assert [m["role"] for m in boot["messages"]] == ["user", "assistant"]
    assert boot["messages"][1]["state"] == "streaming"  # really reloaded mid-answer
    # The stored part is on screen at once; then the replay rebuilds the answer.
    expect(page.locator('article[data-role="user"] [data-part="content"]')).to_have_text("long")
    expect(page.locator(ASSISTANT)).to_have_count(1)
    expect(page.locator(ASSISTANT)).to_have_attribute("aria-busy", "true")
    page.wait_for_selector(DONE, timeout=60_000)
    expect(page.locator(ASSISTANT)).to_have_attribute("data-state", "done")
    final = stored_final(page, slow_demo.http, cid)
    message = final["messages"][-1]
    assert page.evaluate(f"{LAST}.text") == message["text"]
    # Every block once, in order: the one-shot render of the stored text.
    assert last_answer_content(page) == expected_content(message["text"], doc_id=message["turn"])
    expect(page.locator(ASSISTANT).locator('[data-part="metrics"]')).to_contain_text("TTFT")


def test_twenty_socket_cuts_during_one_answer_lose_and_double_nothing(page: Page, slow_demo: Running) -> None:
    page.goto(slow_demo.http)
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    ask(page, "long")
    wait_for_url(page, r"/c/c_[\w-]+$")
    cid = conversation_id(page)
    for cut in range(20):
        # Each cut comes after the page is connected again and has taken in new frames.
        seen = page.evaluate(f"{LAST}.lastSeq")
        page.wait_for_function(
            f"""(seen) => {CHAT}.socket.open && {LAST}.lastSeq > seen""", arg=seen, timeout=20_000
        )
        assert page.evaluate(f"{LAST}.streaming"), f"the answer ended before cut {cut + 1}"
        page.evaluate(f"{CHAT}.socket.ws.close()")
    page.wait_for_selector(DONE, timeout=60_000)
    expect(page.locator(ASSISTANT)).to_have_attribute("data-state", "done")
    message = stored_final(page, slow_demo.http, cid)["messages"][-1]
    assert page.evaluate(f"{LAST}.text") == message["text"]
    assert last_answer_content(page) == expected_content(message["text"], doc_id=message["turn"])


def test_a_turn_gone_from_memory_is_shown_as_stored(page: Page) -> None:
    # No retention: a finished turn leaves the server's memory at once, so the page's
    # resubscribe after the end is answered with the stored message.
    with serve(demo_ttft_ms=50, demo_tokens_per_second=400, turn_retention=0) as running:
        page.goto(running.http)
        expect(page.locator("#connection")).to_have_attribute("data-state", "open")
        ask(page, "tour")
        wait_for_url(page, r"/c/c_[\w-]+$")
        cid = conversation_id(page)
        answer = page.locator(ASSISTANT).last
        expect(answer.locator('[data-part="content"] h2').first).to_be_visible()
        # The network goes away (reconnects held back) until the answer has ended on the server.
        page.evaluate(
            f"""() => {{ const s = {CHAT}.socket; window.__connect = s.connect.bind(s);
                       s.connect = () => {{ window.__due = true; }}; s.ws.close(); }}"""
        )
        page.wait_for_function("() => window.__due === true")
        message = stored_final(page, running.http, cid)["messages"][-1]
        assert message["state"] == "done"
        expect(answer).to_have_attribute("aria-busy", "true")
        page.evaluate(f"() => {{ {CHAT}.socket.connect = window.__connect; window.__connect(); }}")
        expect(answer).to_have_attribute("data-state", "done")
        assert page.evaluate(f"{LAST}.text") == message["text"]
        # The stored message replaced the answer: its HTML as the server rendered it, whole.
        assert last_answer_content(page) == canonical(serialize(strip_chrome(parse(message["html"]))))
        expect(answer.get_by_role("button", name="Retry answer 1")).to_be_hidden()
        expect(page.get_by_role("button", name="Send")).to_be_visible()


OPENED = [f"Answer {n}: *number* {n}.\n\n```python\nprint({n})\n```" for n in range(5)]


def five_answers(page: Page, demo: Running) -> str:
    """A conversation of five answers (ten messages: more than the page carries rendered)."""
    page.goto(demo.http)
    page.get_by_label("Model").select_option("inkstream-demo-fast")
    for n, text in enumerate(OPENED):
        ask(page, f"echo {text}")
        expect(page.locator(DONE)).to_have_count(n + 1)
    wait_for_url(page, r"/c/c_[\w-]+$")
    cid = conversation_id(page)
    assert stored_final(page, demo.http, cid)["messages"][-1]["state"] == "done"
    return cid


def test_an_opened_conversation_brings_its_older_answers_after_the_newest(page: Page, demo: Running) -> None:
    cid = five_answers(page, demo)
    page.goto(f"{demo.http}/c/{cid}")
    boot = page.evaluate("JSON.parse(document.getElementById('inkstream-boot').textContent)")
    answers = [m for m in boot["messages"] if m["role"] == "assistant"]
    # The page carries the newest six messages rendered; the older answers come from the API.
    assert [("html" in m, m.get("html_later", False)) for m in answers] == [(False, True)] * 2 + [
        (True, False)
    ] * 3
    articles = page.locator(ASSISTANT)
    expect(articles).to_have_count(5)
    for index, text in enumerate(OPENED):
        article = articles.nth(index)
        expect(article).to_have_attribute("aria-busy", "false")
        expect(article).to_have_attribute("data-state", "done")
        assert canonical(article.evaluate(CONTENT_JS)) == expected_content(text)
        copy = f"Copy code block 1, python, answer {index + 1}"
        expect(article.get_by_role("button", name=copy)).to_be_visible()
        # The text came with it: Copy gives the answer's markdown.
        assert page.evaluate(f"{CHAT}.transcript.entries[{2 * index + 1}].message.text") == text
    expect(page.locator(f'{ASSISTANT} [data-part="error"]:visible')).to_have_count(0)


def test_older_answers_that_cannot_be_fetched_say_so(context: BrowserContext, demo: Running) -> None:
    # Not the `page` fixture: the browser logs the aborted request as a console error.
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    cid = five_answers(page, demo)
    page.route(f"**/api/conversations/{cid}", lambda route: route.abort())
    page.goto(f"{demo.http}/c/{cid}")
    articles = page.locator(ASSISTANT)
    expect(articles).to_have_count(5)
    for index in range(2):
        expect(articles.nth(index).locator('[data-part="error"]')).to_have_text(
            "This answer could not be loaded. Reload the page to see it."
        )
        expect(articles.nth(index)).to_have_attribute("aria-busy", "false")
    assert canonical(articles.nth(4).evaluate(CONTENT_JS)) == expected_content(OPENED[4])
    expect(articles.nth(4).locator('[data-part="error"]')).to_be_hidden()
    assert page.evaluate(f"{CHAT}.transcript.entries[9].message.text") == OPENED[4]
    assert errors == []


def test_another_owner_cannot_open_a_conversation(page: Page, browser: Browser, demo: Running) -> None:
    page.goto(demo.http)
    ask(page, "echo A secret about the **orchard**.")
    wait_for_url(page, r"/c/c_[\w-]+$")
    page.wait_for_selector(DONE)
    cid = conversation_id(page)
    for suffix in ("", ".md", ".json"):
        assert page.context.request.get(f"{demo.http}/c/{cid}{suffix}").status == 200
    stranger = browser.new_context(viewport={"width": 1100, "height": 900})  # no cookie: someone else
    try:
        other = stranger.new_page()
        response = other.goto(f"{demo.http}/c/{cid}")
        assert response is not None
        assert response.status == 404
        expect(other.get_by_role("heading", name="This conversation is not here.")).to_be_visible()
        assert "secret" not in other.content()
        assert other.locator("#inkstream-boot").count() == 0
        expect(other.locator("article")).to_have_count(0)
        for suffix in (".md", ".json"):
            leaked = stranger.request.get(f"{demo.http}/c/{cid}{suffix}")
            assert leaked.status == 404
            assert "secret" not in leaked.text()
        api = stranger.request.get(f"{demo.http}/api/conversations/{cid}")
        assert api.status == 404
        assert api.json()["error"]["code"] == "not_found"
        assert stranger.request.get(f"{demo.http}/api/conversations").json() == {"conversations": []}
        expect(other.get_by_role("navigation", name="Conversations").get_by_role("link")).to_have_count(0)
    finally:
        stranger.close()


WIDE = (
    "echo Here is a wide table and a long line.\n\n"
    + "| "
    + " | ".join(f"column{i}" for i in range(14))
    + " |\n|"
    + "---|" * 14
    + "\n| "
    + " | ".join(f"value-{i}-wide" for i in range(14))
    + " |\n\n```python\nprint('"
    + "x" * 300
    + "')\n```\n\nAnd that is all.\n"
)


def test_a_phone_screen_never_scrolls_sideways(browser: Browser, demo: Running) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 740}, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(demo.http)
        expect(page.locator("#connection")).to_have_attribute("data-state", "open")
        box = page.get_by_label("Message")
        box.fill(WIDE)
        page.get_by_role("button", name="Send").click()
        page.wait_for_selector(DONE)
        answer = page.locator(ASSISTANT).last
        expect(answer.locator("table")).to_be_visible()
        sizes = page.evaluate(
            """() => {
              const t = document.getElementById('transcript');
              const table = document.querySelector('article[data-role="assistant"] .table-scroll');
              const pre = document.querySelector('article[data-role="assistant"] .codeblock pre');
              return {
                page: [document.scrollingElement.scrollWidth, innerWidth],
                transcript: [t.scrollWidth, t.clientWidth],
                table: [table.scrollWidth, table.clientWidth, getComputedStyle(table).overflowX],
                pre: [pre.scrollWidth, pre.clientWidth, getComputedStyle(pre).overflowX],
              };
            }"""
        )
        assert sizes["page"][0] <= sizes["page"][1], sizes
        assert sizes["transcript"][0] <= sizes["transcript"][1], sizes
        # The wide things scroll inside their own boxes.
        assert sizes["table"][0] > sizes["table"][1], sizes
        assert sizes["table"][2] == "auto", sizes
        assert sizes["pre"][0] > sizes["pre"][1], sizes
        assert sizes["pre"][2] == "auto", sizes
        assert sizes["transcript"][1] >= 330, sizes  # the transcript has the whole width
        send = page.get_by_role("button", name="Send")
        expect(send).to_be_in_viewport(ratio=1)
        box_right = send.bounding_box()
        assert box_right is not None
        assert box_right["x"] + box_right["width"] <= 360
        # The sidebar is off-canvas behind its toggle.
        toggle = page.get_by_role("button", name="Conversations")
        sidebar = page.locator("#sidebar")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        assert toggle.get_attribute("aria-controls") == "sidebar"
        expect(sidebar).to_be_hidden()
        toggle.click()
        expect(toggle).to_have_attribute("aria-expanded", "true")
        expect(sidebar).to_be_visible()
        link = sidebar.get_by_role("link", name="echo Here is a wide table and a long line.")
        expect(link).to_be_in_viewport()
        expect(link).to_be_focused()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
        page.keyboard.press("Escape")
        expect(toggle).to_have_attribute("aria-expanded", "false")
        expect(sidebar).to_be_hidden()
        expect(toggle).to_be_focused()
        assert errors == []
    finally:
        context.close()


def test_the_sidebar_lists_renames_and_deletes(page: Page, demo: Running) -> None:
    page.goto(demo.http)
    nav = page.get_by_role("navigation", name="Conversations")
    expect(nav.get_by_text("No conversations yet.")).to_be_visible()
    ask(page, "echo First of all")
    wait_for_url(page, r"/c/c_[\w-]+$")
    first = conversation_id(page)
    page.wait_for_selector(DONE)
    first_link = nav.get_by_role("link", name="echo First of all")
    expect(first_link).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=1)).to_have_text("echo First of all")
    expect(page.get_by_role("link", name="Export Markdown")).to_have_attribute("href", f"/c/{first}.md")
    expect(page.get_by_role("link", name="Export JSON")).to_have_attribute("href", f"/c/{first}.json")

    # A new chat: the URL goes back to /, and its first message makes the next conversation,
    # listed first.
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("button", name="New chat").click()
    wait_for_url(page, r"/$")
    expect(page.locator("[data-welcome]")).to_be_visible()
    expect(page.get_by_role("link", name="Export Markdown")).to_be_hidden()
    expect(page.locator("article")).to_have_count(0)
    ask(page, "echo Second thoughts")
    wait_for_url(page, r"/c/c_[\w-]+$")
    second = conversation_id(page)
    assert second != first
    page.wait_for_selector(DONE)
    expect(nav.get_by_role("link")).to_have_text(["echo Second thoughts", "echo First of all"])
    expect(nav.get_by_role("link", name="echo Second thoughts")).to_have_attribute("aria-current", "page")
    expect(first_link).not_to_have_attribute("aria-current", "page")

    # Selecting one shows its stored transcript, in this page.
    first_link.click()
    wait_for_url(page, rf"/c/{first}$")
    expect(page.locator('article[data-role="user"] [data-part="content"]')).to_have_text(
        ["echo First of all"]
    )
    expect(page.locator(ASSISTANT)).to_have_text(re.compile("First of all"))
    expect(first_link).to_have_attribute("aria-current", "page")
    assert page.evaluate("window.__sameDocument") is True
    page.go_back()
    wait_for_url(page, rf"/c/{second}$")
    expect(page.locator('article[data-role="user"] [data-part="content"]')).to_have_text(
        ["echo Second thoughts"]
    )

    # Rename in place.
    nav.get_by_role("button", name="Rename conversation “echo First of all”").click()
    title = nav.get_by_label("New title")
    expect(title).to_be_focused()
    title.fill("Orchard notes")
    title.press("Enter")
    renamed = nav.get_by_role("link", name="Orchard notes")
    expect(renamed).to_be_visible()
    expect(nav.get_by_role("button", name="Rename conversation “Orchard notes”")).to_be_focused()
    assert stored(page.context, demo.http, first)["conversation"]["title"] == "Orchard notes"
    # Escape leaves a rename without changing anything (and stops no answer).
    nav.get_by_role("button", name="Rename conversation “Orchard notes”").click()
    nav.get_by_label("New title").fill("Not this")
    nav.get_by_label("New title").press("Escape")
    expect(renamed).to_be_visible()

    # Delete asks first, in the page.
    renamed.click()
    wait_for_url(page, rf"/c/{first}$")
    nav.get_by_role("button", name="Delete conversation “Orchard notes”").click()
    dialog = page.get_by_role("dialog", name="Delete this conversation?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("“Orchard notes”")
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(renamed).to_be_visible()
    expect(nav.get_by_role("button", name="Delete conversation “Orchard notes”")).to_be_focused()
    nav.get_by_role("button", name="Delete conversation “Orchard notes”").click()
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(renamed).to_have_count(0)
    expect(nav.get_by_role("link")).to_have_text(["echo Second thoughts"])
    wait_for_url(page, r"/$")  # it was on screen: a new chat instead
    expect(page.locator("article")).to_have_count(0)
    assert page.context.request.get(f"{demo.http}/api/conversations/{first}").status == 404
    gone = page.context.new_page()  # a 404 page load is a console error the `page` fixture refuses
    try:
        response = gone.goto(f"{demo.http}/c/{first}")
        assert response is not None
        assert response.status == 404
        expect(gone.get_by_role("heading", name="This conversation is not here.")).to_be_visible()
    finally:
        gone.close()


def test_another_tab_follows_a_turn_live(context: BrowserContext, page: Page, slow_demo: Running) -> None:
    page.goto(slow_demo.http)
    ask(page, "echo Hello from the first tab")
    wait_for_url(page, r"/c/c_[\w-]+$")
    page.wait_for_selector(DONE)
    cid = conversation_id(page)
    other = context.new_page()
    sent: list[str] = []
    other.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(str(payload))))
    try:
        other.goto(f"{slow_demo.http}/c/{cid}")
        expect(other.locator('article[data-role="user"]')).to_have_count(1)
        # Once the other tab watches, a question in this one shows there as it streams.
        watch = json.dumps({"type": "watch", "conversation": cid}, separators=(",", ":"))
        while watch not in sent:
            other.wait_for_timeout(20)
        ask(page, "tour")
        expect(other.locator('article[data-role="user"] [data-part="content"]').last).to_have_text(
            "tour", timeout=10_000
        )
        watched = other.locator(ASSISTANT).last
        expect(watched).to_have_attribute("aria-busy", "true")
        expect(watched.locator('[data-part="content"] h2').first).to_be_visible()
        expect(other.get_by_role("button", name="Stop")).to_be_visible()
        expect(page.locator(ASSISTANT).last).to_have_attribute("data-state", "done", timeout=30_000)
        expect(watched).to_have_attribute("data-state", "done", timeout=30_000)
        mine = page.evaluate(f"{LAST}.text")
        assert other.evaluate(f"{LAST}.text") == mine
        assert stored_final(page, slow_demo.http, cid)["messages"][-1]["text"] == mine
    finally:
        other.close()


def test_retry_regenerates_in_place(page: Page, demo: Running) -> None:
    page.goto(demo.http)
    ask(page, "error")
    wait_for_url(page, r"/c/c_[\w-]+$")
    cid = conversation_id(page)
    answer = page.locator(ASSISTANT).last
    expect(answer).to_have_attribute("data-state", "error")
    before = stored_final(page, demo.http, cid)["messages"]
    sent: list[dict[str, Any]] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    page.reload()  # a stored failed answer has Retry too
    answer = page.locator(ASSISTANT).last
    expect(answer).to_have_attribute("data-state", "error")
    expect(answer.get_by_role("alert")).to_contain_text("failed on purpose")
    answer.get_by_role("button", name="Retry answer 1").click()
    page.wait_for_function(
        f"(old) => {LAST}.id !== null && {LAST}.id !== old && !{LAST}.streaming", arg=before[-1]["id"]
    )
    expect(answer).to_have_attribute("data-state", "error")
    starts = [f for f in sent if f.get("type") == "start"]
    assert len(starts) == 1
    assert starts[0]["conversation"] == cid
    assert starts[0]["regenerate"] == before[-1]["id"]
    assert "text" not in starts[0]
    assert "messages" not in starts[0]
    expect(page.locator(ASSISTANT)).to_have_count(1)
    after = stored_final(page, demo.http, cid)["messages"]
    assert [m["role"] for m in after] == ["user", "assistant"]
    assert after[0]["id"] == before[0]["id"]
    assert after[-1]["id"] == page.evaluate(f"{LAST}.id") != before[-1]["id"]


def test_a_deleted_conversation_refuses_a_new_message_near_the_composer(
    context: BrowserContext, page: Page, demo: Running
) -> None:
    page.goto(demo.http)
    ask(page, "echo soon gone")
    wait_for_url(page, r"/c/c_[\w-]+$")
    page.wait_for_selector(DONE)
    cid = conversation_id(page)
    response = context.request.delete(f"{demo.http}/api/conversations/{cid}", headers={"origin": demo.http})
    assert response.status == 204
    ask(page, "echo are you there?")
    note = page.locator("[data-ink='composer-note']")
    expect(note).to_be_visible()
    expect(note).to_contain_text("no longer exists")
    expect(page.get_by_label("Message")).to_have_value("echo are you there?")
    expect(page.locator('article[data-role="user"]')).to_have_count(1)
    expect(page.get_by_role("button", name="Send")).to_be_visible()


def test_a_storage_outage_shows_a_notice_until_it_is_over(page: Page, demo: Running) -> None:
    """The server's storage frames, injected into the real socket: the page's notice."""
    to_page: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        to_page.append(ws)
        ws.on_message(lambda message: server.send(message))
        server.on_message(lambda message: ws.send(message))

    page.route_web_socket("**/ws", route)
    page.goto(demo.http)
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    notice = page.locator("[data-ink='notice']")
    expect(notice).to_be_hidden()
    down = {
        "type": "storage",
        "ok": False,
        "code": "storage_unavailable",
        "turn": "t_x",
        "message": "db down",
    }
    to_page[-1].send(json.dumps(down))
    expect(notice).to_be_visible()
    expect(notice).to_have_text(re.compile("^Saving paused — the database is unavailable"))
    expect(page.get_by_label("Message")).to_be_enabled()  # it blocks nothing
    to_page[-1].send(json.dumps({"type": "storage", "ok": True, "turn": "t_x", "message": "saved"}))
    expect(notice).to_be_hidden()


def test_axe_finds_nothing_serious_in_the_conversation_ui(browser: Browser, demo: Running) -> None:
    from tests.browser.test_accessibility import serious

    context = browser.new_context(viewport={"width": 1100, "height": 900})
    try:
        page = context.new_page()
        page.goto(demo.http)
        ask(page, "code")
        wait_for_url(page, r"/c/c_[\w-]+$")
        page.wait_for_selector(DONE, timeout=30_000)
        page.reload()  # the stored transcript, rendered from the boot JSON
        expect(page.locator(ASSISTANT)).to_have_attribute("data-state", "done")
        assert serious(page) == []
        names = page.evaluate(
            """() => [...document.querySelectorAll('button')].filter((b) => b.offsetParent !== null)
                 .map((b) => b.getAttribute('aria-label') || b.textContent.trim())"""
        )
        assert len(names) == len(set(names)), names
        assert "Copy code block 1, python, answer 1" in names
        page.get_by_role("button", name="Delete conversation “code”").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        assert serious(page) == []  # the confirmation
        page.keyboard.press("Escape")
        page.set_viewport_size({"width": 360, "height": 740})
        page.get_by_role("button", name="Conversations").click()
        expect(page.locator("#sidebar")).to_be_visible()
        assert serious(page) == []  # the sidebar over the chat
    finally:
        context.close()


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("conversation_busy", "still being written in this conversation"),
        ("storage_unavailable", "could not be recorded"),
    ],
)
def test_a_refused_start_gives_the_question_back(page: Page, demo: Running, code: str, says: str) -> None:
    """The server refuses a start (injected: the page never sends one while an answer streams,
    and the database is up): the question goes back into the box, with why."""
    refuse: list[bool] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def up(message: str | bytes) -> None:
            frame = json.loads(message)
            if frame.get("type") == "start" and refuse:
                ws.send(json.dumps({"type": "error", "code": code, "message": "no", "ref": frame["ref"]}))
                return
            server.send(message)

        ws.on_message(up)
        server.on_message(lambda message: ws.send(message))

    page.route_web_socket("**/ws", route)
    page.goto(demo.http)
    ask(page, "echo first")
    wait_for_url(page, r"/c/c_[\w-]+$")
    page.wait_for_selector(DONE)
    refuse.append(True)
    if code == "conversation_busy":
        # The refusal also fetches the stored conversation again (what streams there shows).
        with page.expect_response(lambda r: "/api/conversations/c_" in r.url):
            ask(page, "echo second")
    else:
        ask(page, "echo second")
    note = page.locator("[data-ink='composer-note']")
    expect(note).to_contain_text(says)
    expect(page.get_by_label("Message")).to_have_value("echo second")
    expect(page.locator('article[data-role="user"] [data-part="content"]')).to_have_text(["echo first"])
    expect(page.locator(ASSISTANT)).to_have_count(1)
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.locator("[data-ink='notice']")).to_be_hidden()  # nothing streams unsaved
    refuse.clear()
    page.get_by_role("button", name="Send").click()
    expect(note).to_be_hidden()
    expect(page.locator('article[data-role="user"] [data-part="content"]')).to_have_text(
        ["echo first", "echo second"]
    )


def test_a_tab_that_was_offline_catches_up_from_storage(
    context: BrowserContext, page: Page, demo: Running
) -> None:
    page.goto(demo.http)
    ask(page, "echo one")
    wait_for_url(page, r"/c/c_[\w-]+$")
    page.wait_for_selector(DONE)
    cid = conversation_id(page)
    other = context.new_page()
    try:
        other.goto(f"{demo.http}/c/{cid}")
        expect(other.locator("#connection")).to_have_attribute("data-state", "open")
        # The other tab's network goes away while this one asks and gets an answer ...
        other.evaluate(
            f"""() => {{ const s = {CHAT}.socket; window.__connect = s.connect.bind(s);
                       s.connect = () => {{ window.__due = true; }}; s.ws.close(); }}"""
        )
        other.wait_for_function("() => window.__due === true")
        ask(page, "echo two")
        expect(page.locator(ASSISTANT).last).to_have_attribute("data-state", "done")
        stored_final(page, demo.http, cid)
        # ... and when it is back, it shows what storage has.
        other.evaluate(f"() => {{ {CHAT}.socket.connect = window.__connect; window.__connect(); }}")
        expect(other.locator('article[data-role="user"] [data-part="content"]')).to_have_text(
            ["echo one", "echo two"]
        )
        expect(other.locator(ASSISTANT).last).to_have_text(re.compile("two"))
        expect(other.locator(ASSISTANT).last).to_have_attribute("data-state", "done")
    finally:
        other.close()
