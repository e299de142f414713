"""Where blocks start and end in markdown-it-py's token stream and in the source (pure).

Helpers for the streaming renderer: top-level block spans from ``Token.map``, list items and
table rows inside a block, and whether a list is loose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it.token import Token

_ITEM_START = re.compile(r"(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)|\d+$")
_LIST_OPEN = frozenset({"bullet_list_open", "ordered_list_open"})


@dataclass(frozen=True, slots=True)
class Span:
    """Tokens ``[first, last)`` that start on source line ``line`` (0-based, relative)."""

    first: int
    last: int
    line: int
    end_line: int


class Lines:
    """Offsets of line starts in a text, for turning ``Token.map`` lines into offsets."""

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [0]
        find = text.find
        pos = find("\n")
        while pos != -1:
            starts.append(pos + 1)
            pos = find("\n", pos + 1)
        self.starts = starts

    def __len__(self) -> int:
        return len(self.starts)

    def offset(self, line: int) -> int:
        return self.starts[line] if line < len(self.starts) else len(self.text)

    def complete(self, line: int) -> bool:
        """Whether line ``line`` has its newline yet."""
        return line + 1 < len(self.starts)

    def get(self, line: int) -> str:
        start = self.offset(line)
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return self.text[start:end]

    def blank(self, line: int) -> bool:
        return line < len(self.starts) and not self.get(line).strip()

    def decided(self, line: int) -> bool:
        """Whether the block starting on ``line`` is settled enough that the block before it
        can no longer change: its line is complete, or it already holds a letter and cannot be
        a list item continuing a list above (``- x``, ``12``) or a reference definition
        (``[foo]: /url``) that a block above may use."""
        if self.complete(line):
            return True
        text = self.get(line)
        stripped = text.lstrip(" ")
        if len(text) - len(stripped) > 3 or stripped.startswith("["):
            return False
        if _ITEM_START.match(stripped):
            return False
        if stripped.startswith("```"):
            return False  # a backtick later in the line would make it no fence
        return any(ch.isalpha() for ch in stripped)


def top_level(tokens: list[Token]) -> list[Span]:
    """Spans of top-level blocks. The footnote section (level 0, no map) is left out: it is
    rendered only when the whole answer is known."""
    spans: list[Span] = []
    start = -1
    start_line = 0
    end_line = 0
    for index, token in enumerate(tokens):
        if token.level != 0 or token.nesting < 0:
            continue
        if token.map is None:
            if token.type.startswith("footnote_block"):
                break
            continue
        if start >= 0:
            spans.append(Span(start, index, start_line, end_line))
        start = index
        start_line, end_line = token.map
    if start >= 0:
        end = len(tokens)
        for index in range(start + 1, len(tokens)):
            if tokens[index].level == 0 and tokens[index].type.startswith("footnote_block"):
                end = index
                break
        spans.append(Span(start, end, start_line, end_line))
    return spans


def children(tokens: list[Token], span: Span, level: int, open_type: str) -> list[Span]:
    """Spans of the ``open_type`` tokens at ``level`` inside ``span`` (list items, table rows)."""
    found: list[Span] = []
    start = -1
    start_line = 0
    end_line = 0
    close_type = open_type.replace("_open", "_close")
    for index in range(span.first, span.last):
        token = tokens[index]
        if token.level != level:
            continue
        if token.type == open_type and token.map is not None:
            start = index
            start_line, end_line = token.map
        elif token.type == close_type and start >= 0:
            found.append(Span(start, index + 1, start_line, end_line))
            start = -1
    return found


def is_list(token: Token) -> bool:
    return token.type in _LIST_OPEN


def list_is_loose(tokens: list[Token], span: Span, items: list[Span], lines: Lines) -> bool:
    """markdown-it's own tight/loose decision, recovered even when no paragraph shows it."""
    for index in range(span.first, span.last):
        token = tokens[index]
        if token.type == "paragraph_open" and token.level == 2 and not token.hidden:
            return True
    for position, item in enumerate(items):
        # An item that ends with a blank line and is followed by another item.
        if position + 1 < len(items) and item.end_line - item.line > 1 and lines.blank(item.end_line - 1):
            return True
        # A blank line between two direct children of one item.
        previous_end = -1
        for index in range(item.first + 1, item.last):
            token = tokens[index]
            if token.level != 2 or token.nesting < 0 or token.map is None:
                continue
            if previous_end >= 0 and any(lines.blank(n) for n in range(previous_end, token.map[0])):
                return True
            previous_end = token.map[1]
    return False


def loosen(tokens: list[Token], first: int, last: int) -> None:
    """Show the paragraphs markdown-it hid because it judged this part of a list tight."""
    for index in range(first, last):
        token = tokens[index]
        if token.type in ("paragraph_open", "paragraph_close") and token.level == 2:
            token.hidden = False
