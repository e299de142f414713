"""Inkstream's own exceptions. Foreign ones (httpx, json, websockets) are translated once,
at the edge that meets them, into one of these::

    InkstreamError
    ├── ConfigError                 a setting is missing or malformed (raised at start-up)
    ├── ProtocolError               a client frame we refuse; carries a wire ``code``
    ├── UnknownTurn                 a turn the hub does not hold (never was, or expired)
    ├── StorageError                the database refused a read or write, or could not be reached
    ├── NotFound                    no such conversation or message for this owner (or none at all)
    ├── Busy                        the conversation already has an answer streaming
    └── TurnError                   a turn ended in error; shown inside its message
        ├── AnswerTooLarge          the answer outgrew max_turn_log_bytes
        ├── InternalError           a bug of ours; logged with its traceback
        └── UpstreamError           the model server failed the turn
            ├── UpstreamStatusError     non-2xx before any event (401, 404, 429 + Retry-After, 5xx)
            ├── UpstreamStreamError     an ``error`` object inside an otherwise healthy stream
            ├── UpstreamProtocolError   not an event stream, or an event that is not JSON
            ├── UpstreamTimeout         could not connect in time, or no bytes for idle_timeout
            └── UpstreamDisconnected    the connection failed or dropped mid-stream
"""

from __future__ import annotations

from typing import Any


class InkstreamError(Exception):
    """Base of everything Inkstream raises on purpose."""


class ConfigError(InkstreamError):
    """A setting is missing or malformed."""


class ProtocolError(InkstreamError):
    """A client frame that breaks the WebSocket protocol.

    ``code`` is the machine-readable reason sent back in the ``error`` frame.
    """

    def __init__(self, code: str, message: str, *, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


class UnknownTurn(InkstreamError):
    """A turn the hub does not hold: it never existed here, or it ended and expired."""

    def __init__(self, turn: str) -> None:
        super().__init__(f"No turn {turn[:64]!r} here.")
        self.turn = turn


class StorageError(InkstreamError):
    """The database refused a read or write, or could not be reached (locked, down, disk full).

    ``message`` is for the user and the log; it never holds the database URL's password."""

    code = "storage_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(InkstreamError):
    """No such conversation, message or turn *for this owner*: another owner's look exactly
    like ones that do not exist."""

    def __init__(self, what: str = "conversation") -> None:
        super().__init__(f"No such {what}.")
        self.what = what


class Busy(InkstreamError):
    """The conversation already has an answer streaming; a second would race it."""


class TurnError(InkstreamError):
    """A turn ended in error. ``message`` is safe to show to the user: it never holds the
    API key."""

    code = "turn_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        upstream_code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.upstream_code = upstream_code
        self.retry_after = retry_after

    def to_wire(self) -> dict[str, object]:
        return error_wire(self.code, self.message, self.status, self.upstream_code, self.retry_after)


class AnswerTooLarge(TurnError):
    code = "too_large"


class InternalError(TurnError):
    code = "internal"


class UpstreamError(TurnError):
    """The upstream model server failed the turn."""

    code = "upstream_error"


class UpstreamStatusError(UpstreamError):
    code = "upstream_status"


class UpstreamStreamError(UpstreamError):
    code = "upstream_stream_error"


class UpstreamProtocolError(UpstreamError):
    code = "upstream_protocol"


class UpstreamTimeout(UpstreamError):
    code = "upstream_timeout"


class UpstreamDisconnected(UpstreamError):
    code = "upstream_disconnected"


def error_wire(
    code: str, message: str, status: int | None, upstream_code: str | None, retry_after: float | None
) -> dict[str, Any]:
    """An error as the page gets it: the optional fields only when known."""
    wire: dict[str, Any] = {"code": code, "message": message}
    if status is not None:
        wire["status"] = status
    if upstream_code is not None:
        wire["upstream_code"] = upstream_code
    if retry_after is not None:
        wire["retry_after"] = retry_after
    return wire
