"""A turn's log -> the frames the page gets: its projection (pure; the caller passes the clock).

The log says what happened (log.py); the projection says how the page shows it: each batch
of events becomes a frame carrying the batch's text and tool fragments and the renderer's
operations for them. Rendering is paced apart from the text: text that costs a parse is
rendered at most once per ``render_interval`` (50 ms, below what a reader notices), while
plain words and code being typed, which cost next to nothing, render with every frame. A
render that was owed goes out later in a frame of its own (``n: 0``, no text). ``shown``
says how much of the text the operations so far display, so the page can measure how far its
display trails the text.

Projecting a whole log at once gives the same final page as projecting it batch by batch:
the renderer's result depends on the text, never on how it was cut.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..markdown.document import StreamRenderer
from ..markdown.engine import Markdown
from ..markdown.ops import Op
from ..markdown.revision import revise
from .calls import MAX_PREVIEW, preview
from .frames import DeltaFrame, EditFrame, EndFrame, Frame, StartFrame, StepFrame, ToolFragment
from .log import (
    Finished,
    ReasoningAppended,
    Started,
    TextAppended,
    TextEdited,
    ToolCallFragment,
    ToolFinished,
    ToolStarted,
    TurnEvent,
    UsageReported,
)

RENDER_SHARE = 10.0  # renders may use at most 1/RENDER_SHARE of the time, per turn
# HTML one frame's operations carry at most (a single block may be bigger): a render owed for a
# burst of text (a fast model, a busy server: 200 KB of answer in one batch is ~1 MB of HTML)
# goes out over several frames, so no frame nears the 1 MiB message limit of common WebSocket
# clients and proxies, and the page can begin on the first while the next arrive.
OPS_BUDGET = 256 * 1024


class Projection:
    def __init__(self, turn: str, *, markdown: Markdown, render_interval: float = 0.05) -> None:
        self.turn = turn
        self.renderer = StreamRenderer(markdown, doc_id=turn)
        self._seq = 0  # of the next frame
        self._render_interval = render_interval
        self._pace = render_interval  # grows when renders get costly (see took())
        self._costly = False  # the last render parsed
        self._last_render = -1e18
        self._unrendered = False  # text the page does not show yet
        self._chars = 0
        self._shown = 0
        self._usage: UsageReported | None = None
        self._version = 0  # of the text, as merge.Document counts: one per append, per edit
        self._arguments: dict[int, str | None] = {}  # each tool call's arguments so far (None: too long)
        self.ended = False

    @property
    def frames(self) -> int:
        """Frames made so far."""
        return self._seq

    def owed(self, now: float) -> bool:
        """A render is owed for text already sent, and may run now."""
        return self._unrendered and (now >= self._last_render + self._pace or self.renderer.cheap)

    def due(self) -> float | None:
        """When an owed render may run at the latest, or None if none is owed."""
        return self._last_render + self._pace if self._unrendered else None

    def project(self, events: Sequence[TurnEvent], now: float) -> list[Frame]:
        """The frames for one batch of the log (none if the batch is empty and no render is
        owed or it changes nothing on the page)."""
        frames: list[Frame] = []
        text: list[str] = []
        tools: list[ToolFragment] = []
        deltas = 0
        thinking: list[ReasoningAppended] = []
        for event in events:
            if isinstance(event, Started):
                frames += self._start(event)
            elif isinstance(event, TextAppended):
                self.renderer.feed(event.text)
                self._unrendered = True
                self._chars += len(event.text)
                self._version += 1
                text.append(event.text)
                deltas += event.deltas
            elif isinstance(event, TextEdited):
                if text or tools or thinking:
                    frames += self._delta("".join(text), deltas, tools, thinking, render=False, now=now)
                    text, tools, deltas, thinking = [], [], 0, []
                frames.append(self._edited(event))
            elif isinstance(event, ReasoningAppended):
                thinking.append(event)
            elif isinstance(event, ToolCallFragment):
                tools.append(self._fragment(event))
                deltas += event.deltas
            elif isinstance(event, ToolStarted | ToolFinished):
                if text or tools or thinking:
                    frames += self._delta("".join(text), deltas, tools, thinking, render=False, now=now)
                    text, tools, deltas, thinking = [], [], 0, []
                frames.append(self._step(event))
            elif isinstance(event, UsageReported):
                self._usage = event
            elif isinstance(event, Finished):
                if text or tools or thinking:
                    frames += self._delta("".join(text), deltas, tools, thinking, render=False, now=now)
                    text, tools, deltas, thinking = [], [], 0, []
                frames += self._end(event)
        if text or tools or thinking:
            frames += self._delta("".join(text), deltas, tools, thinking, render=self.owed(now), now=now)
        elif not events and self.owed(now):
            # Only a render was owed: frames only if it changes what the page shows.
            shown = self._shown
            ops = self._render(now)
            if ops:
                *first, last = _portions(ops)
                frames += [self._frame_delta("", 0, portion, shown) for portion in first]
                frames.append(self._frame_delta("", 0, last))
        return frames

    def took(self, seconds: float) -> None:
        """How long the last projection took (the caller measures). A parse costing more than
        a tenth of the interval stretches the interval, so one pathological answer (a huge
        line with nothing ever closed) cannot take more than a tenth of a core. Batches that
        did not parse (plain words, code lines) leave it alone."""
        if self._costly:
            self._costly = False
            self._pace = max(self._render_interval, RENDER_SHARE * seconds)

    def broken_end(self, event: Finished) -> EndFrame:
        """A last frame when rendering itself failed: no operations, the text stays as shown."""
        self.ended = True
        frame: EndFrame = {
            "type": "end",
            "turn": self.turn,
            "seq": self._next(),
            "state": event.state.value,
            "finish_reason": event.finish_reason,
            "ops": [],
            "shown": self._shown,
        }
        if event.failure is not None:
            frame["error"] = event.failure.to_wire()
        return frame

    # ------------------------------------------------------------------ frames

    def _start(self, event: Started) -> list[Frame]:
        frame: StartFrame = {
            "type": "start",
            "turn": self.turn,
            "seq": self._next(),
            "model": event.model,
            "ref": event.ref,
        }
        if event.place is not None:
            place = event.place
            frame["conversation"] = place.conversation
            frame["title"] = place.title
            frame["message"] = place.message
            frame["user"] = {"id": place.user_id, "text": place.user_text}
            frame["regenerate"] = place.regenerate
            if place.replaces is not None:
                frame["replaces"] = place.replaces
        resumed = event.resumed
        if resumed is None:
            return [frame]
        # A Continue: the page shows the text it goes on from, rendered as the stream will go
        # on rendering it (a replay rebuilds the answer from this frame).
        self.renderer.feed(resumed.text)
        self._chars = self._shown = len(resumed.text)
        self._version = resumed.version
        first, *rest = _portions(self.renderer.update())
        frame["resumed"] = {"text": resumed.text, "v": resumed.version, "original": resumed.original}
        frame["ops"] = first
        frame["shown"] = self._shown
        return [frame, *(self._frame_delta("", 0, portion) for portion in rest)]

    def _delta(
        self,
        text: str,
        deltas: int,
        tools: list[ToolFragment],
        thinking: list[ReasoningAppended],
        *,
        render: bool,
        now: float,
    ) -> list[Frame]:
        shown = self._shown
        *first, last = _portions(self._render(now) if render else [])
        frames: list[Frame] = [self._frame_delta("", 0, ops, shown) for ops in first]
        frame = self._frame_delta(text, deltas, last)
        if tools:
            frame["tools"] = tools
        if thinking:
            frame["reasoning"] = "".join(event.text for event in thinking)
            ended = [event.ms for event in thinking if event.ms is not None]
            if ended:
                frame["thought_ms"] = ended[-1]
        frames.append(frame)
        return frames

    def _edited(self, event: TextEdited) -> EditFrame:
        """The edit, and the operations that show the edited text (revision.py), up to date:
        a render owed for earlier text goes with it."""
        self.renderer, ops = revise(self.renderer, event.edits)
        ops += self.renderer.update()
        self._version = event.version
        self._unrendered = False
        self._chars = self._shown = len(self.renderer.source)
        return {
            "type": "edit",
            "turn": self.turn,
            "seq": self._next(),
            "v": event.version,
            "edits": [list(e) for e in event.edits],  # type: ignore[misc]
            "origin": event.origin,
            "ref": event.ref,
            "ops": ops,
            "shown": self._shown,
        }

    def _fragment(self, event: ToolCallFragment) -> ToolFragment:
        fragment: ToolFragment = {
            "call": event.call,
            "round": event.round,
            "index": event.index,
            "arguments": event.arguments,
        }
        if event.id is not None:
            fragment["id"] = event.id
        if event.name is not None:
            fragment["name"] = event.name
        so_far = self._arguments.get(event.call, "")
        if event.arguments and so_far is not None:
            so_far += event.arguments
            # Past what is previewed, arguments are no longer kept (nor copied per frame).
            self._arguments[event.call] = so_far if len(so_far) <= MAX_PREVIEW else None
            parsed = preview(so_far)
            if parsed is not None:
                fragment["args"] = parsed
        return fragment

    def _step(self, event: ToolStarted | ToolFinished) -> StepFrame:
        frame: StepFrame = {"type": "step", "turn": self.turn, "seq": self._next(), "call": event.call,
                            "state": "running"}  # fmt: skip
        if isinstance(event, ToolFinished):
            frame["state"] = "done" if event.ok else "failed"
            frame["result"] = event.result
            frame["ms"] = event.ms
        return frame

    def _frame_delta(self, text: str, deltas: int, ops: list[Op], shown: int | None = None) -> DeltaFrame:
        frame: DeltaFrame = {
            "type": "delta",
            "turn": self.turn,
            "seq": self._next(),
            "text": text,
            "n": deltas,
            "ops": ops,
            "shown": self._shown if shown is None else shown,
        }
        if text:
            frame["v"] = self._version
        return frame

    def _end(self, event: Finished) -> list[Frame]:
        shown = self._shown
        *first, ops = _portions(self.renderer.finish())
        frames: list[Frame] = [self._frame_delta("", 0, portion, shown) for portion in first]
        self._unrendered = False
        self._shown = self._chars
        self.ended = True
        stats = self.renderer.stats
        frame: EndFrame = {
            "type": "end",
            "turn": self.turn,
            "seq": self._next(),
            "state": event.state.value,
            "finish_reason": event.finish_reason,
            "ops": ops,
            "shown": self._shown,
            "stats": {
                "ttft_ms": event.ttft_ms,
                "duration_ms": event.duration_ms,
                "deltas": event.deltas,
                "chars": event.chars,
                "frames": self._seq,
                "reconciled": stats.reconciled,
                "rewrites": stats.rewrites,
            },
        }
        if self._usage is not None:
            frame["usage"] = self._usage.to_wire()
        if event.failure is not None:
            frame["error"] = event.failure.to_wire()
        elif event.reason is not None:
            frame["reason"] = event.reason
        frames.append(frame)
        return frames

    def _render(self, now: float) -> list[Op]:
        self._costly = not self.renderer.cheap
        if self._costly:
            self._last_render = now
        ops = self.renderer.update()
        self._unrendered = False
        self._shown = self._chars
        return ops

    def _next(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq


def _size(op: Op) -> int:
    """The HTML (or text) an operation carries, in characters."""
    size = len(op.get("html", "")) + len(op.get("text", ""))  # type: ignore[arg-type]
    for block in op.get("blocks", ()):  # type: ignore[attr-defined]
        size += len(block if isinstance(block, str) else block["html"])
    return size


def _portions(ops: list[Op]) -> list[list[Op]]:
    """``ops`` in order, cut into portions of at most OPS_BUDGET characters of HTML each (an
    ``insert`` of many blocks is cut between its blocks); always at least one portion."""
    portions: list[list[Op]] = [[]]
    used = 0
    for op in ops:
        pieces: list[Op] = [op]
        if op["op"] == "insert" and _size(op) > OPS_BUDGET - used:
            pieces = [{"op": "insert", "blocks": [block]} for block in op["blocks"]]
        for piece in pieces:
            size = _size(piece)
            if used and used + size > OPS_BUDGET:
                portions.append([])
                used = 0
            portions[-1].append(piece)
            used += size
    for portion in portions:
        _merge_inserts(portion)
    return portions


def _merge_inserts(portion: list[Op]) -> None:
    """Adjacent inserts (cut apart above) go back into one."""
    merged: list[Op] = []
    for op in portion:
        last = merged[-1] if merged else None
        if last is not None and last["op"] == "insert" and op["op"] == "insert":
            last["blocks"] = last["blocks"] + op["blocks"]
        else:
            merged.append(op)
    portion[:] = merged
