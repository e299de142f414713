"""Bytes of an event stream -> Server-Sent Events, incrementally and without I/O.

We drive httpx-sse's line and field decoders ourselves rather than calling
``EventSource.aiter_sse()`` because that path has three gaps (shared/research/protocol-facts.md §2):
it decodes with the Content-Type charset (the spec says UTF-8, always), a leading BOM makes it
drop the first event, and it dispatches events whose data is empty (``event: ping``), which would
reach ``json.loads``. Feeding bytes here keeps all three fixed in one tested place.
"""

from __future__ import annotations

import codecs

from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder


class EventDecoder:
    """``feed(bytes) -> events``; ``close() -> events`` at end of stream.

    Input may be split anywhere: inside a multi-byte character, between ``\\r`` and ``\\n``,
    inside the BOM.
    """

    def __init__(self) -> None:
        # utf-8-sig drops one leading BOM and nothing else; errors are replaced so a bad byte
        # costs one character, not the turn.
        self._text = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._lines = SSELineDecoder()
        self._fields = SSEDecoder()
        self._skip_lf = False

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        text = self._text.decode(data)
        if self._skip_lf and text:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        if not text:
            return []
        if text.endswith("\r"):
            # The line decoder would hold a final CR back until it sees whether LF follows,
            # delaying an event that bare-CR servers end right there. Close the line now and
            # drop the LF if it does come.
            text += "\n"
            self._skip_lf = True
        return self._dispatch(self._lines.decode(text))

    def close(self) -> list[ServerSentEvent]:
        tail = self._text.decode(b"", final=True)
        lines = self._lines.decode(tail) if tail else []
        # A last line without its newline still counts as a line, but the event it belongs to
        # has no terminating blank line, so the spec discards it; SSEDecoder does exactly that.
        lines += self._lines.flush()
        return self._dispatch(lines)

    def _dispatch(self, lines: list[str]) -> list[ServerSentEvent]:
        events = []
        for line in lines:
            event = self._fields.decode(line)
            if event is not None and event.data != "":
                events.append(event)
        return events
