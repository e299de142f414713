"""The WebSocket protocol (docs/protocol.md): client frames parsed and validated, server frames
built (pure).

Every client frame is a JSON object with a ``type``. Anything else is a ``ProtocolError`` whose
``code`` goes back to the client in an ``error`` frame; the socket stays open.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import ErrorDetails

from ..errors import ProtocolError
from ..text import has_surrogate
from ..upstream.messages import Message

PROTOCOL_VERSION = 2  # 2: render operations name the blocks they act on (docs/protocol.md)
MAX_MESSAGES = 500
MAX_REF = 128
MAX_MODEL = 256
MAX_TURN_ID = 64
MAX_TOKENS = 1_000_000


def _whole_characters(value: str) -> str:
    if has_surrogate(value):
        raise ValueError("must not hold lone surrogates")
    return value


Model = Annotated[StrictStr, Field(max_length=MAX_MODEL), AfterValidator(_whole_characters)]
TurnId = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TURN_ID)]


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """Begin a turn: the conversation so far, the last message being the user's."""

    ref: str | None = None
    model: Model | None = None
    messages: Annotated[tuple[Message, ...], Field(min_length=1, max_length=MAX_MESSAGES)]
    max_tokens: Annotated[StrictInt, Field(gt=0, le=MAX_TOKENS)] | None = None
    type: Literal["start"] = "start"

    @model_validator(mode="after")
    def _last_is_the_user_s(self) -> Start:
        if self.messages[-1].role != "user":
            raise ValueError("The last message must be the user's")
        return self


@dataclass(frozen=True, slots=True)
class Stop:
    turn: TurnId
    ref: str | None = None
    type: Literal["stop"] = "stop"


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Follow a turn's frames after ``after`` (-1: from its start)."""

    turn: TurnId
    after: Annotated[StrictInt, Field(ge=-1)] = -1
    ref: str | None = None
    type: Literal["subscribe"] = "subscribe"


@dataclass(frozen=True, slots=True)
class Ping:
    ref: str | None = None
    type: Literal["ping"] = "ping"


@dataclass(frozen=True, slots=True)
class Hello:
    # The one version this server speaks (a bool is not a version: StrictInt).
    version: Annotated[StrictInt, Field(ge=PROTOCOL_VERSION, le=PROTOCOL_VERSION)]
    ref: str | None = None
    type: Literal["hello"] = "hello"


ClientFrame = Start | Stop | Subscribe | Ping | Hello
_FRAMES: TypeAdapter[ClientFrame] = TypeAdapter(Annotated[ClientFrame, Field(discriminator="type")])


def parse_client_frame(text: str) -> ClientFrame:
    """A client frame, validated; anything else raises ``ProtocolError`` with the ``ref`` of
    the frame when it had a usable one."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "Frames must be JSON objects; this one is not JSON.") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_frame", "Frames must be JSON objects.")
    # An unusable ref is dropped rather than refused: the error could not name it anyway.
    ref = data.get("ref")
    data["ref"] = ref if isinstance(ref, str) and len(ref) <= MAX_REF and not has_surrogate(ref) else None
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_frame", "A frame needs a string 'type'.", ref=data["ref"])
    try:
        return _FRAMES.validate_python(data)
    except ValidationError as error:
        raise _refusal(error.errors(include_url=False, include_input=False), kind, data["ref"]) from None


def _refusal(errors: list[ErrorDetails], kind: str, ref: str | None) -> ProtocolError:
    first = errors[0]
    if first["type"] == "union_tag_invalid":
        return ProtocolError("unknown_type", f"Unknown frame type {kind[:40]!r}.", ref=ref)
    if kind == "hello":
        message = f"This server speaks protocol version {PROTOCOL_VERSION}."
        return ProtocolError("unsupported_version", message, ref=ref)
    return ProtocolError("invalid", _sentence(first), ref=ref)


def _sentence(error: ErrorDetails) -> str:
    """``messages[0].role: Input should be 'system', 'user' or 'assistant'.``"""
    path = ""
    for part in error["loc"][1:]:  # the first is the frame's type (the union's tag)
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    # The wire speaks JSON: its arrays are lists, whatever Python holds them in.
    message = str(error["msg"]).removeprefix("Value error, ").replace("uple", "ist")
    if path.startswith("messages[") and path.endswith("]") and error["type"] == "dataclass_type":
        message = "Each message must be an object with a role and a content"
    return f"'{path}': {message}." if path else f"{message}."


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
