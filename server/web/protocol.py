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
from ..text import clean_text, has_surrogate

# 2: render operations name the blocks they act on; 3: the server owns the history (a start
# names its conversation and brings one new message), stored messages, watching a conversation.
PROTOCOL_VERSION = 3
MAX_TEXT = 200_000  # characters of one user message
MAX_ID = 64
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
StoredId = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID)]


def _has_words(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


UserText = Annotated[
    StrictStr, Field(max_length=MAX_TEXT), AfterValidator(clean_text), AfterValidator(_has_words)
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Start:
    """Begin a turn in a stored conversation (none: a new one) with the user's new message,
    another answer to the message an earlier answer (``regenerate``) answered, or the rest of
    an answer (``continues``) from its text as it stands."""

    ref: str | None = None
    conversation: StoredId | None = None
    text: UserText | None = None
    regenerate: StoredId | None = None
    continues: StoredId | None = None  # an answer to continue from its text as it stands
    replaces: StoredId | None = None  # with ``text``: a user message this is a new version of
    model: Model | None = None
    max_tokens: Annotated[StrictInt, Field(gt=0, le=MAX_TOKENS)] | None = None
    type: Literal["start"] = "start"

    @model_validator(mode="after")
    def _one_of_text_or_regenerate(self) -> Start:
        if [self.text, self.regenerate, self.continues].count(None) != 2:
            raise ValueError(
                "A start needs one of 'text' (a new message), 'regenerate' or 'continues' (an answer's id)"
            )
        if (self.regenerate or self.continues or self.replaces) is not None and self.conversation is None:
            raise ValueError("'regenerate', 'continues' and 'replaces' need the 'conversation' they are in")
        if self.replaces is not None and self.text is None:
            raise ValueError("'replaces' needs the 'text' of the new version")
        return self


@dataclass(frozen=True, slots=True)
class Watch:
    """Be told of turns that start in a conversation (from another tab); None: stop."""

    conversation: StoredId | None
    ref: str | None = None
    type: Literal["watch"] = "watch"


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


MAX_EDITS = 256  # replacements in one edit frame
Replacement = tuple[
    Annotated[StrictInt, Field(ge=0)],
    Annotated[StrictInt, Field(ge=0)],
    Annotated[StrictStr, Field(max_length=MAX_TEXT), AfterValidator(_whole_characters)],
]


@dataclass(frozen=True, slots=True, kw_only=True)
class EditText:
    """Replace ranges of an answer's text, made in order on version ``base``: of a streaming
    answer through its ``turn``, of one no turn streams by its stored ``message``. The server
    merges them with what came since (turns/merge.py). ``client`` names the page (its edits
    come back with it as their acknowledgement)."""

    base: Annotated[StrictInt, Field(ge=0)]
    edits: Annotated[list[Replacement], Field(min_length=1, max_length=MAX_EDITS)]
    client: Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID)]
    turn: TurnId | None = None
    message: StoredId | None = None
    ref: str | None = None
    type: Literal["edit"] = "edit"

    @model_validator(mode="after")
    def _one_of_turn_or_message(self) -> EditText:
        if (self.turn is None) == (self.message is None):
            raise ValueError(
                "An edit names either the 'turn' that streams the answer or its stored 'message'"
            )
        return self


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


ClientFrame = Start | Stop | Subscribe | Watch | EditText | Ping | Hello
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
    """``'text': String should have at most 200000 characters.``"""
    path = ""
    for part in error["loc"][1:]:  # the first is the frame's type (the union's tag)
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    # The wire speaks JSON: its arrays are lists, whatever Python holds them in.
    message = str(error["msg"]).removeprefix("Value error, ").replace("uple", "ist")
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


def turn_frame(conversation: str, turn: str) -> dict[str, Any]:
    """A turn started in a watched conversation (from another socket)."""
    return {"type": "turn", "conversation": conversation, "turn": turn}


def message_frame(turn: str, conversation: str, message: dict[str, Any]) -> dict[str, Any]:
    """A turn's answer as stored, for a turn the server no longer holds in memory."""
    return {"type": "message", "turn": turn, "conversation": conversation, "message": message}


def revised_frame(
    conversation: str,
    message: str,
    version: int,
    edits: list[list[Any]],
    origin: str,
    ref: str | None,
    *,
    html: str,
    keep: tuple[int, int],
    was: int,
) -> dict[str, Any]:
    """An edit of an answer no turn streams, merged and stored: the replacements made (in
    order, on the text as it stood), its version now, whose edit it was, and how its HTML
    changed: of the ``was`` top-level elements, the first and last ``keep`` stay and ``html``
    goes between them."""
    return {
        "type": "edit", "conversation": conversation, "message": message, "v": version,
        "edits": edits, "origin": origin, "ref": ref, "keep": list(keep), "was": was, "html": html,
    }  # fmt: skip


def branch_frame(conversation: str, head: str) -> dict[str, Any]:
    """The branch on screen of a watched conversation changed (a version was chosen in another
    tab): ``head`` is its last message now."""
    return {"type": "branch", "conversation": conversation, "head": head}


def storage_frame(turn: str, ok: bool, message: str) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "storage", "ok": ok, "turn": turn, "message": message}
    if not ok:
        frame["code"] = "storage_unavailable"
    return frame
