"""A turn's log: what happened, in order, as typed events with gap-free sequence numbers
(pure; no renderer, no wire format).

The log is the turn's one record. Frames for the browser are a projection of it
(projection.py); storage persists it, and a Redis hub will carry it between instances, all
reading the same events. Text arrives in batches at most a frame apart (the relay cuts them),
so a fast model's thousand tokens a second are some thirty events, not a thousand.

The union is open: a page's edits of the text are events of their own (``TextEdited``), and tool
results will be, projected like the rest.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ..errors import TurnError, error_wire
from ..upstream.events import Usage


class TurnState(enum.Enum):
    DONE = "done"
    STOPPED = "stopped"
    ERROR = "error"
    INCOMPLETE = "incomplete"  # the stream ended with neither [DONE] nor a finish_reason


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a turn failed, as the user is told (never the API key: TurnError messages are
    scrubbed where they are made)."""

    code: str
    message: str
    status: int | None = None
    upstream_code: str | None = None
    retry_after: float | None = None

    @classmethod
    def of(cls, error: TurnError) -> Failure:
        return cls(error.code, error.message, error.status, error.upstream_code, error.retry_after)

    def to_wire(self) -> dict[str, Any]:
        return error_wire(self.code, self.message, self.status, self.upstream_code, self.retry_after)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a turn's answer goes in storage: the conversation, the answer's message, and the
    user's message it answers (a page that did not start the turn shows it from here)."""

    conversation: str
    title: str
    message: str
    user_id: str
    user_text: str
    regenerate: str | None = None
    replaces: str | None = None  # the user message this turn's question is a new version of


@dataclass(frozen=True, slots=True)
class Resumed:
    """What a turn that continues an answer starts from: the answer's text as it stands (the
    pages' edits in it), its version, and the model's own text when it was edited."""

    text: str
    version: int
    original: str | None = None


@dataclass(frozen=True, slots=True)
class Started:
    seq: int
    turn: str
    model: str  # asked for or configured; "" when the upstream's default is looked up later
    ref: str | None
    place: Place | None = None
    resumed: Resumed | None = None  # a Continue: the text it goes on from


@dataclass(frozen=True, slots=True)
class TextAppended:
    """The answer's text that arrived since the previous batch."""

    seq: int
    text: str
    deltas: int  # upstream deltas it folds (for tokens per second)


@dataclass(frozen=True, slots=True)
class TextEdited:
    """A page's edit of the answer's text, merged (merge.py): ``edits`` are range replacements
    on the text as it stood after the event before this one, ``version`` the text's version
    once they are made. ``origin`` names the page that made it (its acknowledgement), ``ref``
    echoes the edit frame's."""

    seq: int
    version: int
    edits: tuple[tuple[int, int, str], ...]  # (start, end, text), descending: each applies as is
    origin: str
    ref: str | None = None


@dataclass(frozen=True, slots=True)
class ReasoningAppended:
    """The model's thinking since the previous batch (not the answer's text); ``ms``, once
    the thinking has ended (the answer or a call began), how long it took."""

    seq: int
    text: str
    ms: float | None = None


@dataclass(frozen=True, slots=True)
class ToolCallFragment:
    """Pieces of one tool call since the previous batch: ``arguments`` pieces join in order
    per ``call`` (its number in the turn, calls.py); ``id`` and ``name`` come with its first."""

    seq: int
    call: int
    round: int
    index: int  # the upstream's
    id: str | None
    name: str | None
    arguments: str
    deltas: int


@dataclass(frozen=True, slots=True)
class ToolStarted:
    """A call's arguments are complete and it runs now."""

    seq: int
    call: int


@dataclass(frozen=True, slots=True)
class ToolFinished:
    """A call's result, which goes back to the model as its ``tool`` message."""

    seq: int
    call: int
    ok: bool
    result: str
    ms: float


@dataclass(frozen=True, slots=True)
class UsageReported:
    seq: int
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None

    def to_wire(self) -> dict[str, int]:
        return Usage(self.prompt_tokens, self.completion_tokens, self.total_tokens).to_wire()


@dataclass(frozen=True, slots=True)
class Finished:
    """The turn ended; always the last event."""

    seq: int
    state: TurnState
    finish_reason: str | None
    failure: Failure | None = None
    reason: str | None = None  # why it stopped (by the user, nobody watching, shutdown)
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    deltas: int = 0
    chars: int = 0


TurnEvent = (
    Started
    | TextAppended
    | TextEdited
    | ReasoningAppended
    | ToolCallFragment
    | ToolStarted
    | ToolFinished
    | UsageReported
    | Finished
)
