"""Long paragraphs: the beginning freezes while the end is typed (pure)."""

from __future__ import annotations

import re

from .blocks import Lines, top_level
from .closers import balanced_points
from .heal import heal
from .live import Live
from .ops import Op
from .stream import PARAGRAPH_KEEP, Stream

# A paragraph longer than this streams as a container: its beginning, up to a word before which
# nothing is open, freezes as inline HTML and only the rest is parsed per update, line after
# line while the lines that come continue it.
PARAGRAPH_MIN = 120


_BLANK_LINE = re.compile(r"[ \t]*\n")
_DELIMITER_ROW = re.compile(r"[ \t|:-]*-[ \t|:-]*")


_WRAP_OPEN = '<span data-chrome="wrap">'
_WRAP_CLOSE = "</span>"


class ParagraphContainer:
    """A long paragraph streams as a container: its beginning freezes as inline HTML at word
    boundaries before which nothing is open, and only the rest is parsed."""

    cheap = False
    growing = True

    def __init__(self, doc: Stream) -> None:
        self.doc = doc
        self.frozen: list[str] = []  # inline HTML of the frozen beginning
        self.live = ""  # inline HTML of the rest, as shown (without its wrapper)
        self.checked = 0  # line endings in the tail before this offset are inside the paragraph

    @classmethod
    def enter(cls, doc: Stream, ops: list[Op]) -> bool:
        doc.simple = False
        return doc.open(ops, "<p></p>\n", None, cls(doc))

    def end(self, ops: list[Op]) -> None:
        self._leave(ops)

    def step(self, ops: list[Op]) -> bool:
        tail = self.doc.tail
        # Each line ending in the live part: the line after it continues the paragraph, or
        # the paragraph ends (a blank line), or it may be anything (back to a plain block).
        while (newline := tail.find("\n", self.checked)) >= 0:
            blank = _BLANK_LINE.match(tail, newline + 1)
            if blank is not None:
                return self._end(ops, newline, blank.end())
            end = tail.find("\n", newline + 1)
            line = tail[newline + 1 :] if end < 0 else tail[newline + 1 : end]
            if not self._line_continues(line, complete=end >= 0):
                return self._leave(ops)
            self.checked = newline + 1
        if len(tail) >= 2 * PARAGRAPH_KEEP:
            points = [p for p in balanced_points(tail) if PARAGRAPH_KEEP <= p <= len(tail) - PARAGRAPH_KEEP]
            # A piece must not end at a line ending or begin the next line: the line break
            # between them depends on both sides (trailing spaces, indentation).
            points = [p for p in points if "\n" not in tail[p - 1 : p + 1]]
            if points:
                cut = points[-1]
                html = self.doc.inline(tail[:cut])
                ops.append({"op": "append", "blocks": [html]})
                self.frozen.append(html)
                self.doc.shelve(cut)
                self.checked = max(0, self.checked - cut)
                tail = self.doc.tail
        healed = heal(tail, tables=False)
        self.live = self.doc.inline(healed.text)
        # One element for the live part, so plain words can be appended into it (fast path).
        self.doc.show(ops, _WRAP_OPEN + self.live + _WRAP_CLOSE, healed=healed, fast=True, inline=True)
        return False

    def _line_continues(self, line: str, *, complete: bool) -> bool:
        """Whether ``line``, after a line of the paragraph, is one more line of it: no block
        starts there that interrupts a paragraph or turns it into a heading, and it is not a
        table's delimiter row (which would make the line above a table header). A line being
        typed must be far enough along to tell. A line found to continue always will: what
        could interrupt is decided by how the line starts."""
        if not complete and not Lines(line).decided(0):
            return False
        if _DELIMITER_ROW.fullmatch(line):
            return False
        tokens = self.doc.md.parse_blocks("x\n" + line, self.doc.scratch_env())
        spans = top_level(tokens)
        return len(spans) == 1 and tokens[0].type == "paragraph_open" and spans[0].end_line == 2

    def _end(self, ops: list[Op], newline: int, end: int) -> bool:
        """A blank line ended the paragraph: nothing after it can change it, and its beginning
        is rendered already, so it freezes with one more parse of its end only."""
        rest = self.doc.tail[:newline]
        html = "<p>" + "".join(self.frozen) + self.doc.inline(rest.strip()) + "</p>\n"
        self._leave(ops, keep_shelf=True)
        source = "".join(self.doc.shelf) + self.doc.tail[:end]
        self.doc.shelf.clear()
        self.doc.tail = self.doc.tail[end:]
        self.doc.freeze_or_append(ops, [html])
        self.doc.committed.append(source)
        self.doc.frozen.append(html)
        self.doc.marks.append(len(self.doc.frozen))
        self.doc.sources.append(source.rstrip())
        self.doc.stats.frozen_blocks += 1
        return True

    def _leave(self, ops: list[Op], *, keep_shelf: bool = False) -> bool:
        """Back to a plain live paragraph (a newline came: it may end, or turn into something
        else). The page keeps its nodes; only the live part loses its wrapper."""
        # What the page shows now, plain words appended since the last render included.
        shown = self.doc.live.html
        inner = shown[len(_WRAP_OPEN) : -len(_WRAP_CLOSE)] if shown.startswith(_WRAP_OPEN) else self.live
        ops.append({"op": "live", "html": inner})
        ops.append({"op": "leave"})
        self.doc.live = Live("<p>" + "".join(self.frozen) + inner + "</p>\n")
        if not keep_shelf:
            self.doc.tail = "".join(self.doc.shelf) + self.doc.tail
            self.doc.shelf.clear()
        self.doc.container = None
        return True
