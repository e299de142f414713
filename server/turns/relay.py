"""Upstream events of one turn -> its log, in batches, and the log's frames (pure: the caller
passes the clock).

Batches are paced by a token bucket: the first content goes out at once and so does every
delta of a model slower than ``max_fps``; a faster one is batched so that no more than
``max_fps`` frames a second (after a burst of ``burst``) reach a browser. Each ``Step`` holds
the batch's log events (log.py) and the frames the projection made of them (projection.py):
the runner writes both to the hub.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import ProtocolError, TurnError
from ..text import Characters, clean_text
from ..upstream.events import ContentDelta, Done, Finish, ReasoningDelta, ToolCallDelta, UpstreamEvent, Usage
from .calls import Call
from .continuation import Mode, Seam
from .frames import Frame
from .log import (
    Failure,
    Finished,
    Place,
    ReasoningAppended,
    Resumed,
    Started,
    TextAppended,
    TextEdited,
    ToolCallFragment,
    ToolFinished,
    ToolStarted,
    TurnEvent,
    TurnState,
    UsageReported,
)
from .merge import Document, Edit
from .projection import Projection
from .rate import TokenBucket
from .rounds import Result, Rounds

# A batch is cut early, whatever the rate, once this much text waits: a firehose upstream must
# not build frames of many megabytes.
MAX_FRAME_TEXT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Step:
    events: list[TurnEvent] = field(default_factory=list)  # for the log
    frames: list[Frame] = field(default_factory=list)  # the page's projection of them


@dataclass
class _Call:
    """A tool call's fragments since the last batch."""

    round: int
    index: int
    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)
    deltas: int = 0


