"""Upstream events of one turn -> the turn's frames (pure: the caller passes the clock).

Deltas are coalesced by a token bucket: the first content goes out at once and so does every
delta of a model slower than ``max_fps``; a faster one is batched so that no more than
``max_fps`` frames a second (after a burst of ``burst``) reach a browser. Each frame carries
the raw text since the previous one and the render operations for it.

Rendering is paced separately: text that costs a parse is rendered at most once per
``render_interval`` (default 50 ms, below what a reader notices), while plain words and code
being typed, which cost next to nothing, are rendered with every frame. Frames always carry
their text at once; ``shown`` says how much of it the operations so far display, so the page
can measure how far its display trails the text.
"""

from __future__ import annotations

import enum
from typing import Any

from ..errors import TurnError
from ..markdown.document import StreamRenderer
from ..markdown.engine import Markdown
from ..text import Characters, clean_text
from ..upstream.events import ContentDelta, Done, Finish, ToolCallDelta, UpstreamEvent, Usage
from .frames import Frame
from .rate import TokenBucket

# A frame is sent early, whatever the rate, once this much text waits: a firehose upstream must
# not build frames of many megabytes.
MAX_FRAME_TEXT = 64 * 1024
RENDER_SHARE = 10.0  # renders may use at most 1/RENDER_SHARE of the time, per turn


class EndState(enum.Enum):
    DONE = "done"
    STOPPED = "stopped"
    ERROR = "error"
    INCOMPLETE = "incomplete"  # the stream ended with neither [DONE] nor a finish_reason


