"""Where the demo model's script goes on when asked to continue a text (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.demo.resume import given_text, rest_chunks, rest_of
from server.demo.tokens import tokenize

SCRIPT = "The orange is round. It grows on trees in warm places, far from the sea. The end."


def test_a_stopped_answer_goes_on_where_it_stopped() -> None:
    assert rest_of(SCRIPT, SCRIPT[:25]) == SCRIPT[25:]
    assert rest_of(SCRIPT, "") == SCRIPT


def test_words_of_the_users_own_at_the_end_are_followed() -> None:
    # The user replaced "orange" and went on: the script resumes after the word it replaced.
    assert (
        rest_of(SCRIPT, "The apple")
        == " is round. It grows on trees in warm places, far from the sea. The end."
    )
    assert rest_of(SCRIPT, SCRIPT[:20] + " Mine.") == SCRIPT[21:]  # the seam puts the space


def test_an_edit_in_the_middle_resyncs_on_the_text_s_end() -> None:
    edited = SCRIPT[:4] + "big " + SCRIPT[4:50]
    assert rest_of(SCRIPT, edited) == SCRIPT[50:]


def test_which_requests_ask_to_continue() -> None:
    assert given_text([("user", "q"), ("assistant", "part")]) == "part"
    asked = "Continue your previous answer exactly from where it stops."
    assert given_text([("user", "q"), ("assistant", "part"), ("user", asked)]) == "part"
    assert given_text([("user", "q"), ("assistant", "part"), ("user", "continue please")]) is None
    assert given_text([("user", "q")]) is None


@given(st.integers(min_value=0, max_value=len(SCRIPT)), st.text(alphabet="xy ", max_size=6))
def test_the_rest_in_chunks_is_the_rest(at: int, mine: str) -> None:
    chunks = tokenize(SCRIPT)
    given = SCRIPT[:at] + mine
    assert "".join(rest_chunks(chunks, given)) == rest_of(SCRIPT, given)
