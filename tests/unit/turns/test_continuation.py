"""The seam between an answer's text and its continuation, and what a Continue sends upstream
(pure): fed whole, piece by piece, and at random split points, the join is the same."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.turns.continuation import HOLD, INSTRUCTION, Mode, Seam, request_of
from server.upstream.messages import Message


def joined(text: str, pieces: list[str], mode: Mode = "assistant") -> str:
    seam = Seam(text, mode)
    return text + "".join(seam.feed(piece) for piece in pieces) + seam.flush()


@pytest.mark.parametrize(
    ("text", "continuation", "mode", "expected"),
    [
        ("Hello ", " world", "assistant", "Hello world"),  # a space not doubled
        ("Para.\n\n", "\n\nNext", "assistant", "Para.\n\nNext"),  # nor a blank line
        ("Para.\n", "\nNext", "assistant", "Para.\nNext"),
        ("Para.\n", "\n\nNext", "assistant", "Para.\n\nNext"),  # the newline it lacked
        ("Done.", "The end", "user", "Done. The end"),  # the space it lacked
        ("3.", "14159", "assistant", "3.14159"),  # a prefill sends its own space, or none
        ("https://example.", "com/x", "assistant", "https://example.com/x"),
        ("wor", "ld", "assistant", "world"),  # a prefill goes on inside a word
        ("wor", "ld", "user", "wor ld"),  # asked in words, the model starts a new one
        ("a list:\n\n- one", "\n- two", "assistant", "a list:\n\n- one\n- two"),
        ("code `x", "` here", "assistant", "code `x` here"),
        # An echo of the text's end, asked in words, goes; a short overlap is a coincidence.
        ("The quick brown fox jumps", "brown fox jumps over", "user", "The quick brown fox jumps over"),
        ("It is red", "red wine", "user", "It is red red wine"),
        ("Hello", "", "assistant", "Hello"),
        ("", " start", "assistant", " start"),
    ],
)
def test_the_seam(text: str, continuation: str, mode: Mode, expected: str) -> None:
    assert joined(text, [continuation], mode) == expected


pieces_of = st.text(alphabet=" \n.a-b`", min_size=0, max_size=40)


@given(
    text=st.text(alphabet=" \n.ab", max_size=30),
    continuation=st.text(alphabet=" \n.ab", max_size=2 * HOLD),
    cuts=st.lists(st.integers(min_value=0, max_value=2 * HOLD), max_size=8),
    mode=st.sampled_from(["assistant", "continue_final_message", "user"]),
)
def test_the_join_does_not_depend_on_how_the_continuation_is_cut(
    text: str, continuation: str, cuts: list[int], mode: Mode
) -> None:
    points = sorted({min(c, len(continuation)) for c in cuts})
    pieces = [continuation[a:b] for a, b in zip([0, *points], [*points, len(continuation)], strict=True)]
    whole = joined(text, [continuation], mode)
    assert joined(text, pieces, mode) == whole
    assert joined(text, list(continuation), mode) == whole
    # Only the seam changes: past the held characters, the continuation is there as sent.
    assert whole.startswith(text)
    tail = continuation[HOLD:]
    assert whole.endswith(tail)


def test_what_each_mode_sends() -> None:
    history = (Message("user", "q"),)
    messages, extra = request_of(history, "part", "assistant")
    assert messages == (Message("user", "q"), Message("assistant", "part"))
    assert extra == {}
    messages, extra = request_of(history, "part", "continue_final_message")
    assert messages[-1] == Message("assistant", "part")
    assert extra == {"continue_final_message": True, "add_generation_prompt": False}
    messages, extra = request_of(history, "part", "user")
    assert messages[-2:] == (Message("assistant", "part"), Message("user", INSTRUCTION))
    assert extra == {}
