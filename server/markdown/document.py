"""Incremental markdown: the answer so far -> patches for the page (pure, no I/O).

The page holds, per answer, a list of *frozen* blocks that are never touched again and one
*live* part at the end that is swapped as a unit. Each ``update()`` parses only text that is
not yet frozen and returns operations (docs/protocol.md, "Render operations"):

* A top-level block is frozen once the block after it has begun *and* that block's first
  line is settled (complete, or starting with a letter). Freezing on the mere start of the
  next block commits wrong HTML for ``1. a\\n\\n2`` and ``[foo]: /url`` being typed
  (shared/research/rendering-facts.md §2). A frozen block is rendered from its own source with
  the reference definitions seen so far, so it is exactly what a one-shot render gives.
* Long blocks would make each update cost grow with the block, so four kinds stream as
  containers whose finished parts freeze inside them: lists (per item, lists.py), tables (per
  row, tables.py), open code blocks (per line, highlighted in batches, fences.py) and long
  paragraph lines (their balanced beginning, paragraphs.py). A finished container whose block
  structure is what streamed stands as it is; one that changed (rare) is replaced once.
* The live part is healed first (heal.py) so that half-written syntax never shows. Text that
  only extends a live block's last line re-renders only the end of its last inline
  (stream.py, Growth); a line ending with nothing after it yet is held until there is.
* Plain words typed into a paragraph skip markdown-it altogether: the page appends them to the
  last text node (``tail``, live.py), which is what the next render would give.
* ``finish()`` renders the whole text once (its block structure, and the inline content of the
  blocks that may differ) and replaces only the blocks that differ: references and footnotes
  defined after their use.
"""

from __future__ import annotations

import difflib
from typing import Any

from markdown_it.token import Token

from .blocks import Lines, Span, is_list, top_level
from .engine import Markdown
from .fences import FenceContainer
from .heal import Healed, heal, only_block_syntax
from .lists import ListContainer, item_decided
from .live import Live
from .ops import Addresses, Op
from .paragraphs import PARAGRAPH_MIN, ParagraphContainer
from .quotes import QuoteContainer
from .stream import RenderStats, Stream, ends_in_text
from .tables import TableContainer

__all__ = ["Op", "RenderStats", "StreamRenderer"]


