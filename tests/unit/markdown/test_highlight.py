"""Highlighting a code block that grows inside a live block: each line is lexed once."""

from __future__ import annotations

import pytest

from server.markdown.highlight import Highlighter

PYTHON = "".join(f"total_{i} = compute(values[{i}], label='row {i}')  # step {i}\n" for i in range(60))
SQL = "".join(f"SELECT id, amount_{i} FROM orders WHERE amount > {i};\n" for i in range(60))
TYPESCRIPT = "".join(f"const value{i}: number = await fetch(`/items/{i}`);\n" for i in range(60))


@pytest.mark.parametrize(
    ("lang", "code"),
    [("python", PYTHON), ("sql", SQL), ("typescript", TYPESCRIPT)],
    ids=["python", "sql", "ts"],
)
def test_a_growing_block_shows_what_a_whole_highlight_shows(lang: str, code: str) -> None:
    live, whole = Highlighter(), Highlighter()
    for end in range(1, len(code) + 1, 7):
        assert live.live_block(code[:end], lang) == whole.block(code[:end], lang)
    assert live.live_block(code, lang) == whole.block(code, lang)


@pytest.mark.parametrize(("lang", "code"), [("python", PYTHON), ("sql", SQL)], ids=["python", "sql"])
def test_a_growing_block_is_lexed_about_once(lang: str, code: str) -> None:
    highlighter = Highlighter()
    steps = range(1, len(code) + 1, 7)
    for end in steps:
        highlighter.live_block(code[:end], lang)
    # Whole lines once, and at each step the part of the line being typed (with a newline).
    partial = sum(end - code.rfind("\n", 0, end) for end in steps)
    assert highlighter.lexed_chars <= len(code) + partial, (highlighter.lexed_chars, len(code), partial)


def test_two_blocks_growing_side_by_side_keep_their_lines() -> None:
    highlighter = Highlighter()
    other = SQL.replace("orders", "items")
    for end in range(40, len(PYTHON), 40):
        highlighter.live_block(PYTHON[:end], "python")
        highlighter.live_block(other[:end], "sql")
    lexed = highlighter.lexed_chars
    assert lexed < 2 * (len(PYTHON) + len(other)), lexed


def test_a_block_that_changes_is_highlighted_afresh() -> None:
    highlighter = Highlighter()
    highlighter.live_block("x = 1\ny = 2\n", "python")
    assert highlighter.live_block("x = 1\nz = 3\n", "python") == Highlighter().block(
        "x = 1\nz = 3\n", "python"
    )
    assert highlighter.live_block("no language\n", "") == "no language\n"
