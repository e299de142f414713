"""Long paragraphs: the beginning freezes while the end is typed (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .blocks import Lines, top_level
from .heal import balanced_points, heal
from .live import Live
from .ops import Op
from .stream import PARAGRAPH_KEEP, Mode, StreamBase

# A paragraph longer than this streams as a container: its beginning, up to a word before which
# nothing is open, freezes as inline HTML and only the rest is parsed per update, line after
# line while the lines that come continue it.
PARAGRAPH_MIN = 120


_BLANK_LINE = re.compile(r"[ \t]*\n")
_DELIMITER_ROW = re.compile(r"[ \t|:-]*-[ \t|:-]*")


_WRAP_OPEN = '<span data-chrome="wrap">'
_WRAP_CLOSE = "</span>"


@dataclass
class ParagraphState:
    frozen: list[str] = field(default_factory=list)  # inline HTML of the frozen beginning
    live: str = ""  # inline HTML of the rest, as shown (without its wrapper)
    checked: int = 0  # line endings in the tail before this offset are inside the paragraph


class Paragraphs(StreamBase):
    """A long paragraph streams as a container: its beginning freezes as inline HTML at word
    boundaries before which nothing is open, and only the rest is parsed."""

    _paragraph: ParagraphState | None = None

    def _enter_paragraph(self, ops: list[Op]) -> bool:
        self._paragraph = ParagraphState()
        self._simple = False
        return self._open(ops, "<p></p>\n", None, Mode.PARAGRAPH)

    def _paragraph_step(self, ops: list[Op]) -> bool:
        state = self._paragraph
        assert state is not None
        tail = self._tail
        # Each line ending in the live part: the line after it continues the paragraph, or
        # the paragraph ends (a blank line), or it may be anything (back to a plain block).
        while (newline := tail.find("\n", state.checked)) >= 0:
            blank = _BLANK_LINE.match(tail, newline + 1)
            if blank is not None:
                return self._end_paragraph(ops, newline, blank.end())
            end = tail.find("\n", newline + 1)
            line = tail[newline + 1 :] if end < 0 else tail[newline + 1 : end]
            if not self._line_continues(line, complete=end >= 0):
                return self._leave_paragraph(ops)
            state.checked = newline + 1
        if len(tail) >= 2 * PARAGRAPH_KEEP:
            points = [p for p in balanced_points(tail) if PARAGRAPH_KEEP <= p <= len(tail) - PARAGRAPH_KEEP]
            # A piece must not end at a line ending or begin the next line: the line break
            # between them depends on both sides (trailing spaces, indentation).
            points = [p for p in points if "\n" not in tail[p - 1 : p + 1]]
            if points:
                cut = points[-1]
                html = self._inline(tail[:cut])
                ops.append({"op": "append", "blocks": [html]})
                state.frozen.append(html)
                self._shelve(cut)
                state.checked = max(0, state.checked - cut)
                tail = self._tail
        healed = heal(tail, tables=False)
        state.live = self._inline(healed.text)
        # One element for the live part, so plain words can be appended into it (fast path).
        self._show(ops, _WRAP_OPEN + state.live + _WRAP_CLOSE, healed=healed, fast=True, inline=True)
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
        tokens = self._md.parse_blocks("x\n" + line, self._scratch_env())
        spans = top_level(tokens)
        return len(spans) == 1 and tokens[0].type == "paragraph_open" and spans[0].end_line == 2

    def _end_paragraph(self, ops: list[Op], newline: int, end: int) -> bool:
        """A blank line ended the paragraph: nothing after it can change it, and its beginning
        is rendered already, so it freezes with one more parse of its end only."""
        state = self._paragraph
        assert state is not None
        rest = self._tail[:newline]
        html = "<p>" + "".join(state.frozen) + self._inline(rest.strip()) + "</p>\n"
        self._leave_paragraph(ops, keep_shelf=True)
        source = "".join(self._shelf) + self._tail[:end]
        self._shelf.clear()
        self._tail = self._tail[end:]
        self._freeze_or_append(ops, [html])
        self._committed.append(source)
        self._blocks.append(html)
        self._sources.append(source.rstrip())
        self.stats.frozen_blocks += 1
        return True

    def _leave_paragraph(self, ops: list[Op], *, keep_shelf: bool = False) -> bool:
        """Back to a plain live paragraph (a newline came: it may end, or turn into something
        else). The page keeps its nodes; only the live part loses its wrapper."""
        state = self._paragraph
        assert state is not None
        # What the page shows now, plain words appended since the last render included.
        shown = self._live.html
        inner = shown[len(_WRAP_OPEN) : -len(_WRAP_CLOSE)] if shown.startswith(_WRAP_OPEN) else state.live
        ops.append({"op": "live", "html": inner})
        ops.append({"op": "leave"})
        self._live = Live("<p>" + "".join(state.frozen) + inner + "</p>\n")
        if not keep_shelf:
            self._tail = "".join(self._shelf) + self._tail
            self._shelf.clear()
        self._paragraph = None
        self._mode = Mode.NORMAL
        return True
