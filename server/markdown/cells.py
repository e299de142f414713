"""A table row's cells, split as markdown-it's table rule splits them (pure).

The rule (markdown_it/rules_block/table.py) trims the line, splits it at every pipe not
preceded by a backslash (an escaped pipe is text, its backslash dropped), drops the empty
cells the outer pipes leave, and trims each cell. Kept here in a few owned lines rather than
imported from the rule's module, which is not markdown-it's public API; a property test checks
these against the rule's own output.
"""

from __future__ import annotations

# The white space the rule trims: what JavaScript's String.prototype.trim removes but U+FEFF,
# as markdown-it-py's mdTrim has it (not str.strip(): that also takes U+001C-U+001F, U+0085).
_TRIM = "\t\n\v\f\r \xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))

# The rule stops filling short rows with empty cells past this many, in all (a table of
# thousands of one-cell rows under a wide header would otherwise cost the square).
MAX_AUTOCOMPLETED_CELLS = 0x10000


def trim(text: str) -> str:
    return text.strip(_TRIM)


def split_pipes(line: str) -> list[str]:
    """``line`` cut at each pipe that is not escaped; an escaped pipe stays, as a pipe."""
    if "\\" not in line:
        return line.split("|")
    parts: list[str] = []
    current: list[str] = []
    start = 0
    escaped = False
    for pos, ch in enumerate(line):
        if ch == "|":
            if escaped:
                current.append(line[start : pos - 1])  # the backslash goes
                start = pos
            else:
                current.append(line[start:pos])
                parts.append("".join(current))
                current = []
                start = pos + 1
        escaped = ch == "\\"
    current.append(line[start:])
    parts.append("".join(current))
    return parts


def cells(line: str) -> list[str]:
    """The cells of a table row (or of its header line), each trimmed."""
    columns = split_pipes(trim(line))
    if columns and columns[0] == "":
        columns.pop(0)
    if columns and columns[-1] == "":
        columns.pop()
    return [trim(column) for column in columns]
