"""Table cells split as markdown-it's table rule splits them (server/markdown/cells.py owns the
few lines instead of importing the rule's private helpers): checked against the rule itself."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from server.markdown.cells import cells, split_pipes, trim

_MD = MarkdownIt("commonmark").enable("table")


def _rule_cells(row: str, columns: int) -> list[str]:
    """The cell sources markdown-it's rule gives the body row ``row`` of a table with
    ``columns`` columns."""
    header = "|" + "|".join(f" h{i} " for i in range(columns)) + "|"
    delimiter = "|" + "|".join(" --- " for _ in range(columns)) + "|"
    tokens = _MD.parse(f"{header}\n{delimiter}\n{row}\n")
    body = False
    found: list[str] = []
    for token in tokens:
        if token.type == "tbody_open":
            body = True
        if body and token.type == "inline":
            found.append(token.content)
    return found


ROW_TEXT = st.text(alphabet=st.sampled_from(list("ab |\\`*\t\u00a0\u2003\u001c")), max_size=24)


@given(ROW_TEXT)
@settings(max_examples=400)
@example("| a \\| b | c |")
@example("| a \\\\| b |")
@example("|\u2003x\u2003|\u001cy|")
@example("a | b")
def test_cells_are_the_rule_s_cells(text: str) -> None:
    row = "|" + text  # a body line that starts with a pipe is a row whatever follows
    mine = cells(row)
    columns = max(1, len(mine))
    expected = _rule_cells(row, columns)
    got = [mine[i] if i < len(mine) else "" for i in range(columns)]
    # The rule leaves cells it filled in (short rows) empty: compare as many as it made.
    assert got[: len(expected)] == expected


def test_split_pipes_keeps_escaped_pipes_as_text() -> None:
    assert split_pipes("a\\|b|c") == ["a|b", "c"]
    assert split_pipes("a|b") == ["a", "b"]
    assert split_pipes("\\\\|x") == ["\\|x"]  # as the rule: the backslash before the pipe escapes it


def test_trim_is_commonmark_white_space_only() -> None:
    assert trim("\u2003 a \t") == "a"
    assert trim("\u001ca\u0085") == "\u001ca\u0085"  # not white space to CommonMark
