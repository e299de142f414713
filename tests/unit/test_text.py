"""server.text: surrogates and shortening."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.text import Characters, clean_text, has_surrogate, shorten

EMOJI = "😀"  # U+1F600: "\ud83d\ude00" in UTF-16
HIGH, LOW = "\ud83d", "\ude00"


def test_clean_text_joins_pairs_and_replaces_lone_halves() -> None:
    assert clean_text("a" + HIGH + LOW + "b") == "a" + EMOJI + "b"
    assert clean_text("a" + HIGH + "b") == "a\ufffdb"
    assert clean_text(LOW) == "\ufffd"
    assert clean_text("plain") == "plain"
    assert has_surrogate(HIGH)
    assert not has_surrogate(EMOJI)


def test_a_pair_split_across_pieces_is_one_character() -> None:
    chars = Characters()
    assert chars.feed("x" + HIGH) == "x"
    assert chars.feed(LOW + "y") == EMOJI + "y"
    assert chars.flush() == ""


def test_half_a_pair_that_never_completes_is_replaced_at_the_end() -> None:
    chars = Characters()
    assert chars.feed("x" + HIGH) == "x"
    assert chars.flush() == "\ufffd"
    assert chars.flush() == ""


@given(st.text(alphabet=st.sampled_from(["a", "é", HIGH, LOW, EMOJI])), st.lists(st.integers(0, 40)))
def test_pieces_give_the_same_text_as_the_whole_however_split(text: str, cuts: list[int]) -> None:
    points = sorted({min(c, len(text)) for c in cuts})
    pieces = [text[a:b] for a, b in zip([0, *points], [*points, len(text)], strict=True)]
    chars = Characters()
    joined = "".join(chars.feed(p) for p in pieces) + chars.flush()
    assert joined == clean_text(text)
    assert not has_surrogate(joined)
    joined.encode("utf-8")  # always encodable


def test_shorten() -> None:
    assert shorten("abc", 3) == "abc"
    assert shorten("abcd", 3) == "abc…"
