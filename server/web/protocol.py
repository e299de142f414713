"""The WebSocket protocol (docs/protocol.md): client frames parsed and validated, server frames
built (pure).

Every client frame is a JSON object with a ``type``. Anything else is a ``ProtocolError`` whose
``code`` goes back to the client in an ``error`` frame; the socket stays open.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError
from ..text import has_surrogate
from ..upstream.client import Message

PROTOCOL_VERSION = 1
ROLES = frozenset({"system", "user", "assistant"})
MAX_MESSAGES = 500
MAX_REF = 128
MAX_MODEL = 256
MAX_TURN_ID = 64
MAX_TOKENS = 1_000_000


@dataclass(frozen=True, slots=True)
class Start:
    """Begin a turn: the conversation so far, the last message being the user's."""

    ref: str | None
    model: str | None
    messages: tuple[Message, ...]
    max_tokens: int | None


@dataclass(frozen=True, slots=True)
class Stop:
    turn: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Follow a turn's frames after ``after`` (-1: from its start)."""

    turn: str
    after: int
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class Ping:
    ref: str | None


@dataclass(frozen=True, slots=True)
class Hello:
    version: int


ClientFrame = Start | Stop | Subscribe | Ping | Hello


def parse_client_frame(text: str) -> ClientFrame:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "Frames must be JSON objects; this one is not JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", "Frames must be JSON objects.")
    kind = data.get("type")
    ref = _optional_str(data, "ref", MAX_REF, None)
    if not isinstance(kind, str):
        raise ProtocolError("bad_frame", "A frame needs a string 'type'.", ref=ref)
    parser = _PARSERS.get(kind)
    if parser is None:
        raise ProtocolError("unknown_type", f"Unknown frame type {kind[:40]!r}.", ref=ref)
    try:
        return parser(data, ref)
    except ProtocolError as error:
        error.ref = ref
        raise


def _start(data: dict[str, Any], ref: str | None) -> Start:
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ProtocolError("invalid", "'messages' must be a non-empty list.")
    if len(raw) > MAX_MESSAGES:
        raise ProtocolError("invalid", f"At most {MAX_MESSAGES} messages per turn.")
    messages = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ProtocolError("invalid", f"messages[{index}] must be an object.")
        role, content = item.get("role"), item.get("content")
        if not isinstance(role, str) or role not in ROLES:
            raise ProtocolError("invalid", f"messages[{index}].role must be one of {sorted(ROLES)}.")
        if not isinstance(content, str):
            raise ProtocolError("invalid", f"messages[{index}].content must be a string.")
        messages.append(Message(role, content))
    if messages[-1].role != "user":
        raise ProtocolError("invalid", "The last message must be the user's.")
    max_tokens = data.get("max_tokens")
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or not 0 < max_tokens <= MAX_TOKENS
    ):
        raise ProtocolError("invalid", f"'max_tokens' must be an integer from 1 to {MAX_TOKENS}.")
    return Start(
        ref=ref,
        model=_optional_str(data, "model", MAX_MODEL, "invalid"),
        messages=tuple(messages),
        max_tokens=max_tokens,
    )


def _stop(data: dict[str, Any], ref: str | None) -> Stop:
    return Stop(_turn_id(data), ref)


def _subscribe(data: dict[str, Any], ref: str | None) -> Subscribe:
    after = data.get("after", -1)
    if not isinstance(after, int) or isinstance(after, bool) or after < -1:
        raise ProtocolError("invalid", "'after' must be an integer ≥ -1.")
    return Subscribe(_turn_id(data), after, ref)


def _ping(data: dict[str, Any], ref: str | None) -> Ping:
    return Ping(ref)


def _hello(data: dict[str, Any], ref: str | None) -> Hello:
    version = data.get("version")
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise ProtocolError("unsupported_version", f"This server speaks protocol version {PROTOCOL_VERSION}.")
    return Hello(PROTOCOL_VERSION)


_PARSERS: dict[str, Callable[[dict[str, Any], str | None], ClientFrame]] = {
    "start": _start,
    "stop": _stop,
    "subscribe": _subscribe,
    "ping": _ping,
    "hello": _hello,
}


def _turn_id(data: dict[str, Any]) -> str:
    turn = data.get("turn")
    if not isinstance(turn, str) or not turn or len(turn) > MAX_TURN_ID:
        raise ProtocolError("invalid", "'turn' must be a turn id.")
    return turn


def _optional_str(data: dict[str, Any], key: str, limit: int, code: str | None) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or has_surrogate(value):
        if code is None:
            return None
        raise ProtocolError(code, f"'{key}' must be a string of at most {limit} characters.")
    return value


# ------------------------------------------------------------------ server frames


def hello_frame(*, server: str, demo: bool, limits: dict[str, Any]) -> dict[str, Any]:
    return {"type": "hello", "protocol": PROTOCOL_VERSION, "server": server, "demo": demo, "limits": limits}


def error_frame(code: str, message: str, *, ref: str | None = None, **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if ref is not None:
        frame["ref"] = ref
    frame.update(extra)
    return frame


def pong_frame(ref: str | None) -> dict[str, Any]:
    return {"type": "pong"} if ref is None else {"type": "pong", "ref": ref}
