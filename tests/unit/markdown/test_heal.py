"""Display-only healing of the live block (server/markdown/heal.py, closers.py): what each half-typed
construct shows, that code is never touched, that finished text is left alone, and that the
points a long paragraph freezes at split it without changing its HTML."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.markdown.closers import balanced_points
from server.markdown.engine import Markdown
from server.markdown.heal import heal, heal_inline, only_block_syntax

MARKDOWN = Markdown()


@pytest.mark.parametrize(
    ("typed", "shown", "opened", "clean"),
    [
        ("Use **bo", "Use **bo**", 1, True),
        ("Use **bo ", "Use **bo** ", 1, True),  # the closer goes before trailing space
        ("Use **", "Use ", 0, False),  # an opener with nothing after it yet is held back
        ("***x", "***x***", 2, True),  # text typed next goes inside both
        ("a ~~b", "a ~~b~~", 1, True),
        ("a `code", "a `code`", 1, True),
        ("> quote **x", "> quote **x**", 1, True),
        ("see [the docs](http://ex", "see the docs", 0, False),  # a partial link: its text
        ("see ![alt](http://img", "see ", 0, False),  # a partial image: nothing yet
        ("a <spa", "a ", 0, False),  # a half-typed tag
        ("a &am", "a ", 0, False),  # a half-typed entity
        ("a \\", "a ", 0, False),  # a trailing backslash may escape what comes next
        ("text\n-", "text\n", 0, False),  # not a setext heading, not yet a list
        ("| a | b |", "| a | b |\n| --- | --- |", 0, True),  # a table from its header row
        ("```py", "", 0, False),  # the info string may still change the language
        ("```py\nx = 1\n``", "```py\nx = 1\n", 0, False),  # may become the closer
        ("[^1]: foo", "", 0, False),  # footnotes show in their section, at the end
        ("[d]: https://exa", "[d]: https://exa", 0, True),  # a definition shows nothing anyway
    ],
)
def test_a_half_typed_construct_shows_as_what_it_is_becoming(
    typed: str, shown: str, opened: int, clean: bool
) -> None:
    healed = heal(typed)
    assert (healed.text, healed.opened, healed.clean_end) == (shown, opened, clean)


@pytest.mark.parametrize(
    "text",
    [
        "2*3 and 4*5",  # arithmetic, not emphasis
        "snake_case_name",
        "Done **well**.",
        "- item",
        "line one\nline two",
        "[x](y)",
        "`$__timeFilter` and `a*b`",
        "```\n$__timeFilter **x\n",  # inside a fence nothing is touched (coder/xum #909)
    ],
)
def test_text_that_needs_nothing_is_left_alone(text: str) -> None:
    assert heal(text).text == text


def test_a_code_span_is_closed_but_never_healed_inside() -> None:
    assert heal("see `$__timeFilter").text == "see `$__timeFilter`"


def test_tables_can_be_left_to_the_caller() -> None:
    assert heal("| a | b |", tables=False).text == "| a | b |"


@pytest.mark.parametrize("line", ["-", "1.", "> -", "##", "|--", "- [x", "```", "===", "  * "])
def test_block_syntax_alone(line: str) -> None:
    assert only_block_syntax(line)


@pytest.mark.parametrize("line", ["- a", "1. one", "## Title", "| a |", "x"])
def test_a_line_with_content_is_not_block_syntax_alone(line: str) -> None:
    assert not only_block_syntax(line)


def test_heal_inline_has_no_block_syntax_to_hold_back() -> None:
    healed = heal_inline("- more **x")
    assert (healed.text, healed.opened) == ("- more **x**", 1)


# ------------------------------------------------------------------ properties over prefixes

words = st.sampled_from(["alpha", "beta", "2*3", "snake_case", "x", "日本", "e.g.", "$__x", "a_b"])
inline = st.one_of(
    words,
    words.map(lambda w: f"**{w}**"),
    words.map(lambda w: f"*{w}*"),
    words.map(lambda w: f"_{w}_"),
    words.map(lambda w: f"~~{w}~~"),
    words.map(lambda w: f"`{w}`"),
    words.map(lambda w: f"[{w}](https://example.com/{len(w)})"),
)
paragraphs = st.lists(inline, min_size=1, max_size=12).map(" ".join)


def visible(html: str) -> str:
    """The text a reader sees: tags dropped, code's content blanked (code may show any syntax)."""
    html = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", "", html)


@settings(max_examples=150, deadline=None)
@given(paragraphs)
def test_no_prefix_of_a_paragraph_flashes_raw_emphasis_markers(text: str) -> None:
    final = visible(MARKDOWN.render(text))
    for end in range(1, len(text) + 1):
        shown = visible(MARKDOWN.render(heal(text[:end]).text))
        for marker in ("**", "~~", "`"):
            assert marker not in shown or marker in final, (text[:end], shown)


closed_words = st.sampled_from(["alpha", "beta", "snake_case", "x", "日本", "e.g.", "a_b"])
closed_paragraphs = st.lists(
    st.one_of(
        closed_words,
        closed_words.map(lambda w: f"**{w}**"),
        closed_words.map(lambda w: f"*{w}*"),
        closed_words.map(lambda w: f"~~{w}~~"),
        closed_words.map(lambda w: f"`{w}`"),
        closed_words.map(lambda w: f"[{w}](https://example.com/{len(w)})"),
    ),
    min_size=1,
    max_size=12,
).map(" ".join)


# Healing cannot tell a finished paragraph from one still being typed (``$__x`` may yet become
# ``$__x__``), so this holds for paragraphs that leave nothing open.
@settings(max_examples=150, deadline=None)
@given(closed_paragraphs)
def test_a_paragraph_that_leaves_nothing_open_heals_to_itself(text: str) -> None:
    assert MARKDOWN.render(heal(text).text) == MARKDOWN.render(text)


code_lines = st.sampled_from(["x = 1", "y = a**b", "$__x", "`tick", "~~", "[a](b"])


@settings(max_examples=100, deadline=None)
@given(st.lists(code_lines, min_size=1, max_size=6))
def test_code_in_a_fence_is_only_ever_held_back_never_changed(lines: list[str]) -> None:
    src = "```py\n" + "\n".join(lines)
    for end in range(len("```py\n"), len(src) + 1):
        healed = heal(src[:end]).text
        assert src[:end].startswith(healed)


@settings(max_examples=200, deadline=None)
@given(paragraphs)
def test_a_paragraph_split_at_a_balanced_point_renders_as_the_whole(text: str) -> None:
    whole = MARKDOWN.render_inline(text, {})
    for point in balanced_points(text):
        assert 0 < point < len(text)
        assert MARKDOWN.render_inline(text[:point], {}) + MARKDOWN.render_inline(text[point:], {}) == whole
