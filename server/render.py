"""Incremental markdown: the answer so far -> patches for the page (pure, no I/O).

The page holds, per answer, a list of *frozen* blocks that are never touched again and one
*live* part at the end that is swapped as a unit. Each ``update()`` parses only text that is
not yet frozen and returns operations (docs/protocol.md, "Render operations"):

* A top-level block is frozen once the block after it has begun *and* that block's first
  line is settled (complete, or starting with a letter). Freezing on the mere start of the
  next block commits wrong HTML for ``1. a\\n\\n2`` and ``[foo]: /url`` being typed
  (shared/research/rendering-facts.md §2). A frozen block is rendered from its own source with
  the reference definitions seen so far, so it is exactly what a one-shot render gives.
* Long blocks would make each update cost grow with the block, so three kinds stream as
  containers whose finished parts freeze inside them: lists (per item), tables (per row) and
  open code fences (per line, highlighted as lines finish; the open line is appended as plain
  escaped text, so code never flashes back to plain). When the container ends it is compared
  with its one-shot render and replaced only if different (a list that turned loose).
* The live part is healed first (``heal.py``) so that half-written syntax never shows.
* Plain words typed into a paragraph skip markdown-it altogether: the page appends them to the
  last text node (``tail``), which is what the next render would give.
* ``finish()`` renders the whole text once and replaces only the blocks that differ
  (references and footnotes defined after their use).
"""

from __future__ import annotations

import difflib
import enum
import re
from dataclasses import dataclass, field
from typing import Any

from markdown_it.common.utils import mdTrim
from markdown_it.rules_block.table import MAX_AUTOCOMPLETED_CELLS, escapedSplit
from markdown_it.token import Token

from .blocks import (
    Fence,
    Lines,
    Span,
    children,
    fence_opener,
    is_list,
    list_is_loose,
    loosen,
    top_level,
)
from .heal import Healed, balanced_points, heal, heal_inline, only_block_syntax
from .highlight import escape
from .markdown import Markdown

Op = dict[str, Any]

# An open code block is highlighted in batches of finished lines: each batch re-lexes a few
# lines before it for context, so bigger batches cost less in total, and smaller ones colour
# sooner. Lines wait as plain code until their batch is due.
HIGHLIGHT_LINES = 10
HIGHLIGHT_CHARS = 600

# A paragraph line longer than this streams as a container: its beginning, up to a word before
# which nothing is open, freezes as inline HTML and only the rest is parsed per update.
PARAGRAPH_MIN = 120
PARAGRAPH_KEEP = 16  # characters left live after a freeze

_BLANK_LINE = re.compile(r"[ \t]*\n")
_INERT = re.compile(r"[^\W_]|[ ,;?'\"%!=+$^{}()\-.:/@]")
_INERT_RUN = re.compile(r"(?:[^\W_]|[ ,;?'\"%!=+$^{}()\-.:/@])+")
_LINKISH = re.compile(r"[.:@/]\S*[^\W_]")
_CLOSE_RUN = re.compile(r"(?:</[a-z0-9]+>\s*)+$")
_CLOSE_TAG = re.compile(r"</([a-z0-9]+)>")
_EMPTY_CELLS = re.compile(r"(?:<td[^>]*></td>\n)+(?=</tr>)")
_ITEM_WITH_TEXT = re.compile(r"\s*(?:[-*+]|\d{1,9}[.)])\s+\S*?[^\W\d_]")
_BLOCK_TAGS = frozenset(
    ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "td", "th",
    "tr", "tbody", "thead", "table", "div", "pre", "section")
)  # fmt: skip


# The live part of a streaming paragraph is inline content in one wrapper <span>.
_INLINE_ROOT = frozenset({"span"})
_WRAP_OPEN = '<span data-chrome="wrap">'
_WRAP_CLOSE = "</span>"


class Mode(enum.Enum):
    NORMAL = "normal"
    FENCE = "fence"
    LIST = "list"
    TABLE = "table"
    PARAGRAPH = "paragraph"


@dataclass
class RenderStats:
    updates: int = 0
    parses: int = 0
    parsed_chars: int = 0  # the cost model: stays linear in the answer's length
    fast_appends: int = 0
    frozen_blocks: int = 0
    live_swaps: int = 0
    rewrites: int = 0  # a container replaced when it ended (list turned loose, odd table)
    highlighted_lines: int = 0
    reconciled: int = 0  # blocks the final one-shot render replaced or added
    reused: int = 0  # blocks the final render could take as frozen (same source, no "[")


@dataclass
class _Live:
    """What the page shows as the live part at the current level."""

    html: str = ""
    fast: bool = False  # plain text typed next may be appended as is
    depth: int = 0  # ... into this element: levels below the last live node
    at: int = 0  # ... which is this index in ``html``
    debt: str = ""  # white space the render trimmed off the end, owed to the next append


_MARK = "\x00inkstream:inline\x00"  # no source holds a NUL (feed() replaces it)


@dataclass
class _Growth:
    """A live block whose last line is paragraph text: text arriving without a newline only
    grows the content of its last inline."""

    before: str  # the block's HTML before that inline's content
    after: str  # ... and after it
    head: str  # the inline's content before the source's last line (earlier lines)
    cut: int  # where in the source's last line the content starts (after ">", "- ", indent)
    frozen: int = 0  # characters of the content rendered once and kept
    frozen_html: str = ""


@dataclass
class _ListState:
    open_html: str
    ordered: bool
    marker: str
    loose: bool = False
    items_html: list[str] = field(default_factory=list)
    simple: bool = False  # the tail is one item whose last line holds a letter
    growth: _Growth | None = None  # ... and ends with paragraph text


@dataclass
class _TableState:
    open_html: str
    header_src: str
    aligns: list[str]  # each column's cell opening tag
    rows_html: list[str] = field(default_factory=list)
    # The tail is one row being typed: text without a newline only changes its cells.
    simple: bool = False
    cells: dict[str, str] = field(default_factory=dict)  # cell source -> HTML, live row only
    autocompleted: int = 0  # empty cells added to short rows (markdown-it caps them)


@dataclass
class _ParagraphState:
    frozen: list[str] = field(default_factory=list)  # inline HTML of the frozen beginning
    live: str = ""  # inline HTML of the rest, as shown (without its wrapper)


