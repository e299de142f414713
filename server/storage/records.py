"""What the store hands out: plain frozen records, never ORM objects or rows (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STREAMING = "streaming"
ENDED = frozenset({"done", "stopped", "error", "incomplete"})

# What a message that was streaming when its server died says about itself: the text saved
# up to then is kept, and the state is one a reader can trust (never "streaming" forever).
INTERRUPTED = {
    "code": "interrupted",
    "message": "The server stopped while this answer was streaming; the text saved until then is kept.",
}
NOT_STARTED = {"code": "internal", "message": "This answer could not be started."}

# A message's fields that go to the page only when set.
_OPTIONAL_WIRE = (
    "error", "usage", "tool_calls", "reasoning", "finish_reason", "ttft_ms", "tokens_per_second",
    "duration_ms", "model", "turn", "original",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    owner: str
    title: str
    model: str | None
    head: str | None
    created_ms: int
    updated_ms: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "model": self.model,
            "created_ms": self.created_ms,
            "updated_ms": self.updated_ms,
        }


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation: str
    parent: str | None
    role: str
    text: str
    state: str
    error: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    reasoning: dict[str, Any] | None = None
    finish_reason: str | None = None
    ttft_ms: float | None = None
    tokens_per_second: float | None = None
    duration_ms: float | None = None
    model: str | None = None
    turn: str | None = None
    seq: int = 0
    version: int = 1
    original: str | None = None  # the model's own text, when the answer was edited
    created_ms: int = 0
    updated_ms: int = 0

    @property
    def streaming(self) -> bool:
        return self.state == STREAMING

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id, "parent": self.parent, "role": self.role, "text": self.text, "state": self.state,
        }  # fmt: skip
        for name in _OPTIONAL_WIRE:
            value = getattr(self, name)
            if value is not None:
                wire[name] = value
        wire["version"] = self.version
        wire["created_ms"] = self.created_ms
        return wire


@dataclass(frozen=True, slots=True)
class Begun:
    """A new turn's place in storage: its conversation, the user's message it answers, the
    assistant's message it will fill, and the conversation up to the user's message (the
    branch on screen), which is what goes upstream."""

    conversation: Conversation
    user: Message
    answer: Message
    history: tuple[Message, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Progress:
    """A write of a streaming answer: ``chunk`` goes after the first ``base`` characters the
    row holds (so a write retried after an unclear failure never doubles text)."""

    base: int
    chunk: str
    seq: int
    tool_calls: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None  # {text, ms} whole, when it changed
    version: int | None = None  # the text's version (merge.py), once it counts
    original: str | None = None  # the model's own text, once a page edited the answer


@dataclass(frozen=True, slots=True)
class Ending:
    """What a finished answer's row gets besides its last text."""

    state: str
    error: dict[str, Any] | None = None
    finish_reason: str | None = None
    ttft_ms: float | None = None
    tokens_per_second: float | None = None
    duration_ms: float | None = None
    model: str | None = None
