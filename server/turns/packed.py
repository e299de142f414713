"""A turn's log held in memory, packed (pure).

Text events, about one per frame, are most of a log. Kept as dataclasses, every one is an
object Python's cycle collector tracks: at 200 streams that was ~100k more objects for each
full collection to walk (15-25 ms pauses, the bridge's p99.9 added latency 3 -> 6-15 ms) and
+16 MB (docs/architecture.md). Here a text event is its text in a list (a ``str`` is never
tracked) and its delta count in an array; the few other events are kept whole. Reading gives
the same dataclasses back, so the pack is invisible behind the hub.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

from .log import TextAppended, TurnEvent

_WHOLE = -1  # in _deltas: this event is in _whole


class PackedLog:
    __slots__ = ("_deltas", "_texts", "_whole")

    def __init__(self) -> None:
        self._texts: list[str] = []  # per event: its text ("" for one kept whole)
        self._deltas = array("q")  # per event: its deltas, or _WHOLE
        self._whole: dict[int, TurnEvent] = {}

    def __len__(self) -> int:
        return len(self._deltas)

    def extend(self, events: Sequence[TurnEvent]) -> None:
        """Append a batch in order; its ``seq`` must continue the log without a gap. A batch
        that does not is refused whole, so the log never holds half of it."""
        first = len(self._deltas)
        for offset, event in enumerate(events):
            if event.seq != first + offset:
                raise ValueError(f"event seq {event.seq} does not follow {first + offset - 1}")
        for seq, event in enumerate(events, first):
            if isinstance(event, TextAppended):
                self._texts.append(event.text)
                self._deltas.append(event.deltas)
            else:
                self._texts.append("")
                self._deltas.append(_WHOLE)
                self._whole[seq] = event

    def after(self, after: int = -1) -> list[TurnEvent]:
        """The events with a ``seq`` above ``after``."""
        start = max(after + 1, 0)
        events: list[TurnEvent] = []
        for seq in range(start, len(self._deltas)):
            deltas = self._deltas[seq]
            if deltas == _WHOLE:
                events.append(self._whole[seq])
            else:
                events.append(TextAppended(seq, self._texts[seq], deltas))
        return events