class StreamRenderer(Stream):
    """``feed(text)`` as it arrives, ``update()`` when a frame is due, ``finish()`` at the end.

    While a block that streams as a container is live, the container (an object of its own,
    holding its part of the state) takes the tail: ``self.container``. Operations leave with
    the ids of the blocks they act on (``self.addresses``, ops.py)."""

    def __init__(self, markdown: Markdown, *, doc_id: str | None = None, fast_path: bool = True) -> None:
        super().__init__(markdown, doc_id=doc_id, fast_path=fast_path)
        self.addresses: Addresses | None = Addresses()

    @property
    def source(self) -> str:
        """All text fed so far, newlines normalised the way markdown-it normalises them."""
        return "".join(self.committed) + "".join(self.shelf) + self.tail + "".join(self.pending)

    @property
    def blocks(self) -> list[str]:
        """HTML of the frozen top-level blocks, as the page holds them."""
        return list(self.frozen)

    def feed(self, text: str) -> None:
        if self.finished:
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
            self.pending.append(text)

    def update(self) -> list[Op]:
        """The operations that bring the page up to date with the text fed so far."""
        ops = self._update()
        return ops if self.addresses is None else self.addresses.translate(ops)

    def _update(self) -> list[Op]:
        if not self.pending:
            return []
        new = "".join(self.pending)
        self.pending.clear()
        self._not_plain = False
        self.stats.updates += 1
        ops: list[Op] = []
        newline = new.find("\n")
        if (
            newline >= 0
            and (newline == 0 or not self.held_line)  # text before it ends a held line's successor
            and self._growing()
            and _contentless(new[newline + 1 :])
        ):
            # A line ended and nothing of the next one shows yet (it is empty, or only list
            # or quote markers so far): what is on screen cannot change until it does. Show
            # the end of the line, and leave the rest for the next update to look at whole.
            if newline:
                self._step(new[:newline], ops, new_line=False)
            self.tail += new[newline:]
            self.held_line = True
            self.live.fast = False  # words typed next start the new line, not this one
            return ops
        self._step(new, ops, new_line="\n" in new or self.held_line)
        self.held_line = False
        return ops

    def _step(self, new: str, ops: list[Op], *, new_line: bool) -> None:
        self.new_line = new_line
        if new_line or not self._append_plain(new, ops):
            self.tail += new
            self._advance(ops)

    def _growing(self) -> bool:
        """Whether the live part is a block whose last line is being typed, and nothing else
        (the states in which a line ending can be held, see update())."""
        if self.container is not None:
            return self.container.growing
        return self.simple and self.growth is not None

    def finish(self) -> list[Op]:
        """Freeze everything and reconcile with the one-shot render of the whole text."""
        ops = self._freeze_all()
        self._reconcile(ops)
        return ops if self.addresses is None else self.addresses.translate(ops)

    def freeze_all(self) -> list[Op]:
        """No more text comes: freeze what is live and close every open container (a nested
        renderer ends so; the answer's own then reconciles, see finish())."""
        ops = self._freeze_all()
        return ops if self.addresses is None else self.addresses.translate(ops)

    def _freeze_all(self) -> list[Op]:
        if self._cr:
            self.pending.append("\n")
            self._cr = False
        ops = self._update()
        self.finished = True
        if self.container is not None:
            self.container.end(ops)
        if self.tail:
            self._commit(ops, self.tail)
            self.tail = ""
        elif self.live.html:
            ops.append({"op": "live", "html": ""})
        self.live = Live()
        return ops

    def _advance(self, ops: list[Op]) -> None:
        # Each step returns True when it switched mode, so what is left is looked at again.
        # Every switch out of a container consumes text, so this ends; the bound is a guard.
        for _ in range(10_000):
            container = self.container
            switched = self._normal_step(ops) if container is None else container.step(ops)
            if not switched:
                return
        raise RuntimeError("renderer made no progress")

    def _normal_step(self, ops: list[Op]) -> bool:
        tail = self.tail
        if self.simple and not self.new_line:
            # The container holds the paragraph's inline content: its source must start with
            # it (no blank line or indentation before, which the paragraph rule drops).
            if self.simple_kind == "paragraph_open" and len(tail) >= PARAGRAPH_MIN and not tail[0].isspace():
                return ParagraphContainer.enter(self, ops)
            return self._simple_step(ops, tail)
        self.simple = False
        self.growth = None
        if not tail.strip():
            self.show(ops, "")
            return False
        env = self.scratch_env()
        tokens = self.parse(tail, env)
        spans = top_level(tokens)
        lines = Lines(tail)
        if not spans:
            self.show(ops, "")
            return False
        keep = len(spans) - 1
        if keep >= 1 and not (
            lines.decided(spans[-1].line)
            # A table is one only once its delimiter row is whole: "--" may turn into "-- -".
            and (tokens[spans[-1].first].type != "table_open" or lines.complete(spans[-1].line + 1))
        ):
            keep -= 1
        if keep > 0:
            shift = spans[keep].line
            cut = lines.offset(shift)
            self._commit(ops, tail[:cut])
            tail = self.tail = tail[cut:]
            lines = Lines(tail)
            spans = [Span(s.first, s.last, s.line - shift, s.end_line - shift) for s in spans[keep:]]
        if len(spans) == 1 and self._streams_as_container(tokens[spans[0].first], lines, spans[0].line):
            if spans[0].line > 0:
                # Blank lines or reference definitions before the block: freeze them first
                # (they show nothing), so the container starts at the top of the tail.
                cut = lines.offset(spans[0].line)
                self._commit(ops, tail[:cut])
                self.tail = tail[cut:]
                lines = Lines(self.tail)
                spans = [Span(spans[0].first, spans[0].last, 0, spans[0].end_line - spans[0].line)]
            first = tokens[spans[0].first]
            if first.type == "fence":
                return FenceContainer.enter(self, ops, lines)
            if is_list(first):
                return ListContainer.enter(self, ops, tokens, spans[0])
            if first.type == "blockquote_open":
                return QuoteContainer.enter(self, ops, self._nested())
            return TableContainer.enter(self, ops, lines)
        kind = tokens[spans[0].first].type
        self.simple = (
            len(spans) == 1
            and kind in ("paragraph_open", "heading_open", "blockquote_open")
            and tail.lstrip()[:1] not in ("|", "[")
            and any(ch.isalpha() for ch in tail.rsplit("\n", 1)[-1])
        )
        # A paragraph of any length may stream as a container (paragraphs.py); headings and
        # quotes are told apart only while they are one line.
        self.simple_kind = kind if "\n" not in tail or kind == "paragraph_open" else ""
        if self.simple and kind != "heading_open":
            self.growth = self.growth_of(tokens, spans[0].first, spans[0].last, tail, env)
            if self.growth is not None:
                html, grown = self.grow(self.growth, tail)
                self.show(ops, html, healed=grown, fast=True)
                return False
        healed = Healed(tail, 0, True) if kind == "code_block" else heal(tail)
        if healed.text == tail:
            self._show_parsed(ops, healed, tokens, spans, env)
        else:
            self._show_healed(ops, healed)
        return False

    def _show_healed(self, ops: list[Op], healed: Healed) -> None:
        env = self.scratch_env()
        tokens = self.parse(healed.text, env)
        self._show_parsed(ops, healed, tokens, top_level(tokens), env)

    def _show_parsed(
        self, ops: list[Op], healed: Healed, tokens: list[Token], spans: list[Span], env: dict[str, Any]
    ) -> None:
        if not spans:
            self.show(ops, "")
            return
        html = self.render(tokens[spans[0].first : spans[-1].last], env, live=True)
        self.show(ops, html, healed=healed, fast=len(spans) == 1 and ends_in_text(tokens, spans[-1]))

    def _simple_step(self, ops: list[Op], tail: str) -> bool:
        if self.simple_kind != "heading_open":
            # Only the last line grew: only the end of the block's last inline can change.
            if self.growth is None:
                env = self.scratch_env()
                tokens = self.parse(tail, env)
                spans = top_level(tokens)
                if len(spans) == 1:
                    self.growth = self.growth_of(tokens, spans[0].first, spans[0].last, tail, env)
            if self.growth is not None:
                html, healed = self.grow(self.growth, tail)
                self.show(ops, html, healed=healed, fast=True)
                return False
        self._show_healed(ops, heal(tail))
        return False

    @staticmethod
    def _streams_as_container(first: Token, lines: Lines, line: int) -> bool:
        """Whether the live block streams as a container (see the module docstring)."""
        if "|" in lines.get(line) and not lines.complete(line + 1):
            return False  # a delimiter row on the next line would make the line a table header
        if first.type in ("fence", "blockquote_open"):
            return lines.complete(line)
        if is_list(first):
            return item_decided(lines, line)
        return first.type == "table_open" and lines.complete(line + 1)

    def _nested(self) -> StreamRenderer:
        """A renderer for a quote's content, sharing this one's definitions and stats."""
        nested = StreamRenderer(self.md, doc_id=self.doc_id, fast_path=self.fast_path)
        nested.env = self.env
        nested.known = self.known
        nested.stats = self.stats
        nested.addresses = None  # its operations act inside the quote: the quote's block
        return nested

    def _commit(self, ops: list[Op], segment: str) -> None:
        """Freeze ``segment`` (whole top-level blocks) at the current, top level."""
        self.simple = False
        tokens = self.parse(segment, self.env)
        spans = top_level(tokens)
        htmls = [self.render(tokens[s.first : s.last], self.env) for s in spans]
        if not htmls:
            self.committed.append(segment)
            self.marks.append(len(self.frozen))
            self.show(ops, "")
            return
        self.freeze_or_append(ops, htmls)
        lines = Lines(segment)
        # One segment per block, so that an edit finds the blocks it touched (revision.py).
        starts = [0] + [lines.offset(s.line) for s in spans[1:]] + [len(segment)]
        for index, html in enumerate(htmls):
            self.committed.append(segment[starts[index] : starts[index + 1]])
            self.frozen.append(html)
            self.marks.append(len(self.frozen))
        self.sources.extend(span_source(lines, s) for s in spans)
        self.stats.frozen_blocks += len(htmls)

    def _reconcile(self, ops: list[Op]) -> None:
        """The one-shot render of the whole answer, block by block against what is frozen.

        The whole text is parsed once for its block structure; a block's inline content is
        parsed again only if the block could differ from its frozen copy: its source is not
        the one frozen, or it holds a "[" and the answer defines references (which a block
        frozen before their definition could not resolve). Footnotes are numbered across the
        answer, so an answer with any gets the full parse."""
        source = "".join(self.committed)
        env = self.fresh_env()
        self.stats.parses += 1
        self.stats.parsed_chars += len(source)
        whole = "[^" in source
        tokens = self.md.parse(source, env) if whole else self.md.parse_blocks(source, env)
        spans = top_level(tokens)
        lines = Lines(source)
        references = bool(env.get("references")) or self.redefined
        final = []
        for index, span in enumerate(spans):
            text = span_source(lines, span)
            if (
                index < len(self.sources)
                and self.sources[index] == text
                and not (references and "[" in text)
                and not (whole and "[" in text)
            ):
                final.append(self.frozen[index])
                self.stats.reused += 1
            else:
                block = tokens[span.first : span.last]
                if not whole:
                    self.md.fill_inline(block, env)
                final.append(self.render(block, env))
        end = spans[-1].last if spans else 0
        if end < len(tokens):  # the footnote section: a block of its own, at the very end
            final.append(self.render(tokens[end:], env))
        matcher = difflib.SequenceMatcher(None, self.frozen, final, autojunk=False)
        for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
            if tag == "equal":
                continue
            ops.append({"op": "splice_at", "at": i1, "remove": i2 - i1, "blocks": final[j1:j2]})
            self.stats.reconciled += j2 - j1
        self.frozen = final
        self.sources = []
        self.marks = []


def span_source(lines: Lines, span: Span) -> str:
    start = lines.offset(span.line)
    end = lines.offset(span.end_line) if span.end_line < len(lines) else len(lines.text)
    return lines.text[start:end].rstrip()


def _contentless(text: str) -> bool:
    """Lines that show nothing yet: blank, or only block markers being typed ("   - ", "> ",
    "1."), which healing would hold back anyway."""
    return all(not line.strip() or only_block_syntax(line) for line in text.split("\n"))
