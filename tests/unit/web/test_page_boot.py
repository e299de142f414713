"""page_boot: the page carries its newest messages whole; older answers come without text or HTML."""

from __future__ import annotations

from server.markdown.engine import Markdown
from server.storage.records import Conversation, Message
from server.web.transcript import PAGE_RENDERED, page_boot

CONVERSATION = Conversation("c_1", "o", "Title", None, None, 1, 2)


def branch(answers: int, *, streaming_first: bool = False) -> list[Message]:
    messages = []
    for n in range(answers):
        messages.append(Message(f"u{n}", "c_1", None, "user", f"question {n}", "done"))
        state = "streaming" if streaming_first and n == 0 else "done"
        messages.append(Message(f"a{n}", "c_1", f"u{n}", "assistant", f"*answer* {n}", state, turn=f"t{n}"))
    return messages


def test_all_answers_come_whole_when_nothing_is_held_back() -> None:
    boot = page_boot(CONVERSATION, branch(5), Markdown())
    answers = [m for m in boot["messages"] if m["role"] == "assistant"]
    assert [m["html"] for m in answers] == [f"<p><em>answer</em> {n}</p>\n" for n in range(5)]
    assert not any("html_later" in m for m in answers)


def test_older_answers_come_later_and_the_newest_whole() -> None:
    boot = page_boot(CONVERSATION, branch(5), Markdown(), rendered=PAGE_RENDERED)
    shapes = [(m["id"], "text" in m, "html" in m, m.get("html_later", False)) for m in boot["messages"]]
    assert PAGE_RENDERED == 6
    assert shapes == [
        ("u0", True, False, False),
        ("a0", False, False, True),
        ("u1", True, False, False),
        ("a1", False, False, True),
        *[(f"{role}{n}", True, role == "a", False) for n in (2, 3, 4) for role in ("u", "a")],
    ]


def test_an_answer_still_streaming_is_always_whole() -> None:
    boot = page_boot(CONVERSATION, branch(5, streaming_first=True), Markdown(), rendered=2)
    first = boot["messages"][1]
    assert (first["text"], first["html"], "html_later" in first) == (
        "*answer* 0",
        "<p><em>answer</em> 0</p>\n",
        False,
    )
    assert [m.get("html_later", False) for m in boot["messages"] if m["role"] == "assistant"] == [
        False, True, True, True, False,
    ]  # fmt: skip
