"""A page's edit through the relay (pure, the clock passed in): the log's TextEdited, the edit
frame with its version and operations, text not yet sent going after the edit, and the page
(patched with every frame) showing the one-shot render of the edited text."""

from __future__ import annotations

import pytest

from server.errors import ProtocolError
from server.turns.log import TextEdited
from server.turns.merge import Edit
from server.upstream.events import ContentDelta, Done
from tests.support.dom import Page, canonical
from tests.unit.turns.relay_driver import make, markdown


def test_an_edit_goes_before_text_not_yet_sent_and_the_page_shows_the_edited_text() -> None:
    driver = make()
    page, text, version = Page(), "", 0
    driver.start()
    for n in range(12):
        driver.feed(ContentDelta(f"Paragraph {n} of the answer.\n\n"), n)
        frame = driver.flush(n)
        assert frame is not None
        page.apply(frame["ops"])
        text += frame["text"]
        version = frame["v"]
    driver.feed(ContentDelta("Not sent yet."), 20.0)  # held for the next frame
    at = text.index("Paragraph 3") + len("Paragraph 3")
    step = driver.relay.edit(version, [Edit(at, at, " (edited)")], "page-1", "e1", 20.0)
    [event] = step.events
    assert isinstance(event, TextEdited)
    assert (event.version, event.origin, event.ref) == (version + 1, "page-1", "e1")
    [frame] = step.frames
    assert frame["type"] == "edit"
    assert (frame["v"], frame["edits"]) == (version + 1, [[at, at, " (edited)"]])
    assert [op["op"] for op in frame["ops"]] == ["splice"]  # only the block it touched
    page.apply(frame["ops"])
    text = text[:at] + " (edited)" + text[at:]
    driver.feed(Done(), 21.0)
    for last in driver.end(21.0):
        page.apply(last["ops"])
        text += last.get("text", "")
    assert text.endswith("Paragraph 11 of the answer.\n\nNot sent yet.")
    assert driver.relay.document.text == text
    assert canonical(page.html()) == canonical(markdown().render(text))


def test_an_ended_turn_and_a_bad_edit_change_nothing() -> None:
    driver = make()
    driver.start()
    driver.feed(ContentDelta("Some text."), 0.0)
    driver.flush(0.0)
    with pytest.raises(ProtocolError) as refused:
        driver.relay.edit(1, [Edit(3, 99, "")], "page-1", None, 1.0)
    assert refused.value.code == "bad_edit"
    assert driver.relay.document.text == "Some text."
    driver.end(2.0)
    with pytest.raises(ProtocolError) as ended:
        driver.relay.edit(1, [Edit(0, 0, "x")], "page-1", None, 3.0)
    assert ended.value.code == "not_streaming"
