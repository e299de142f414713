"""Bytes of an event stream -> Server-Sent Events, incrementally and without I/O.

The WHATWG event-stream interpretation (HTML §9.2.6), in a few owned lines rather than
httpx-sse's decoders, which are private to it (``httpx_sse._decoders``) and which its public
``EventSource.aiter_sse()`` drives with three gaps (shared/research/protocol-facts.md §2): it
decodes with the Content-Type charset (the spec says UTF-8, always), a leading BOM makes it
drop the first event, and it dispatches events whose data is empty (``event: ping``), which
would reach ``json.loads``. The push path (the transport hands over each read's bytes) needs a
decoder fed with bytes anyway. Events are httpx-sse's own public ``ServerSentEvent``.
"""

from __future__ import annotations

import codecs
import re

from httpx_sse import ServerSentEvent

_LINE_END = re.compile(r"\r\n|\r|\n")


class EventDecoder:
    """``feed(bytes) -> events``; ``close() -> events`` at end of stream.

    Input may be split anywhere: inside a multi-byte character, between ``\\r`` and ``\\n``,
    inside the BOM.
    """

    def __init__(self) -> None:
        # utf-8-sig drops one leading BOM and nothing else; errors are replaced so a bad byte
        # costs one character, not the turn.
        self._text = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._partial = ""  # the start of a line whose end has not come yet
        self._skip_lf = False  # the last piece ended with CR: an LF starting the next is its pair
        self._event = ""
        self._data: list[str] = []
        self._id = ""  # the last event id: it carries over to later events
        self._retry: int | None = None

    def feed(self, data: bytes) -> list[ServerSentEvent]:
        return self._lines(self._text.decode(data))

    def close(self) -> list[ServerSentEvent]:
        # A last line without its line end is a line, but the event it belongs to has no
        # blank line after it, so the spec discards that event: only the tail can dispatch.
        events = self._lines(self._text.decode(b"", final=True))
        self._partial = ""
        self._event, self._data, self._retry = "", [], None
        return events

    def _lines(self, text: str) -> list[ServerSentEvent]:
        if self._skip_lf and text:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
        if not text:
            return []
        if "\r" in text:
            # A CR at the very end ends its line now (bare-CR servers end events right
            # there); an LF at the start of the next piece is then dropped.
            self._skip_lf = text[-1] == "\r"
            lines = _LINE_END.split(text)
        else:
            lines = text.split("\n")
        lines[0] = self._partial + lines[0]
        self._partial = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                if self._data:
                    data = "\n".join(self._data)
                    if data:
                        events.append(ServerSentEvent(self._event, data, self._id, self._retry))
                self._event, self._data, self._retry = "", [], None
            elif line[0] != ":":
                self._field(line)
        return events

    def _field(self, line: str) -> None:
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
