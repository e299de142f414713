"""Editing an answer while it streams, in Chromium against a real server and a paced upstream:
typing at its start for seconds while the model writes, every typed and every streamed word
ends in place, once; the caret stays where the user types; the rendered view shows the edit,
and a block the user did not touch keeps its DOM node; a reload shows the edit."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Locator, Page, expect

from server.demo.resume import rest_of
from server.demo.scripts import Answers
from server.demo.tokens import tokenize
from tests.browser.helpers import ASSISTANT, DONE, ask
from tests.support.server import Running, serve
from tests.support.upstream import FakeUpstream, Scenario, paced_answer

OPENING = "Intro paragraph.\n\n"
WORDS = [f"word{i} " for i in range(150)]
TYPED = "Typed by the user while it streamed. "


def answer() -> Scenario:
    return paced_answer([OPENING, "Second paragraph stays as it was.\n\n", *WORDS], 30.0)


def streaming(page: Page, bridge: Running, upstream: FakeUpstream, *, until: str) -> Locator:
    """Ask for the paced answer; its article once it shows ``until``."""
    upstream.add("m", answer())
    page.goto(bridge.http)
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    ask(page, "write")
    message = page.locator(ASSISTANT).last
    expect(message.locator('[data-part="content"]')).to_contain_text(until)
    return message


def test_typing_at_the_start_while_it_streams_keeps_every_word_and_the_caret(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    message = streaming(page, bridge, upstream, until="word3")
    untouched = message.locator('[data-part="content"] p', has_text="Second paragraph")
    untouched.evaluate("(p) => { window.__untouched = p; }")
    page.get_by_role("button", name="Edit answer 1").click()
    editor = page.get_by_role("textbox", name="Markdown of answer 1")
    expect(editor).to_be_focused()
    # The caret at the end of "Intro", then several seconds of typing there.
    editor.evaluate("(area) => area.setSelectionRange(5, 5)")
    started = time.monotonic()
    typed = ""
    for char in TYPED:
        page.keyboard.type(char)
        typed += char
        time.sleep(0.06)
    assert time.monotonic() - started > 2
    # The caret stayed after what was typed, while the model's words arrived at the end.
    caret = editor.evaluate("(area) => [area.selectionStart, area.selectionEnd]")
    assert caret == [5 + len(TYPED), 5 + len(TYPED)]
    assert message.get_attribute("data-state") == "streaming"
    # Native undo takes back the user's own typing, not the model's words.
    page.keyboard.press("Control+z")
    undone = editor.input_value()
    assert undone.startswith("Intro paragraph.\n\nSecond paragraph"), undone[:80]
    assert "word0 word1" in undone
    page.keyboard.press("Control+Shift+z")
    expect(editor).to_have_value(re.compile("^Intro" + re.escape(TYPED)))
    page.wait_for_selector(DONE, timeout=30_000)
    expected = "Intro" + TYPED + " paragraph.\n\nSecond paragraph stays as it was.\n\n" + "".join(WORDS)
    expect(editor).to_have_value(expected)
    page.get_by_role("button", name="Done editing answer 1").click()
    content = message.locator('[data-part="content"]')
    expect(content).to_contain_text("Intro" + TYPED.rstrip())
    text = content.inner_text()
    for word in WORDS:
        assert (
            text.count(word.strip() + " ") + text.count(word.strip() + "\n") + text.endswith(word.strip())
            >= 1
        )
    assert text.count("word149") == 1
    # The paragraph nobody edited is the same node it was.
    assert untouched.evaluate("(p) => p === window.__untouched")
    # It says it was edited, and shows the model's own text on request (as text).
    expect(message.locator('[data-part="edited"]')).to_be_visible()
    page.get_by_role("button", name="Show the original of answer 1").click()
    original = message.locator('[data-part="original"]')
    expect(original).to_contain_text("Intro paragraph.")
    assert TYPED.strip() not in original.inner_text()
    # What the server stored is the edited text, and it is still marked.
    page.reload()
    reloaded = page.locator(ASSISTANT).last
    expect(reloaded.locator('[data-part="content"]')).to_contain_text("Intro" + TYPED.rstrip())
    expect(reloaded.locator('[data-part="edited"]')).to_be_visible()
    page.get_by_role("button", name="Show the original of answer 1").click()
    expect(reloaded.locator('[data-part="original"]')).to_contain_text("Intro paragraph.\n\nSecond")


def test_stop_edit_continue_follows_the_edit(page: Page) -> None:
    """The demo model, stopped with Esc, the end of its answer rewritten, then Continue: the
    model goes on after the user's words (from where they leave its script), into the same
    answer, and a reload shows it all."""
    script = "".join(tokenize(Answers.load().texts["tour"]))
    with serve(demo_ttft_ms=0, demo_tokens_per_second=150) as running:
        page.goto(running.http)
        expect(page.locator("#connection")).to_have_attribute("data-state", "open")
        ask(page, "tour")
        message = page.locator(ASSISTANT).last
        content = message.locator('[data-part="content"]')
        page.wait_for_function(
            "(el) => el.innerText.length > 150", arg=content.element_handle(), timeout=20_000
        )
        page.keyboard.press("Escape")  # Esc stops
        expect(message).to_have_attribute("data-state", "stopped")
        resume = page.get_by_role("button", name="Continue answer 1")
        expect(resume).to_be_visible()
        page.get_by_role("button", name="Edit answer 1").click()
        editor = page.get_by_role("textbox", name="Markdown of answer 1")
        editor.press("Control+End")
        page.keyboard.type(" Bananas are yellow.")
        edited = editor.input_value()
        assert script.startswith(edited[: -len(" Bananas are yellow.")])
        page.get_by_role("button", name="Done editing answer 1").click()
        expect(content).to_contain_text("Bananas are yellow.")
        expect(message.locator('[data-part="edited"]')).to_be_visible()
        resume.click()
        expect(message).to_have_attribute("data-state", "streaming")
        expect(resume).to_be_hidden()  # not offered while it streams
        expect(message).to_have_attribute("data-state", "done", timeout=60_000)
        rest = rest_of(script, edited)
        last_words = rest.strip().split()[-3:]
        expect(content).to_contain_text(" ".join(last_words))
        expect(content).to_contain_text("Bananas are yellow.")
        assert page.locator(ASSISTANT).count() == 1  # the same answer, not a new one
        conversation = page.evaluate("location.pathname").rsplit("/", 1)[-1]
        final = page.request.get(f"{running.http}/api/conversations/{conversation}").json()["messages"][-1][
            "text"
        ]
        assert final.startswith(edited)
        assert final[len(edited) :].strip() == rest.strip()
        page.reload()
        again = page.locator(ASSISTANT).last.locator('[data-part="content"]')
        expect(again).to_contain_text("Bananas are yellow.")
        expect(again).to_contain_text(" ".join(last_words))


def test_an_ended_answer_edited_keeps_the_blocks_it_did_not_touch(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    """After the end, and after a reload: an edit sends only the elements that changed, and
    the page puts them in place of the old ones; every other block keeps its node."""
    upstream.add(
        "m", paced_answer(["First para.\n\n", "Second para.\n\n", "```py\nx = 1\n```\n\n", "- a\n- b\n"], 50)
    )
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "/api/conversations/" in r.url else None)
    page.goto(bridge.http)
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    ask(page, "write")
    message = page.locator(ASSISTANT).last
    content = message.locator('[data-part="content"]')
    expect(message).to_have_attribute("data-state", "done")
    for round_ in range(2):
        content.locator("pre").evaluate("(pre) => { window.__code = pre; }")
        content.locator("ul").evaluate("(ul) => { window.__list = ul; }")
        fetched.clear()
        page.get_by_role("button", name="Edit answer 1").click()
        editor = page.get_by_role("textbox", name="Markdown of answer 1")
        editor.evaluate("(area) => area.setSelectionRange(0, 0)")
        page.keyboard.type(f"Edit {round_}. ")
        page.get_by_role("button", name="Done editing answer 1").click()
        expect(content.locator("p").first).to_have_text(re.compile(f"^Edit {round_}\\. "))
        assert content.locator("pre").evaluate("(pre) => pre === window.__code")
        assert content.locator("ul").evaluate("(ul) => ul === window.__list")
        assert not [url for url in fetched if "/branch" not in url]  # no fetch of the answer again
        expect(message.locator('[data-part="edited"]')).to_be_visible()
        page.reload()
        message = page.locator(ASSISTANT).last
        content = message.locator('[data-part="content"]')
        expect(content.locator("p").first).to_have_text(re.compile(f"^Edit {round_}\\. "))


def test_two_tabs_editing_one_streaming_answer_agree(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    """Two tabs type into the same answer at once while it streams (one at its very start, the
    other after its first word): both end with the same text, the server's, with every typed
    character and every streamed word in place, once."""
    message = streaming(page, bridge, upstream, until="word2")
    other = page.context.new_page()
    other.goto(page.url)
    expect(other.locator(ASSISTANT).last.locator('[data-part="content"]')).to_contain_text("word4")
    editors = []
    for tab in (page, other):
        tab.get_by_role("button", name="Edit answer 1").click()
        editors.append(tab.get_by_role("textbox", name="Markdown of answer 1"))
    mine, theirs = "aaaa bbbb cccc ", "XXXX YYYY "
    editors[0].evaluate("(area) => area.setSelectionRange(5, 5)")
    editors[1].evaluate("(area) => area.setSelectionRange(0, 0)")
    for index in range(max(len(mine), len(theirs))):
        if index < len(mine):
            page.keyboard.type(mine[index])
        if index < len(theirs):
            other.keyboard.type(theirs[index])
        time.sleep(0.03)
    expect(message).to_have_attribute("data-state", "done", timeout=30_000)
    expected = (
        theirs + "Intro" + mine + " paragraph.\n\nSecond paragraph stays as it was.\n\n" + "".join(WORDS)
    )
    expect(editors[0]).to_have_value(expected)
    expect(editors[1]).to_have_value(expected)
    conversation = page.evaluate("location.pathname").rsplit("/", 1)[-1]
    stored = page.request.get(f"{bridge.http}/api/conversations/{conversation}").json()["messages"][-1]
    assert stored["text"] == expected
    other.close()


def test_a_reload_mid_stream_shows_the_edits_and_the_models_text(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    message = streaming(page, bridge, upstream, until="word3")
    page.get_by_role("button", name="Edit answer 1").click()
    editor = page.get_by_role("textbox", name="Markdown of answer 1")
    editor.evaluate("(area) => area.setSelectionRange(0, 0)")
    page.keyboard.type("Mine. ")
    expect(message.locator('[data-part="edited"]')).to_be_visible()  # the server took it
    page.reload()
    message = page.locator(ASSISTANT).last
    content = message.locator('[data-part="content"]')
    expect(content).to_contain_text("Mine. Intro paragraph.")
    expect(message).to_have_attribute("data-state", "streaming")  # still streaming, followed
    expect(message).to_have_attribute("data-state", "done", timeout=30_000)
    expect(content).to_contain_text("Mine. Intro paragraph.")
    expect(content).to_contain_text("word149")
