"""What of a turn's answer is not stored yet, and when to store it (pure: the caller passes
the clock and does the writing).

The log's events go in as they are appended; writes come out as ``Progress`` (the text since
the last stored write, and the tool calls and usage whole) plus, once the turn has finished,
its ``Ending``. A write is due at most once per ``interval`` (the first at once, so even a
one-word answer is on disk within a moment), the last one at once: a ``kill -9`` loses at most
one interval of text, and a streaming answer costs about one write a second whatever its
token rate. One write is in flight at a time; a failed one is retried with everything that
came since, from the same base, so a write that failed after committing never doubles text.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..storage.records import Ending, Progress
from .log import (
    Finished,
    ReasoningAppended,
    Resumed,
    Started,
    TextAppended,
    TextEdited,
    ToolCallFragment,
    ToolFinished,
    ToolStarted,
    TurnEvent,
    UsageReported,
)


class Draft:
    def __init__(self, interval: float) -> None:
        self._interval = interval
        # The answer's text, in pieces joined when needed; the store holds its first
        # ``_saved`` characters (an edit before them makes that fewer: the write from there on
        # goes again).
        self._pieces: list[str] = []
        self._length = 0
        self._saved = 0
        self._taken = 0  # characters of the text the write in flight leaves the row with
        self._edited_at: int | None = None  # the lowest point an edit touched since the take
        self._model: list[str] = []  # the model's own text, in pieces (stored once edited)
        self._edited = False
        self._version = 0
        self._in_flight = False
        self._seq = -1
        self._calls: dict[int, dict[str, Any]] = {}
        self._usage: dict[str, Any] | None = None
        self._reasoning: dict[str, Any] | None = None  # {text, ms}
        self._changed = False  # tool calls or usage changed since the last write
        self._model_name = ""
        self._ending: Ending | None = None
        self._ending_taken = False
        self._pending_since: float | None = None
        self._last_write = -1e18
        self.stored = False  # the ending is stored: nothing more will be written

    @property
    def ended(self) -> bool:
        """The turn's end has come (stored or still to be written)."""
        return self._ending is not None

    @property
    def saved_chars(self) -> int:
        return self._saved

    @property
    def unsaved_chars(self) -> int:
        return self._length - self._saved

    @property
    def text(self) -> str:
        return _joined(self._pieces)

    def _original(self) -> str:
        return _joined(self._model)

    def _edit(self, event: TextEdited) -> None:
        text = self.text
        for start, end, insert in event.edits:
            text = text[:start] + insert + text[end:]
        self._pieces = [text] if text else []
        self._length = len(text)
        self._version = event.version
        low = min((start for start, _, _ in event.edits), default=self._length)
        self._saved = min(self._saved, low)
        self._edited_at = low if self._edited_at is None else min(self._edited_at, low)
        self._edited = True

    def _resume(self, resumed: Resumed) -> None:
        """A Continue: the row holds the text already; the model's words go after it."""
        self._pieces = [resumed.text] if resumed.text else []
        self._length = self._saved = len(resumed.text)
        self._version = resumed.version
        self._model = [resumed.original if resumed.original is not None else resumed.text]
        self._edited = resumed.original is not None

    def feed(self, events: Iterable[TurnEvent], now: float) -> None:
        for event in events:
            self._seq = event.seq
            if isinstance(event, TextAppended):
                if event.text:
                    self._pieces.append(event.text)
                    self._length += len(event.text)
                    self._model.append(event.text)
                    self._version += 1
                    self._pending(now)
            elif isinstance(event, TextEdited):
                self._edit(event)
                self._pending(now)
            elif isinstance(event, ToolCallFragment):
                call = self._calls.setdefault(
                    event.call,
                    {"call": event.call, "round": event.round, "index": event.index, "arguments": "",
                     "state": "streaming"},
                )  # fmt: skip
                if event.id is not None:
                    call["id"] = event.id
                if event.name is not None:
                    call["name"] = event.name
                call["arguments"] += event.arguments
                self._changed = True
                self._pending(now)
            elif isinstance(event, ToolStarted | ToolFinished):
                call = self._calls.setdefault(event.call, {"call": event.call, "arguments": ""})
                if isinstance(event, ToolStarted):
                    call["state"] = "running"
                else:
                    call.update(state="done" if event.ok else "failed", result=event.result, ms=event.ms)
                self._changed = True
                self._pending(now)
            elif isinstance(event, ReasoningAppended):
                reasoning = self._reasoning = self._reasoning or {"text": ""}
                reasoning["text"] += event.text
                if event.ms is not None:
                    reasoning["ms"] = event.ms
                self._changed = True
                self._pending(now)
            elif isinstance(event, UsageReported):
                self._usage = event.to_wire()
                self._changed = True
                self._pending(now)
            elif isinstance(event, Started):
                self._model_name = event.model
                if event.resumed is not None:
                    self._resume(event.resumed)
            elif isinstance(event, Finished):
                self._ending = _ending(event, self._usage, self._model_name)
                self._pending(now)

    def _pending(self, now: float) -> None:
        if self._pending_since is None:
            self._pending_since = now

    def due(self) -> float | None:
        """When the next write should go (maybe in the past); None when there is nothing to
        write, or a write is in flight."""
        if self._in_flight or self._pending_since is None or self.stored:
            return None
        if self._ending is not None:
            return self._pending_since
        return max(self._pending_since, self._last_write + self._interval)

    def take(self) -> tuple[Progress, Ending | None]:
        """The write that is due: everything not stored yet."""
        assert not self._in_flight, "one write at a time"
        text = self.text
        chunk = text[self._saved :]
        self._taken = len(text)
        self._edited_at = None
        self._in_flight = True
        self._ending_taken = self._ending is not None
        calls = [self._calls[index] for index in sorted(self._calls)] if self._changed else None
        progress = Progress(
            base=self._saved,
            chunk=chunk,
            seq=self._seq,
            tool_calls=[dict(call) for call in calls] if calls is not None else None,
            usage=self._usage if self._changed else None,
            reasoning=dict(self._reasoning) if self._changed and self._reasoning else None,
            version=self._version,
            original=self._original() if self._edited else None,
        )
        self._changed = False
        return progress, self._ending if self._ending_taken else None

    def written(self, now: float) -> None:
        """The write from ``take`` is stored."""
        assert self._in_flight
        self._saved = self._taken if self._edited_at is None else min(self._taken, self._edited_at)
        self._edited_at = None
        rest = self._length > self._saved
        self._in_flight = False
        self._last_write = now
        self.stored = self._ending_taken
        self._pending_since = now if (rest or self._changed or self._unstored_ending) else None

    def failed(self, now: float) -> None:
        """The write from ``take`` failed: it is retried (with what came since) when due."""
        assert self._in_flight
        self._in_flight = False
        # The tool calls and usage it carried are still unstored.
        self._changed = self._changed or bool(self._calls) or self._usage is not None or bool(self._reasoning)
        self._last_write = now
        if self._pending_since is None:
            self._pending_since = now

    @property
    def _unstored_ending(self) -> bool:
        return self._ending is not None and not self.stored


def _joined(pieces: list[str]) -> str:
    """The pieces as one text, kept joined (so each is copied once, not at every write)."""
    if len(pieces) > 1:
        pieces[:] = ["".join(pieces)]
    return pieces[0] if pieces else ""


def _ending(event: Finished, usage: dict[str, Any] | None, model: str) -> Ending:
    """The row's end: its state, why, and the timings the page shows under it."""
    rate: float | None = None
    tokens = (usage or {}).get("completion_tokens") or event.deltas
    if event.ttft_ms is not None and tokens:
        streaming = (event.duration_ms - event.ttft_ms) / 1000
        if streaming > 0:
            rate = round(tokens / streaming, 1)
    return Ending(
        state=event.state.value,
        error=event.failure.to_wire() if event.failure is not None else None,
        finish_reason=event.finish_reason,
        ttft_ms=round(event.ttft_ms, 1) if event.ttft_ms is not None else None,
        tokens_per_second=rate,
        duration_ms=round(event.duration_ms, 1),
        model=model or None,
    )
