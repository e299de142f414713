"""Code blocks: lines stream as plain code and are coloured in batches as they finish (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .blocks import Lines
from .fence import Fence
from .highlight import escape
from .live import Live
from .ops import Op
from .stream import Stream

# An open code block is highlighted in batches of finished lines: each batch re-lexes a few
# lines before it for context, so bigger batches cost less in total, and smaller ones colour
# sooner. Lines wait as plain code until their batch is due.
HIGHLIGHT_LINES = 10
HIGHLIGHT_CHARS = 600


@dataclass
class FenceState:
    fence: Fence
    lang: str
    lines_src: list[str] = field(default_factory=list)
    stack: tuple[str, ...] | None = None  # where the lexer stopped (see Highlighter.lines)
    lines_html: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # finished lines shown as plain text
    pending_html: str = ""  # ... escaped once
    pending_chars: int = 0


class FenceContainer:
    """An open code block streams as a container: finished lines are highlighted in batches and
    freeze; the line being typed is appended as plain escaped text."""

    cheap = True  # no parse while a code block is open
    growing = False

    def __init__(self, doc: Stream, state: FenceState) -> None:
        self.doc = doc
        self.state = state

    @classmethod
    def enter(cls, doc: Stream, ops: list[Op], lines: Lines) -> bool:
        fence = Fence.opener(lines.get(0))
        if fence is None:  # markdown-it saw a fence our scan does not: render it plainly
            html = doc.render(doc.parse(doc.tail, doc.scratch_env()), {})
            doc.show(ops, html)
            return False
        doc.shelve(lines.offset(1))
        html = doc.md.code_open(fence.info) + doc.md.code_close()
        return doc.open(ops, html, "code", cls(doc, FenceState(fence, fence.lang)))

    def end(self, ops: list[Op]) -> None:
        self._end(ops, len(self.doc.tail))

    def step(self, ops: list[Op]) -> bool:
        state = self.state
        tail = self.doc.tail
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
            return self._end(ops, closed_at)
        self.doc.shelve(pos)
        # Small batches first, so a block's first lines are coloured at once; bigger ones
        # once it is long, where the context re-lexed per batch would add up.
        batch = min(HIGHLIGHT_LINES, 2 + len(state.lines_src) // 4)
        if len(state.pending) >= batch or state.pending_chars >= HIGHLIGHT_CHARS:
            self._code_lines(ops)
        partial = self.doc.tail
        if state.fence.may_close(partial):
            partial = ""  # the closing fence being typed: never show it as code
        # Finished lines not yet highlighted, and the line being typed, as plain code.
        live = state.pending_html + escape(state.fence.content(partial))
        self.doc.show(ops, live)
        return False

    def _code_lines(self, ops: list[Op]) -> None:
        """Highlight the finished lines waiting as plain text, and freeze them."""
        state = self.state
        new = state.pending
        htmls, state.stack = self.doc.md.highlighter.lines(state.lines_src, new, state.lang, state.stack)
        self.doc.stats.highlighted_lines += len(new)
        state.lines_src.extend(new)
        state.lines_html.extend(htmls)
        state.pending = []
        state.pending_html = ""
        state.pending_chars = 0
        if self.doc.live.html:
            ops.append({"op": "live", "html": ""})
            self.doc.live = Live()
        ops.append({"op": "append", "blocks": [h + "\n" for h in htmls]})

    def _end(self, ops: list[Op], end: int) -> bool:
        state = self.state
        tokens, spans, htmls = self.doc.final_render("".join(self.doc.shelf) + self.doc.tail[:end])
        matched = False
        if len(spans) == 1 and tokens[spans[0].first].type == "fence":
            # The one-shot render highlights the block once; its lines finish what was streamed.
            head = self.doc.md.code_open(state.fence.info)
            tail = self.doc.md.code_close()
            final = htmls[0]
            if final.startswith(head) and final.endswith(tail):
                parts = final[len(head) : len(final) - len(tail)].split("\n")
                # A block cut off at the end of the answer may end without a newline.
                lines = [line + "\n" for line in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
                streamed = [h + "\n" for h in state.lines_html]
                if lines[: len(streamed)] == streamed:
                    self.doc.close_container(ops, lines[len(streamed) :])
                    matched = True
        self.doc.end_container(ops, end, htmls, matched)
        return True
