"""Code blocks: lines stream as plain code and are coloured in batches as they finish (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .blocks import Lines
from .fence import Fence
from .highlight import escape
from .live import Live
from .ops import Op
from .stream import Mode, StreamBase

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


class Fences(StreamBase):
    """An open code block streams as a container: finished lines are highlighted in batches and
    freeze; the line being typed is appended as plain escaped text."""

    _fence: FenceState | None = None

    def _enter_fence(self, ops: list[Op], lines: Lines) -> bool:
        fence = Fence.opener(lines.get(0))
        if fence is None:  # markdown-it saw a fence our scan does not: render it plainly
            html = self._render(self._parse(self._tail, self._scratch_env()), {})
            self._show(ops, html)
            return False
        self._fence = FenceState(fence, fence.lang)
        self._shelve(lines.offset(1))
        return self._open(ops, self._md.code_open(fence.info) + self._md.code_close(), "code", Mode.FENCE)

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
        if state.fence.may_close(partial):
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
            self._live = Live()
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