@dataclass
class _FenceState:
    fence: Fence
    lang: str
    lines_src: list[str] = field(default_factory=list)
    stack: tuple[str, ...] | None = None  # where the lexer stopped (see Highlighter.lines)
    lines_html: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # finished lines shown as plain text
    pending_html: str = ""  # ... escaped once
    pending_chars: int = 0


class StreamRenderer:
    """``feed(text)`` as it arrives, ``update()`` when a frame is due, ``finish()`` at the end."""

    def __init__(self, markdown: Markdown, *, doc_id: str | None = None, fast_path: bool = True) -> None:
        self._md = markdown
        self._fast_path = fast_path
        self._doc_id = doc_id
        self._env: dict[str, Any] = self._fresh_env()
        self._pending: list[str] = []
        self._cr = False
        self._tail = ""
        # Source of the open container's frozen children, kept out of the tail so an update
        # costs what its live part costs, not what the whole list, table or code block does.
        self._shelf: list[str] = []
        self._committed: list[str] = []
        self._blocks: list[str] = []
        # Each frozen block's source, so the final render can skip blocks that cannot differ.
        self._sources: list[str] = []
        self._live = _Live()
        self._mode = Mode.NORMAL
        self._list: _ListState | None = None
        self._table: _TableState | None = None
        self._fence: _FenceState | None = None
        self._paragraph: _ParagraphState | None = None
        self._finished = False
        self._new_line = False
        self._held_line = False  # update() left a line ending for the next update
        self._known: dict[str, list[Token]] = {}  # inline content parsed already
        self._plain_checked: tuple[str, bool] | None = None
        # The live block is one paragraph or heading whose last line holds a letter: text
        # without a newline cannot change block structure, so only the live block is parsed.
        self._simple = False
        self._simple_kind = ""
        # The live block's last inline, re-rendered from its growing end (see _Growth).
        self._growth: _Growth | None = None
        self.stats = RenderStats()

    # ----------------------------------------------------------------- public

    @property
    def source(self) -> str:
        """All text fed so far, newlines normalised the way markdown-it normalises them."""
        return "".join(self._committed) + "".join(self._shelf) + self._tail + "".join(self._pending)

    @property
    def blocks(self) -> list[str]:
        """HTML of the frozen top-level blocks, as the page holds them."""
        return list(self._blocks)

    def feed(self, text: str) -> None:
        if self._finished:
            raise RuntimeError("feed() after finish()")
        if self._cr:
            text = "\r" + text
            self._cr = False
        if text.endswith("\r"):
            # Might be the first half of "\r\n": decide when the next piece comes.
            self._cr = True
            text = text[:-1]
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\0" in text:
            text = text.replace("\0", "\ufffd")
        if text:
            self._pending.append(text)

    def update(self) -> list[Op]:
        if not self._pending:
            return []
        new = "".join(self._pending)
        self._pending.clear()
        self.stats.updates += 1
        ops: list[Op] = []
        newline = new.find("\n")
        if (
            newline >= 0
            and (newline == 0 or not self._held_line)  # text before it ends a held line's successor
            and self._growing()
            and _contentless(new[newline + 1 :])
        ):
            # A line ended and nothing of the next one shows yet (it is empty, or only list
            # or quote markers so far): what is on screen cannot change until it does. Show
            # the end of the line, and leave the rest for the next update to look at whole.
            if newline:
                self._step(new[:newline], ops, new_line=False)
            self._tail += new[newline:]
            self._held_line = True
            self._live.fast = False  # words typed next start the new line, not this one
            return ops
        self._step(new, ops, new_line="\n" in new or self._held_line)
        self._held_line = False
        return ops

    def _step(self, new: str, ops: list[Op], *, new_line: bool) -> None:
        self._new_line = new_line
        if new_line or not self._append_plain(new, ops):
            self._tail += new
            self._advance(ops)

    def _growing(self) -> bool:
        """Whether the live part is a block whose last line is being typed, and nothing else
        (the states in which a line ending can be held, see update())."""
        if self._mode is Mode.PARAGRAPH:
            return True
        if self._mode is Mode.NORMAL:
            return self._simple and self._growth is not None
        if self._mode is Mode.LIST:
            return self._list is not None and self._list.growth is not None
        return False

    def finish(self) -> list[Op]:
        """Freeze everything and reconcile with the one-shot render of the whole text."""
        if self._cr:
            self._pending.append("\n")
            self._cr = False
        ops = self.update()
        self._finished = True
        if self._mode is Mode.PARAGRAPH:
            self._leave_paragraph(ops)
        if self._mode is Mode.FENCE:
            self._end_fence(ops, len(self._tail))
        elif self._mode is Mode.LIST:
            self._end_list(ops, self._container_end())
        elif self._mode is Mode.TABLE:
            self._end_table(ops, self._container_end())
        if self._tail:
            self._commit(ops, self._tail)
            self._tail = ""
        elif self._live.html:
            ops.append({"op": "live", "html": ""})
        self._live = _Live()
        self._reconcile(ops)
        return ops

    # ---------------------------------------------------------- the machine

    def _advance(self, ops: list[Op]) -> None:
        # Each step returns True when it switched mode, so what is left is looked at again.
        # Every switch out of a container consumes text, so this ends; the bound is a guard.
        for _ in range(10_000):
            if self._mode is Mode.FENCE:
                switched = self._fence_step(ops)
            elif self._mode is Mode.LIST:
                switched = self._list_step(ops)
            elif self._mode is Mode.TABLE:
                switched = self._table_step(ops)
            elif self._mode is Mode.PARAGRAPH:
                switched = self._paragraph_step(ops)
            else:
                switched = self._normal_step(ops)
            if not switched:
                return
        raise RuntimeError("renderer made no progress")

    def _normal_step(self, ops: list[Op]) -> bool:
        tail = self._tail
        if self._simple and not self._new_line:
            if self._simple_kind == "paragraph_open" and len(tail) >= PARAGRAPH_MIN:
                return self._enter_paragraph(ops)
            return self._simple_step(ops, tail)
        self._simple = False
        self._growth = None
        if not tail.strip():
            self._show(ops, "")
            return False
        env = self._scratch_env()
        tokens = self._parse(tail, env)
        spans = top_level(tokens)
        lines = Lines(tail)
        if not spans:
            self._show(ops, "")
            return False
        keep = len(spans) - 1
        if keep >= 1 and not lines.decided(spans[-1].line):
            keep -= 1
        if keep > 0:
            shift = spans[keep].line
            cut = lines.offset(shift)
            self._commit(ops, tail[:cut])
            tail = self._tail = tail[cut:]
            lines = Lines(tail)
            spans = [Span(s.first, s.last, s.line - shift, s.end_line - shift) for s in spans[keep:]]
        if len(spans) == 1 and self._container(tokens[spans[0].first], lines, spans[0].line):
            if spans[0].line > 0:
                # Blank lines or reference definitions before the block: freeze them first
                # (they show nothing), so the container starts at the top of the tail.
                cut = lines.offset(spans[0].line)
                self._commit(ops, tail[:cut])
                self._tail = tail[cut:]
                lines = Lines(self._tail)
                spans = [Span(spans[0].first, spans[0].last, 0, spans[0].end_line - spans[0].line)]
            first = tokens[spans[0].first]
            if first.type == "fence":
                return self._enter_fence(ops, lines)
            if is_list(first):
                return self._enter_list(ops, tokens, spans[0])
            return self._enter_table(ops, tokens, spans[0], lines)
        kind = tokens[spans[0].first].type
        self._simple = (
            len(spans) == 1
            and kind in ("paragraph_open", "heading_open", "blockquote_open")
            and tail.lstrip()[:1] not in ("|", "[")
            and any(ch.isalpha() for ch in tail.rsplit("\n", 1)[-1])
        )
        # A paragraph of one line only: soft line breaks and what ends a paragraph stay NORMAL.
        self._simple_kind = kind if "\n" not in tail else ""
        if self._simple and kind != "heading_open":
            self._growth = self._growth_of(tokens, spans[0].first, spans[0].last, tail, env)
            if self._growth is not None:
                html, grown = self._grow(self._growth, tail)
                self._show(ops, html, healed=grown, fast=True)
                return False
        healed = Healed(tail, 0, True) if kind == "code_block" else heal(tail)
        if healed.text != tail:
            env = self._scratch_env()
            tokens = self._parse(healed.text, env)
            spans = top_level(tokens)
        if not spans:
            self._show(ops, "")
            return False
        html = self._render(tokens[spans[0].first : spans[-1].last], env)
        fast = len(spans) == 1 and _ends_in_text(tokens, spans[-1])
        self._show(ops, html, healed=healed, fast=fast)
        return False

    def _simple_step(self, ops: list[Op], tail: str) -> bool:
        if self._simple_kind != "heading_open":
            # Only the last line grew: only the end of the block's last inline can change.
            if self._growth is None:
                env = self._scratch_env()
                tokens = self._parse(tail, env)
                spans = top_level(tokens)
                if len(spans) == 1:
                    self._growth = self._growth_of(tokens, spans[0].first, spans[0].last, tail, env)
            if self._growth is not None:
                html, healed = self._grow(self._growth, tail)
                self._show(ops, html, healed=healed, fast=True)
                return False
        healed = heal(tail)
        env = self._scratch_env()
        tokens = self._parse(healed.text, env)
        spans = top_level(tokens)
        if not spans:
            self._show(ops, "")
            return False
        html = self._render(tokens[spans[0].first : spans[-1].last], env)
        self._show(ops, html, healed=healed, fast=len(spans) == 1 and _ends_in_text(tokens, spans[-1]))
        return False

    def _growth_of(
        self, tokens: list[Token], first: int, last: int, source: str, env: dict[str, Any]
    ) -> _Growth | None:
        """The live block ``tokens[first:last]`` (parsed from ``source``) as a _Growth, if it
        ends with paragraph text on the source's last line."""
        index = last - 1
        while index > first and tokens[index].nesting < 0:
            index -= 1
        inline = tokens[index]
        if inline.type != "inline" or index == first or tokens[index - 1].type != "paragraph_open":
            return None
        line = source.rsplit("\n", 1)[-1].rstrip()
        content = inline.content
        last_line = content.rsplit("\n", 1)[-1]
        if not last_line or not line.endswith(last_line) or content.lstrip()[:1] in ("|", "["):
            return None
        children = inline.children
        inline.children = [Token("text", "", 0, content=_MARK)]
        try:
            parts = self._render(tokens[first:last], env).split(_MARK)
        finally:
            inline.children = children
        if len(parts) != 2:
            return None
        return _Growth(
            parts[0], parts[1], content[: len(content) - len(last_line)], len(line) - len(last_line)
        )

    def _grow(self, growth: _Growth, source: str) -> tuple[str, Healed]:
        """The live block's HTML after its last line grew to the end of ``source``: the
        inline's beginning up to a word before which nothing is open is rendered once and kept
        (as a long paragraph's is), only the rest is parsed."""
        content = growth.head + source.rsplit("\n", 1)[-1][growth.cut :]
        rest = content[growth.frozen :]
        if len(rest) >= 2 * PARAGRAPH_KEEP:
            points = [p for p in balanced_points(rest) if PARAGRAPH_KEEP <= p <= len(rest) - PARAGRAPH_KEEP]
            points = [p for p in points if "\n" not in rest[p - 1 : p + 1]]
            if points:
                cut = points[-1]
                growth.frozen_html += self._inline(rest[:cut])
                growth.frozen += cut
                rest = rest[cut:]
        healed = heal_inline(rest)
        html = growth.before + growth.frozen_html + self._inline(healed.text.rstrip()) + growth.after
        return html, healed

    @staticmethod
    def _container(first: Token, lines: Lines, line: int) -> bool:
        """Whether the live block streams as a container (see the module docstring)."""
        if first.type == "fence":
            return lines.complete(line)
        if is_list(first):
            return _item_decided(lines, line)
        return first.type == "table_open" and lines.complete(line + 1)

    def _commit(self, ops: list[Op], segment: str) -> None:
        """Freeze ``segment`` (whole top-level blocks) at the current, top level."""
        self._simple = False
        tokens = self._parse(segment, self._env)
        spans = top_level(tokens)
        htmls = [self._render(tokens[s.first : s.last], self._env) for s in spans]
        self._committed.append(segment)
        if not htmls:
            self._show(ops, "")
            return
        self._freeze_or_append(ops, htmls)
        self._blocks.extend(htmls)
        lines = Lines(segment)
        self._sources.extend(_span_source(lines, s) for s in spans)
        self.stats.frozen_blocks += len(htmls)

    def _freeze_or_append(self, ops: list[Op], htmls: list[str]) -> None:
        if len(htmls) == 1 and self._live.html and htmls[0] == self._live.html:
            # The page already shows exactly this: keep its nodes (and any selection in them).
            ops.append({"op": "freeze"})
        else:
            if self._live.html:
                ops.append({"op": "live", "html": ""})
            ops.append({"op": "append", "blocks": htmls})
        self._live = _Live()

    # ------------------------------------------------------------- paragraphs

    def _enter_paragraph(self, ops: list[Op]) -> bool:
        self._paragraph = _ParagraphState()
        ops.append({"op": "open", "html": "<p></p>\n", "slot": None})
        self._live = _Live()
        self._mode = Mode.PARAGRAPH
        self._simple = False
        return True

    def _paragraph_step(self, ops: list[Op]) -> bool:
        state = self._paragraph
        assert state is not None
        tail = self._tail
        if self._new_line or "\n" in tail:
            newline = tail.find("\n")
            blank = _BLANK_LINE.match(tail, newline + 1)
            if blank is not None:
                return self._end_paragraph(ops, newline, blank.end())
            return self._leave_paragraph(ops)
        if len(tail) >= 2 * PARAGRAPH_KEEP:
            points = [p for p in balanced_points(tail) if PARAGRAPH_KEEP <= p <= len(tail) - PARAGRAPH_KEEP]
            if points:
                cut = points[-1]
                html = self._inline(tail[:cut])
                ops.append({"op": "append", "blocks": [html]})
                state.frozen.append(html)
                self._shelve(cut)
                tail = self._tail
        healed = heal(tail, tables=False)
        state.live = self._inline(healed.text)
        # One element for the live part, so plain words can be appended into it (fast path).
        self._show(ops, _WRAP_OPEN + state.live + _WRAP_CLOSE, healed=healed, fast=True, inline=True)
        return False

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
        self._live = _Live("<p>" + "".join(state.frozen) + inner + "</p>\n")
        if not keep_shelf:
            self._tail = "".join(self._shelf) + self._tail
            self._shelf.clear()
        self._paragraph = None
        self._mode = Mode.NORMAL
        return True

    def _inline(self, text: str) -> str:
        """Inline HTML of paragraph text (its footnote tail, if any, left out)."""
        self.stats.parses += 1
        self.stats.parsed_chars += len(text)
        return self._md.render_inline(text, self._scratch_env())

    # ------------------------------------------------------------------ lists

    def _enter_list(self, ops: list[Op], tokens: list[Token], span: Span) -> bool:
        first = tokens[span.first]
        items = children(tokens, span, 1, "list_item_open")
        marker = tokens[items[0].first].markup if items else first.markup
        open_html = self._md.render_token(tokens, span.first)
        self._list = _ListState(open_html, first.type == "ordered_list_open", marker)
        ops.append({"op": "open", "html": open_html, "slot": None})
        self._live = _Live()
        self._mode = Mode.LIST
        return True

    def _list_step(self, ops: list[Op]) -> bool:
        state = self._list
        assert state is not None
        if state.simple and not self._new_line:
            # Only the live item's last line grew: items, looseness and where the list ends
            # cannot have changed, so only the end of the item's last inline is parsed (or,
            # when the item does not end in paragraph text, the item).
            if state.growth is not None:
                html, healed = self._grow(state.growth, self._tail)
                self._show(ops, html, healed=healed, fast=True)
                return False
            healed = heal(self._tail)
            html, fast = self._render_items(healed.text, state.loose)
            self._show(ops, html, healed=healed, fast=fast)
            return False
        state.simple = False
        state.growth = None
        region = self._tail
        env = self._scratch_env()
        tokens = self._parse(region, env)
        spans = top_level(tokens)
        lines = Lines(region)
        if not spans or spans[0].line != 0 or not self._continues(tokens[spans[0].first], state):
            return self._end_list(ops, 0)
        span = spans[0]
        if len(spans) > 1 and lines.decided(spans[1].line):
            return self._end_list(ops, lines.offset(spans[1].line))
        items = children(tokens, span, 1, "list_item_open")
        if not items:
            return self._end_list(ops, 0)
        if not state.loose and list_is_loose(tokens, span, items, lines):
            state.loose = True
            if state.items_html:
                self._loosen_frozen_items(ops, state)
        if state.loose:
            loosen(tokens, span.first, span.last)
        keep = len(items) - 1
        if keep >= 1 and not _item_decided(lines, items[-1].line):
            keep -= 1
        live_start = lines.offset(items[keep].line)
        if keep > 0:
            htmls = [self._render(tokens[i.first : i.last], env) for i in items[:keep]]
            self._freeze_or_append(ops, htmls)
            state.items_html.extend(htmls)
        live_src = region[live_start:]
        state.simple = len(spans) == 1 and keep == len(items) - 1 and _has_letter(region.rsplit("\n", 1)[-1])
        if state.simple:
            state.growth = self._growth_of(tokens, items[keep].first, items[-1].last, live_src, env)
        if live_start:
            self._shelve(live_start)
        if state.growth is not None:
            html, healed = self._grow(state.growth, live_src)
            self._show(ops, html, healed=healed, fast=True)
            return False
        healed = heal(live_src)
        if healed.text == live_src:
            html = self._render(tokens[items[keep].first : items[-1].last], env)
            fast = keep == len(items) - 1 and _ends_in_text(tokens, items[-1])
        else:
            html, fast = self._render_items(healed.text, state.loose)
        # Text after the list not shown yet (a block still undecided) would make the next
        # words land in the wrong place.
        fast = fast and len(spans) == 1
        self._show(ops, html, healed=healed, fast=fast)
        return False

    def _continues(self, token: Token, state: _ListState) -> bool:
        if not is_list(token) or (token.type == "ordered_list_open") != state.ordered:
            return False
        return token.markup == state.marker

    def _render_items(self, src: str, loose: bool) -> tuple[str, bool]:
        env = self._scratch_env()
        tokens = self._parse(src, env)
        spans = top_level(tokens)
        if not spans or not is_list(tokens[spans[0].first]):
            return "", False
        items = children(tokens, spans[0], 1, "list_item_open")
        if not items:
            return "", False
        if loose:
            loosen(tokens, items[0].first, items[-1].last)
        html = self._render(tokens[items[0].first : items[-1].last], env)
        return html, len(items) == 1 and _ends_in_text(tokens, items[-1])

    def _loosen_frozen_items(self, ops: list[Op], state: _ListState) -> None:
        """The list turned loose: its frozen items must show their paragraphs. Once per list."""
        env = self._scratch_env()
        tokens = self._parse("".join(self._shelf), env)
        spans = top_level(tokens)
        items = children(tokens, spans[0], 1, "list_item_open") if spans else []
        loosen(tokens, 0, len(tokens))
        state.items_html = [self._render(tokens[i.first : i.last], env) for i in items]
        ops.append({"op": "reopen", "html": state.open_html + "".join(state.items_html), "slot": None})
        self._live = _Live()
        self.stats.rewrites += 1

    def _end_list(self, ops: list[Op], end: int) -> bool:
        """The list is over. Its items froze from parses that held each of them whole, so if
        the finished list has the structure that streamed (same opening tag, as loose or
        tight, no fewer items) they stand, and only the items not frozen yet are rendered.
        Otherwise (rare) the whole list is rendered and replaces what streamed."""
        state = self._list
        assert state is not None
        source = "".join(self._shelf) + self._tail[:end]
        tokens = self._blocks_of(source)
        spans = top_level(tokens)
        htmls: list[str] = []
        matched = False
        if len(spans) == 1 and is_list(tokens[spans[0].first]):
            span = spans[0]
            items = children(tokens, span, 1, "list_item_open")
            done = len(state.items_html)
            matched = (
                len(items) >= done
                and self._md.render_token(tokens, span.first) == state.open_html
                and list_is_loose(tokens, span, items, Lines(source)) == state.loose
            )
            if matched:
                rest = []
                for item in items[done:]:
                    self._md.fill_inline(tokens[item.first : item.last], self._env)
                    rest.append(self._render(tokens[item.first : item.last], self._env))
                close = self._md.render_token(tokens, span.last - 1)
                htmls = [state.open_html + "".join(state.items_html) + "".join(rest) + close]
                self._close_container(ops, rest)
        if not matched:
            self._md.fill_inline(tokens, self._env)
            htmls = [self._render(tokens[s.first : s.last], self._env) for s in spans]
        self._end_container(ops, end, htmls, matched)
        self._list = None
        return True

    def _blocks_of(self, source: str) -> list[Token]:
        """Block structure of a finished container's source, with the answer's env (a
        definition inside the container counts from now on)."""
        self.stats.parses += 1
        self.stats.parsed_chars += len(source)
        return self._md.parse_blocks(source, self._env)

    # ----------------------------------------------------------------- tables

    def _enter_table(self, ops: list[Op], tokens: list[Token], span: Span, lines: Lines) -> bool:
        header_src = self._tail[: lines.offset(2)]
        head = self._parse(header_src, self._scratch_env())
        html = self._render(head, {})
        open_html = html.replace("</table>", "<tbody>\n</tbody>\n</table>", 1)
        aligns = [
            self._md.render_token(head, i).replace("<th", "<td", 1)
            for i, t in enumerate(head)
            if t.type == "th_open"
        ]
        self._table = _TableState(open_html, header_src, aligns)
        self._shelve(len(header_src))
        ops.append({"op": "open", "html": open_html, "slot": "tbody"})
        self._live = _Live()
        self._mode = Mode.TABLE
        return True

    def _table_step(self, ops: list[Op]) -> bool:
        state = self._table
        assert state is not None
        if state.simple and not self._new_line:
            return self._table_row_step(ops, state)
        state.simple = False
        state.cells.clear()
        # Finished lines that can only be rows (they start with a pipe) are rows: built here
        # as the table rule builds them, without parsing the table again.
        built: list[str] = []
        tail = self._tail
        pos = 0
        while (newline := tail.find("\n", pos)) >= 0:
            row = self._row(state, tail[pos:newline])
            if row is None:
                break
            built.append(row)
            pos = newline + 1
        if built:
            self._freeze_or_append(ops, built)
            state.rows_html.extend(built)
            self._shelve(pos)
        if "\n" not in self._tail and _PIPE_LED.match(self._tail):
            state.simple = True
            return self._table_row_step(ops, state)
        if not self._tail:
            self._show(ops, "")
            return False
        region = state.header_src + self._tail
        offset = len(state.header_src)
        env = self._scratch_env()
        tokens = self._parse(region, env)
        spans = top_level(tokens)
        lines = Lines(region)
        if not spans or tokens[spans[0].first].type != "table_open":
            return self._end_table(ops, 0)
        if len(spans) > 1 and lines.decided(spans[1].line):
            return self._end_table(ops, lines.offset(spans[1].line) - offset)
        rows = [r for r in children(tokens, spans[0], 2, "tr_open") if r.line >= 2]
        done = [r for r in rows if lines.complete(r.line)]
        if done:
            htmls = [self._render(tokens[r.first : r.last], env) for r in done]
            self._freeze_or_append(ops, htmls)
            state.rows_html.extend(htmls)
        live = rows[-1] if rows and not lines.complete(rows[-1].line) else None
        html = ""
        healed = None
        if live is not None:
            row_src = lines.get(live.line)
            healed = heal(row_src, tables=False)
            if healed.text == row_src:
                html = self._render(tokens[live.first : live.last], env)
            elif healed.text.strip():
                again = self._parse(state.header_src + healed.text, self._scratch_env())
                found = [r for s in top_level(again)[:1] for r in children(again, s, 2, "tr_open")]
                body = [r for r in found if r.line >= 2]
                html = self._render(again[body[0].first : body[0].last], env) if body else ""
            # The cells not typed yet stay off the live row, so its last cell is the one being
            # typed, and plain words go straight into it (the fast path).
            html = _EMPTY_CELLS.sub("", html)
        alone = live is not None and not self._pending_after(lines, live)
        # A line without a leading pipe may yet turn out to be a list or a heading.
        state.simple = alone and self._tail.lstrip().startswith("|")
        self._show(ops, html, healed=healed, fast=alone and _typing_in_a_cell(healed))
        if done:
            self._shelve(lines.offset(done[-1].line + 1) - offset)
        return False

    def _table_row_step(self, ops: list[Op], state: _TableState) -> bool:
        """The row being typed, cell by cell, without parsing the table: only its last cell
        usually changed. Cells not typed yet stay off, so the last one shown is the one being
        typed, and plain words go straight into it (the fast path)."""
        healed = heal(self._tail, tables=False)
        parts = ["<tr>\n"]
        for opening, cell in zip(state.aligns, _cells(healed.text), strict=False):
            if not cell:
                break
            parts.append(f"{opening}{self._cell(state, cell)}</td>\n")
        html = "".join(parts) + "</tr>\n" if len(parts) > 1 else ""
        self._show(ops, html, healed=healed, fast=_typing_in_a_cell(healed))
        return False

    def _row(self, state: _TableState, line: str) -> str | None:
        """A finished body line that starts with a pipe, as markdown-it's table rule makes it
        (rules_block/table.py); None for anything else, which the parse path decides."""
        if not _PIPE_LED.match(line):
            return None
        cells = _cells(line)
        state.autocompleted += len(state.aligns) - len(cells)
        if state.autocompleted > MAX_AUTOCOMPLETED_CELLS:
            return None
        parts = ["<tr>\n"]
        for index, opening in enumerate(state.aligns):
            cell = cells[index] if index < len(cells) else ""
            parts.append(f"{opening}{self._cell(state, cell) if cell else ''}</td>\n")
        parts.append("</tr>\n")
        return "".join(parts)

    def _cell(self, state: _TableState, source: str) -> str:
        inner = state.cells.get(source)
        if inner is None:
            self.stats.parses += 1
            self.stats.parsed_chars += len(source)
            inner = self._md.render_inline(source, {"references": self._env.get("references", {})})
            state.cells[source] = inner
        return inner

    @staticmethod
    def _pending_after(lines: Lines, row: Span) -> bool:
        """Whether text follows the live row (then it is not where typing happens)."""
        return row.line + 1 < len(lines)

    def _end_table(self, ops: list[Op], end: int) -> bool:
        """The table is over: as for lists, what froze stands if the finished table has the
        rows that streamed (a table with no body rows has no <tbody>: that one is replaced)."""
        state = self._table
        assert state is not None
        source = "".join(self._shelf) + self._tail[:end]
        tokens = self._blocks_of(source)
        spans = top_level(tokens)
        htmls: list[str] = []
        matched = False
        if len(spans) == 1 and tokens[spans[0].first].type == "table_open":
            rows = [r for r in children(tokens, spans[0], 2, "tr_open") if r.line >= 2]
            done = len(state.rows_html)
            matched = bool(rows) and len(rows) >= done
            if matched:
                rest = []
                for row in rows[done:]:
                    self._md.fill_inline(tokens[row.first : row.last], self._env)
                    rest.append(self._render(tokens[row.first : row.last], self._env))
                body = "".join(state.rows_html) + "".join(rest)
                htmls = [state.open_html.replace("</tbody>", body + "</tbody>", 1)]
                self._close_container(ops, rest)
        if not matched:
            self._md.fill_inline(tokens, self._env)
            htmls = [self._render(tokens[s.first : s.last], self._env) for s in spans]
        self._end_container(ops, end, htmls, matched)
        self._table = None
        return True

    # ----------------------------------------------------------------- fences

    def _enter_fence(self, ops: list[Op], lines: Lines) -> bool:
        fence = fence_opener(lines.get(0))
        if fence is None:  # markdown-it saw a fence our scan does not: render it plainly
            html = self._render(self._parse(self._tail, self._scratch_env()), {})
            self._show(ops, html)
            return False
        lang = _fence_lang(fence.info)
        self._fence = _FenceState(fence, lang)
        self._shelve(lines.offset(1))
        ops.append(
            {
                "op": "open",
                "html": self._md.code_open(fence.info) + self._md.code_close(),
                "slot": "code",
            }
        )
        self._live = _Live()
        self._mode = Mode.FENCE
        return True

    def _fence_step(self, ops: list[Op]) -> bool:
        state = self._fence
        assert state is not None
        tail = self._tail
        pos = 0
        closed_at = -1
        while True:
            newline = tail.find("\n", pos)
            if newline == -1:
                break
            line = tail[pos:newline]
            if state.fence.closes(line):
                closed_at = newline + 1
                break
            content = state.fence.content(line)
            state.pending.append(content)
            state.pending_html += escape(content) + "\n"
            state.pending_chars += newline - pos
            pos = newline + 1
        if closed_at >= 0:
            return self._end_fence(ops, closed_at)
        self._shelve(pos)
        # Small batches first, so a block's first lines are coloured at once; bigger ones
        # once it is long, where the context re-lexed per batch would add up.
        batch = min(HIGHLIGHT_LINES, 2 + len(state.lines_src) // 4)
        if len(state.pending) >= batch or state.pending_chars >= HIGHLIGHT_CHARS:
            self._code_lines(ops)
        partial = self._tail
        stripped = partial.strip()
        if stripped and set(stripped) == {state.fence.char} and len(partial) - len(partial.lstrip(" ")) <= 3:
            partial = ""  # the closing fence being typed: never show it as code
        # Finished lines not yet highlighted, and the line being typed, as plain code.
        live = state.pending_html + escape(state.fence.content(partial))
        self._show(ops, live)
        return False

    def _code_lines(self, ops: list[Op]) -> None:
        """Highlight the finished lines waiting as plain text, and freeze them."""
        state = self._fence
        assert state is not None
        new = state.pending
        htmls, state.stack = self._md.highlighter.lines(state.lines_src, new, state.lang, state.stack)
        self.stats.highlighted_lines += len(new)
        state.lines_src.extend(new)
        state.lines_html.extend(htmls)
        state.pending = []
        state.pending_html = ""
        state.pending_chars = 0
        if self._live.html:
            ops.append({"op": "live", "html": ""})
            self._live = _Live()
        ops.append({"op": "append", "blocks": [h + "\n" for h in htmls]})

    def _end_fence(self, ops: list[Op], end: int) -> bool:
        state = self._fence
        assert state is not None
        tokens, spans, htmls = self._final_render("".join(self._shelf) + self._tail[:end])
        matched = False
        if len(spans) == 1 and tokens[spans[0].first].type == "fence":
            # The one-shot render highlights the block once; its lines finish what was streamed.
            head = self._md.code_open(state.fence.info)
            tail = self._md.code_close()
            final = htmls[0]
            if final.startswith(head) and final.endswith(tail):
                parts = final[len(head) : len(final) - len(tail)].split("\n")
                # A block cut off at the end of the answer may end without a newline.
                lines = [line + "\n" for line in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
                streamed = [h + "\n" for h in state.lines_html]
                if lines[: len(streamed)] == streamed:
                    self._close_container(ops, lines[len(streamed) :])
                    matched = True
        self._end_container(ops, end, htmls, matched)
        self._fence = None
        return True

    # -------------------------------------------------------------- containers

    def _shelve(self, size: int) -> None:
        """Move the first ``size`` characters of the tail (frozen inside the open container)
        onto the shelf."""
        if size:
            self._shelf.append(self._tail[:size])
            self._tail = self._tail[size:]

    def _container_end(self) -> int:
        """Where in the tail the open list or table ends, once no more text will come: a
        block after it may still have been undecided."""
        shelf = "".join(self._shelf)
        source = shelf + self._tail
        spans = top_level(self._md.parse_blocks(source, self._scratch_env()))
        if len(spans) < 2:
            return len(self._tail)
        return max(0, Lines(source).offset(spans[1].line) - len(shelf))

    def _final_render(self, src: str) -> tuple[list[Token], list[Span], list[str]]:
        tokens = self._parse(src, self._env)
        spans = top_level(tokens)
        return tokens, spans, [self._render(tokens[s.first : s.last], self._env) for s in spans]

    def _close_container(self, ops: list[Op], rest: list[str]) -> None:
        """The container as shown is right: add its last children and close it."""
        if len(rest) == 1 and rest[0] == self._live.html:
            ops.append({"op": "freeze"})
        else:
            if self._live.html:
                ops.append({"op": "live", "html": ""})
            if rest:
                ops.append({"op": "append", "blocks": rest})
        ops.append({"op": "close"})

    def _end_container(self, ops: list[Op], end: int, htmls: list[str], matched: bool) -> None:
        html = "".join(htmls)
        if not matched:
            ops.append({"op": "replace", "html": html})
            self.stats.rewrites += 1
        source = "".join(self._shelf) + self._tail[:end]
        self._committed.append(source)
        self._shelf.clear()
        self._tail = self._tail[end:]
        self._blocks.append(html)
        self._sources.append(source.rstrip())
        self.stats.frozen_blocks += 1
        self._live = _Live()
        self._mode = Mode.NORMAL

    # ------------------------------------------------------------- the end

    def _reconcile(self, ops: list[Op]) -> None:
        """The one-shot render of the whole answer, block by block against what is frozen.

        The whole text is parsed once for its block structure; a block's inline content is
        parsed again only if the block could differ from its frozen copy: its source is not
        the one frozen, or it holds a "[" and the answer defines references (which a block
        frozen before their definition could not resolve). Footnotes are numbered across the
        answer, so an answer with any gets the full parse."""
        source = "".join(self._committed)
        env = self._fresh_env()
        self.stats.parses += 1
        self.stats.parsed_chars += len(source)
        whole = "[^" in source
        tokens = self._md.parse(source, env) if whole else self._md.parse_blocks(source, env)
        spans = top_level(tokens)
        lines = Lines(source)
        references = bool(env.get("references"))
        final = []
        for index, span in enumerate(spans):
            text = _span_source(lines, span)
            if (
                index < len(self._sources)
                and self._sources[index] == text
                and not (references and "[" in text)
                and not (whole and "[" in text)
            ):
                final.append(self._blocks[index])
                self.stats.reused += 1
            else:
                block = tokens[span.first : span.last]
                if not whole:
                    self._md.fill_inline(block, env)
                final.append(self._render(block, env))
        end = spans[-1].last if spans else 0
        if end < len(tokens):  # the footnote section: a block of its own, at the very end
            final.append(self._render(tokens[end:], env))
        matcher = difflib.SequenceMatcher(None, self._blocks, final, autojunk=False)
        for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
            if tag == "equal":
                continue
            ops.append({"op": "splice", "at": i1, "remove": i2 - i1, "blocks": final[j1:j2]})
            self.stats.reconciled += j2 - j1
        self._blocks = final
        self._sources = []

    # ------------------------------------------------------------- plumbing

    def _plain(self, new: str) -> bool:
        """Whether ``new`` can take the fast path: plain words at the end of a paragraph,
        list item or table cell, which need no parse."""
        live = self._live
        if not self._fast_path or not live.fast or "\n" in new or not _INERT_RUN.fullmatch(new):
            return False
        tail = self._tail
        if not tail or not _INERT.fullmatch(tail[-1]):
            return False
        word_start = max(tail.rfind(" "), tail.rfind("\n"), tail.rfind("\t")) + 1
        # Might be turning into a linkified URL or e-mail address.
        return not any(_LINKISH.search(word) for word in (tail[word_start:] + new).split())

    def _append_plain(self, new: str, ops: list[Op]) -> bool:
        checked = self._plain_checked
        self._plain_checked = None
        plain = checked[1] if checked is not None and checked[0] is new else self._plain(new)
        if not plain:
            return False
        live = self._live
        text = live.debt + new
        ops.append({"op": "tail", "text": text, "depth": live.depth})
        escaped = escape(text)
        live.html = live.html[: live.at] + escaped + live.html[live.at :]
        live.at += len(escaped)
        live.debt = ""
        self._tail += new
        self.stats.fast_appends += 1
        return True

    @property
    def cheap(self) -> bool:
        """Whether the next ``update()`` costs next to nothing (plain words, or code being
        typed), so a caller pacing renders need not wait for it."""
        if not self._pending:
            return True
        if self._mode is Mode.FENCE:
            return True
        if len(self._pending) > 1:
            self._pending[:] = ["".join(self._pending)]
        checked = self._plain_checked
        if checked is not None and checked[0] is self._pending[0]:
            return checked[1]  # asked again before anything new arrived
        # Remembered for the update() that usually follows at once.
        self._plain_checked = (self._pending[0], self._plain(self._pending[0]))
        return self._plain_checked[1]

    def _show(
        self,
        ops: list[Op],
        html: str,
        *,
        healed: Healed | None = None,
        fast: bool = False,
        inline: bool = False,
    ) -> None:
        if html != self._live.html:
            ops.append({"op": "live", "html": html})
            self.stats.live_swaps += 1
        live = _Live(html)
        if fast and healed is not None and healed.clean_end:
            last_line = _line_content(healed.text.rsplit("\n", 1)[-1])
            target = _text_target(html, healed.opened, _INLINE_ROOT if inline else _BLOCK_TAGS)
            # A heading's closing "#"s are dropped by the render: "## Fix #" + " 42" is not
            # "Fix" + " 42". Block markers are not content: "- [x] --" + "-" is a rule.
            if target is not None and _has_letter(last_line) and not last_line.rstrip().endswith("#"):
                live.fast = True
                live.depth, live.at = target
                # A block render trims trailing white space. An inline one keeps it, but outside
                # the elements healing closed around the end, where the next words go.
                trailing = healed.text[len(healed.text.rstrip(" \t")) :]
                live.debt = trailing if (not inline or healed.opened) else ""
        self._live = live

    def _parse(self, src: str, env: dict[str, Any]) -> list[Token]:
        self.stats.parses += 1
        self.stats.parsed_chars += len(src)
        return self._md.parse_reusing(src, env, self._known)

    def _render(self, tokens: list[Token], env: dict[str, Any]) -> str:
        return self._md.render_tokens(tokens, env)

    def _fresh_env(self) -> dict[str, Any]:
        env: dict[str, Any] = {"references": {}}
        if self._doc_id is not None:
            env["docId"] = self._doc_id
        return env

    def _scratch_env(self) -> dict[str, Any]:
        """A copy of the committed env a live parse may scribble on."""
        env = dict(self._env)
        env["references"] = dict(self._env.get("references", {}))
        notes = self._env.get("footnotes")
        if isinstance(notes, dict):
            env["footnotes"] = {
                key: (
                    {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}
                    if isinstance(value, dict)
                    else value
                )
                for key, value in notes.items()
            }
        return env


def _span_source(lines: Lines, span: Span) -> str:
    start = lines.offset(span.line)
    end = lines.offset(span.end_line) if span.end_line < len(lines) else len(lines.text)
    return lines.text[start:end].rstrip()


def _fence_lang(info: str) -> str:
    return info.split(maxsplit=1)[0] if info else ""


_LINE_MARKERS = re.compile(
    r"(?:[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t])|#{1,6}(?=[ \t])|\[[ xX]\](?=[ \t])))*"
)


def _line_content(line: str) -> str:
    """A line without its block markers (quote, list, heading, task box)."""
    match = _LINE_MARKERS.match(line)
    return line[match.end() :] if match else line


def _has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def _contentless(text: str) -> bool:
    """Lines that show nothing yet: blank, or only block markers being typed ("   - ", "> ",
    "1."), which healing would hold back anyway."""
    return all(not line.strip() or only_block_syntax(line) for line in text.split("\n"))


# A table body line that can be nothing but a row: a pipe first, at most 3 spaces before it.
_PIPE_LED = re.compile(r" {0,3}\|")


def _cells(line: str) -> list[str]:
    """A row's cells as markdown-it's table rule splits them: pipes escaped with a backslash
    are text, outer pipes are dropped, each cell is trimmed."""
    columns = escapedSplit(mdTrim(line))
    if columns and columns[0] == "":
        columns.pop(0)
    if columns and columns[-1] == "":
        columns.pop()
    return [mdTrim(column) for column in columns]


def _typing_in_a_cell(healed: Healed | None) -> bool:
    """The live row's last cell has text: words typed next extend it. (After "| " they would
    start a new cell the display does not show yet.)"""
    if healed is None:
        return False
    cells = re.split(r"(?<!\\)\|", healed.text)
    return len(cells) > 1 and bool(cells[-1].strip())


def _item_decided(lines: Lines, line: int) -> bool:
    """A list item's first line is complete, or has text after its marker."""
    return lines.complete(line) or _ITEM_WITH_TEXT.match(lines.get(line)) is not None


def _ends_in_text(tokens: list[Token], span: Span) -> bool:
    """Whether the block ends with inline content of a paragraph or heading."""
    index = span.last - 1
    while index > span.first and tokens[index].nesting < 0:
        index -= 1
    return (
        tokens[index].type == "inline"
        and index > 0
        and tokens[index - 1].type in ("paragraph_open", "heading_open")
    )


# Closing tags at the end of a live block fit in far fewer characters than this; searching only
# there keeps each plain-word append from scanning the whole paragraph.
_END_WINDOW = 400


def _closing_run(body: str) -> re.Match[str] | None:
    return _CLOSE_RUN.search(body, max(0, len(body) - _END_WINDOW))


def _text_target(html: str, opened: int, roots: frozenset[str]) -> tuple[int, int] | None:
    """Where text typed next goes: how many elements below the live root (through the block
    elements that end here, then into the inline elements healing opened), and at which index
    of ``html`` that is."""
    body = html.rstrip()
    run = _closing_run(body)
    if run is None or not body[: run.start()] or body[: run.start()].endswith(">"):
        return None
    tags = list(_CLOSE_TAG.finditer(body, run.start()))
    blocks = 0
    for tag in reversed(tags):
        if tag.group(1) not in roots:
            break
        blocks += 1
    if blocks == 0 or opened > len(tags) - blocks:
        return None
    depth = blocks - 1 + opened
    # The element at ``depth`` is closed by the (depth+1)-th closing tag counted from the end.
    return depth, tags[len(tags) - 1 - depth].start()