class Relay:
    def __init__(
        self,
        projection: Projection,
        *,
        model: str,
        ref: str | None,
        place: Place | None = None,
        resumed: Resumed | None = None,
        seam: Mode = "assistant",
        max_rounds: int = 8,
        max_fps: float,
        burst: int,
        now: float,
    ) -> None:
        self.projection = projection
        self.turn = projection.turn
        self._model = model
        self._ref = ref
        self._place = place
        self._seq = 0  # of the next log event
        self._bucket = TokenBucket(max_fps, burst, now)
        self._started = now
        self._text: list[str] = []
        self._pending_chars = 0
        self._deltas = 0
        self._tools: dict[int, _Call] = {}
        self._usage: Usage | None = None
        self._finish_reason: str | None = None
        self._done = False
        self._first_content: float | None = None
        self._total_deltas = 0
        self._chars = 0
        self._characters = Characters()  # an emoji's surrogate pair may be split across deltas
        self._last_frame = -1e18
        # The answer's canonical text: what the log has published of the model's text, with
        # the pages' edits merged in (merge.py).
        self._resumed = resumed
        self.document = Document() if resumed is None else Document(resumed.text, resumed.version)
        # A continuation is joined to the text it continues cleanly (continuation.py).
        self._seam = None if resumed is None else Seam(resumed.text, seam)
        # Rounds of tool calls (rounds.py); a call the upstream gave no id gets one of this turn.
        self.rounds = Rounds(max_rounds, lambda number: f"call_{self.turn.removeprefix('t_')}_{number}")
        self._round_text: list[str] = []  # the model's text in this round (goes back with its calls)
        self._separate = False  # a later round's first text starts a paragraph of its own
        self._reasoning: list[str] = []  # thinking since the last batch
        self._thinking_since: float | None = None  # thinking under way since then
        self._thought_ms = 0.0  # thinking so far (rounds each think)
        self._thought: float | None = None  # thinking ended: its duration, to send
        self.ended = False

    def start(self) -> Step:
        started = Started(self._next(), self.turn, self._model, self._ref, self._place, self._resumed)
        return self._step([started], self._started)

    def feed(self, event: UpstreamEvent, now: float) -> None:
        if self.ended:
            return
        if isinstance(event, ReasoningDelta):
            if self._first_content is None:
                self._first_content = now
            if self._thinking_since is None:
                self._thinking_since = now
            self._reasoning.append(clean_text(event.text))
            self._total_deltas += 1
            return
        if isinstance(event, ContentDelta | ToolCallDelta):
            self._stop_thinking(now)
        if isinstance(event, ContentDelta):
            if self._first_content is None:
                self._first_content = now
            text = self._characters.feed(event.text)
            if self._seam is not None and text:
                text = self._seam.feed(text)
            if not text:
                return
            self._round_text.append(text)
            if self._separate:
                self._separate = False
                text = _paragraph(self.document.text + "".join(self._text), text)
            self._text.append(text)
            self._pending_chars += len(text)
            self._deltas += 1
            self._total_deltas += 1
            self._chars += len(text)
        elif isinstance(event, ToolCallDelta):
            if self._first_content is None:
                self._first_content = now
            event = ToolCallDelta(event.index, event.id, event.name, clean_text(event.arguments))
            whole = self.rounds.feed(event)
            call = self._tools.get(whole.number)
            if call is None:
                call = self._tools[whole.number] = _Call(
                    whole.round, whole.index, whole.id, whole.name or None
                )
            elif call.name is None and whole.name:
                call.name = whole.name
            if event.arguments:
                call.arguments.append(event.arguments)
            call.deltas += 1
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
        return bool(self._waiting or self.projection.due() is not None)

    @property
    def _waiting(self) -> bool:
        return bool(self._text or self._tools or self._reasoning or self._thought is not None)

    def due(self, now: float, spacing: float = 0.0) -> float | None:
        """When the next frame may go out, or None if there is nothing to send.
        ``spacing``: the least time between two frames, when the server is overloaded
        (load.py)."""
        if self._pending_chars >= MAX_FRAME_TEXT:
            return now
        ready = self._bucket.ready_at(now)
        if spacing:
            ready = max(ready, self._last_frame + spacing)
        if self._waiting:
            return ready
        owed = self.projection.due()
        return None if owed is None else max(ready, owed)

    def flush(self, now: float, spacing: float = 0.0) -> Step:
        """The batch that arrived since the last one, and its frame, if the rate allows it now."""
        waiting = self._waiting
        if not waiting and not self.projection.owed(now):
            return Step()
        if self._pending_chars < MAX_FRAME_TEXT and (
            now < self._last_frame + spacing or not self._bucket.take(now)
        ):
            return Step()
        self._last_frame = now
        return self._step(self._batch() if waiting else [], now)

    def edit(self, base: int, edits: Sequence[Edit], origin: str, ref: str | None, now: float) -> Step:
        """A page's edits, made on version ``base`` of the text, merged in now. Text still
        waiting for its frame is not in the text the page saw: it goes out after the edit, at
        the end of the edited text. Raises ``ProtocolError`` (``stale_version``,
        ``bad_edit``, ``not_streaming``) with nothing changed."""
        if self.ended:
            raise ProtocolError("not_streaming", "This answer has ended; edit the stored message.")
        changes = self.document.edit(base, edits, origin)
        events: list[TurnEvent] = [
            TextEdited(self._next(), c.version, tuple((e.start, e.end, e.text) for e in c.edits), origin, ref)
            for c in changes
        ]
        return self._step(events, now)

    def _stop_thinking(self, now: float) -> None:
        if self._thinking_since is not None:
            self._thought_ms += (now - self._thinking_since) * 1000
            self._thought = round(self._thought_ms, 1)
            self._thinking_since = None

    # ------------------------------------------------------------------ tool rounds

    def startable(self) -> list[Call]:
        """Calls whose arguments are complete: the runner starts them now (each once)."""
        return self.rounds.startable()

    def tool_started(self, call: int, now: float) -> Step:
        """``call`` runs now; what arrived before it goes out first, in order."""
        return self._step([*self._batch(), ToolStarted(self._next(), call)], now)

    def tool_finished(self, call: int, result: Result, now: float) -> Step:
        self.rounds.finished(call, result)
        return self._step(
            [*self._batch(), ToolFinished(self._next(), call, result.ok, result.content, result.ms)], now
        )

    def stream_ended(self, now: float) -> tuple[Step, list[Call]]:
        """The round's stream is over: the calls to start now, and the step with what was
        still waiting (and, over the limit of rounds, each call's "not run")."""
        self._stop_thinking(now)
        before = set(self.rounds.results)
        calls = self.rounds.stream_ended()
        events = self._batch()
        for number, result in self.rounds.results.items():
            if number not in before:
                events.append(ToolFinished(self._next(), number, result.ok, result.content, result.ms))
        return self._step(events, now), calls

    def next_round(self) -> list[dict[str, object]]:
        """The next round begins: what goes back upstream after the messages so far (the
        round's text and calls, and their results)."""
        follow_up = self.rounds.follow_up("".join(self._round_text))
        self.rounds.next_round()
        self._round_text.clear()
        self._done = False
        self._finish_reason = None
        self._separate = True
        return follow_up

    def end(
        self, now: float, *, stopped: bool = False, error: TurnError | None = None, reason: str | None = None
    ) -> Step:
        """The last batch, whatever the rate, then ``Finished``; its frames end with the final
        reconcile."""
        if self.ended:
            return Step()
        self._stop_thinking(now)
        leftover = self._characters.flush()  # half an emoji that never completed
        if self._seam is not None:
            leftover = self._seam.feed(leftover) + self._seam.flush()
        if leftover:
            self._text.append(leftover)
            self._chars += len(leftover)
        events = self._batch()
        events.append(self._finished(now, stopped=stopped, error=error, reason=reason))
        self.ended = True
        return self._step(events, now)

    def broken_end(self, now: float, error: TurnError) -> Step:
        """The end when rendering itself failed: the log ends as usual, the last frame has no
        operations (the text stays as shown)."""
        self.ended = True
        events = self._batch()
        finished = self._finished(now, stopped=False, error=error, reason=None)
        events.append(finished)
        return Step(events, [self.projection.broken_end(finished)])

    # ------------------------------------------------------------------ the log

    def _batch(self) -> list[TurnEvent]:
        events: list[TurnEvent] = []
        if self._reasoning or self._thought is not None:
            events.append(ReasoningAppended(self._next(), "".join(self._reasoning), self._thought))
            self._reasoning.clear()
            self._thought = None
        if self._text:
            text = "".join(self._text)
            self.document.append(text)
            events.append(TextAppended(self._next(), text, self._deltas))
        for number, call in self._tools.items():
            arguments = "".join(call.arguments)
            events.append(
                ToolCallFragment(
                    self._next(), number, call.round, call.index, call.id, call.name, arguments, call.deltas
                )
            )
        if self._usage is not None:
            usage = self._usage
            events.append(
                UsageReported(self._next(), usage.prompt_tokens, usage.completion_tokens, usage.total_tokens)
            )
        self._text.clear()
        self._pending_chars = 0
        self._deltas = 0
        self._tools.clear()
        self._usage = None
        return events

    def _finished(
        self, now: float, *, stopped: bool, error: TurnError | None, reason: str | None
    ) -> Finished:
        if error is not None:
            state = TurnState.ERROR
        elif stopped:
            state = TurnState.STOPPED
        elif self._done or self._finish_reason is not None:
            state = TurnState.DONE
        else:
            state = TurnState.INCOMPLETE
        first = self._first_content
        return Finished(
            self._next(),
            state,
            self._finish_reason,
            failure=None if error is None else Failure.of(error),
            reason=None if error is not None else reason,
            ttft_ms=None if first is None else round((first - self._started) * 1000, 1),
            duration_ms=round((now - self._started) * 1000, 1),
            deltas=self._total_deltas,
            chars=self._chars,
        )

    def _step(self, events: list[TurnEvent], now: float) -> Step:
        return Step(events, self.projection.project(events, now))

    def _next(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq


def _paragraph(before: str, text: str) -> str:
    """``text`` made to start a paragraph after ``before`` (a later round's first words)."""
    if not before.strip() or before.endswith("\n\n"):
        return text
    return ("\n" if before.endswith("\n") else "\n\n") + text.lstrip(" ")