class Relay:
    def __init__(
        self,
        turn: str,
        *,
        markdown: Markdown,
        model: str,
        ref: str | None,
        max_fps: float,
        burst: int,
        now: float,
        render_interval: float = 0.05,
    ) -> None:
        self.turn = turn
        self.renderer = StreamRenderer(markdown, doc_id=turn)
        self._model = model
        self._ref = ref
        self._seq = 0
        self._bucket = TokenBucket(max_fps, burst, now)
        self._started = now
        self._text: list[str] = []
        self._pending_chars = 0
        self._deltas = 0
        self._tools: dict[int, dict[str, Any]] = {}
        self._finish_reason: str | None = None
        self._usage: Usage | None = None
        self._done = False
        self._first_content: float | None = None
        self._total_deltas = 0
        self._chars = 0
        self._render_interval = render_interval
        self._pace = render_interval  # grows when renders get costly (see took())
        self._costly = False  # the last flush parsed
        self._characters = Characters()  # an emoji's surrogate pair may be split across deltas
        self._last_render = -1e18
        self._unrendered = False
        self._shown = 0
        self._last_frame = -1e18
        self.ended = False

    def start(self) -> Frame:
        return self._frame("start", model=self._model, ref=self._ref)

    def feed(self, event: UpstreamEvent, now: float) -> None:
        if self.ended:
            return
        if isinstance(event, ContentDelta):
            if self._first_content is None:
                self._first_content = now
            text = self._characters.feed(event.text)
            if not text:
                return
            self.renderer.feed(text)
            self._unrendered = True
            self._text.append(text)
            self._pending_chars += len(text)
            self._deltas += 1
            self._total_deltas += 1
            self._chars += len(text)
        elif isinstance(event, ToolCallDelta):
            if self._first_content is None:
                self._first_content = now
            call = self._tools.setdefault(event.index, {"index": event.index, "arguments": ""})
            if event.id is not None:
                call["id"] = event.id
            if event.name is not None:
                call["name"] = event.name
            call["arguments"] += clean_text(event.arguments)
            self._deltas += 1
            self._total_deltas += 1
        elif isinstance(event, Finish):
            self._finish_reason = event.reason
        elif isinstance(event, Usage):
            self._usage = event
        elif isinstance(event, Done):
            self._done = True

    @property
    def pending(self) -> bool:
        """Something to send: text, tool calls, or a render still owed."""
        return bool(self._text or self._tools or self._unrendered)

    def _render_ready(self, now: float) -> bool:
        return self._unrendered and (now >= self._last_render + self._pace or self.renderer.cheap)

    def due(self, now: float, spacing: float = 0.0) -> float | None:
        """When the next delta frame may go out, or None if there is nothing to send.
        ``spacing``: the least time between two frames, when the server is overloaded
        (load.py)."""
        if self._pending_chars >= MAX_FRAME_TEXT:
            return now
        ready = self._bucket.ready_at(now)
        if spacing:
            ready = max(ready, self._last_frame + spacing)
        if self._text or self._tools:
            return ready
        if self._unrendered:
            return max(ready, self._last_render + self._pace)
        return None

    def flush(self, now: float, spacing: float = 0.0) -> Frame | None:
        """The delta frame for what arrived since the last one, if the rate allows it now."""
        render = self._render_ready(now)
        if not (self._text or self._tools or render):
            return None
        if self._pending_chars < MAX_FRAME_TEXT and (
            now < self._last_frame + spacing or not self._bucket.take(now)
        ):
            return None
        self._last_frame = now
        if not (self._text or self._tools):
            # Only a render was owed: a frame only if it changes what the page shows.
            ops = self._render(now)
            return self._frame("delta", text="", n=0, ops=ops, shown=self._shown) if ops else None
        return self._delta(now, render=render)

    def _render(self, now: float) -> list[dict[str, Any]]:
        self._costly = not self.renderer.cheap
        if self._costly:
            self._last_render = now
        ops = self.renderer.update()
        self._unrendered = False
        self._shown = self._chars
        return ops

    def end(
        self, now: float, *, stopped: bool = False, error: TurnError | None = None, reason: str | None = None
    ) -> list[Frame]:
        """The last frames: what is still pending, then ``end`` with the final reconcile."""
        if self.ended:
            return []
        leftover = self._characters.flush()  # half an emoji that never completed
        if leftover:
            self.renderer.feed(leftover)
            self._text.append(leftover)
            self._chars += len(leftover)
        frames = []
        if self._text or self._tools:
            frames.append(self._delta(now, render=False))
        ops = self.renderer.finish()
        self._unrendered = False
        self._shown = self._chars
        self.ended = True
        if error is not None:
            state = EndState.ERROR
        elif stopped:
            state = EndState.STOPPED
        elif self._done or self._finish_reason is not None:
            state = EndState.DONE
        else:
            state = EndState.INCOMPLETE
        stats = self.renderer.stats
        end: Frame = self._frame(
            "end",
            state=state.value,
            finish_reason=self._finish_reason,
            ops=ops,
            shown=self._shown,
            stats={
                "ttft_ms": None
                if self._first_content is None
                else round((self._first_content - self._started) * 1000, 1),
                "duration_ms": round((now - self._started) * 1000, 1),
                "deltas": self._total_deltas,
                "chars": self._chars,
                "frames": self._seq + 1,
                "reconciled": stats.reconciled,
                "rewrites": stats.rewrites,
            },
        )
        if self._usage is not None:
            end["usage"] = self._usage.to_wire()
        if error is not None:
            end["error"] = error.to_wire()
        elif reason is not None:
            end["reason"] = reason
        frames.append(end)
        return frames

    def took(self, seconds: float) -> None:
        """How long the last flush took (the caller measures). A parse costing more than a
        tenth of the interval stretches the interval, so one pathological answer (a huge line
        with nothing ever closed) cannot take more than a tenth of a core. Flushes that did not
        parse (plain words, code lines) leave it alone."""
        if self._costly:
            self._costly = False
            self._pace = max(self._render_interval, RENDER_SHARE * seconds)

    def broken_end(self, error: TurnError) -> Frame:
        """A last frame when rendering itself failed: no operations, the text stays as shown."""
        self.ended = True
        return self._frame(
            "end",
            state=EndState.ERROR.value,
            finish_reason=self._finish_reason,
            ops=[],
            shown=self._shown,
            error=error.to_wire(),
        )

    def _delta(self, now: float, *, render: bool) -> Frame:
        ops = self._render(now) if render else []
        text = "".join(self._text)
        frame = self._frame("delta", text=text, n=self._deltas, ops=ops, shown=self._shown)
        if self._tools:
            frame["tools"] = list(self._tools.values())
        self._text.clear()
        self._pending_chars = 0
        self._tools.clear()
        self._deltas = 0
        return frame

    def _frame(self, kind: str, **fields: Any) -> Frame:
        frame: Frame = {"type": kind, "turn": self.turn, "seq": self._seq}
        frame.update(fields)
        self._seq += 1
        return frame
