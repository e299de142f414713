"""A conversation's messages, as the chat completions API takes them (pure).

Validated where they come in (the page's ``start`` frame, web/protocol.py), through the
annotations here: a role is one of three, content is text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator, StrictStr

from ..text import clean_text

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a conversation, as the chat completions API takes it."""

    role: Role
    # Lone surrogates (half an emoji, escaped in JSON) cannot go out as UTF-8: replaced.
    content: Annotated[StrictStr, AfterValidator(clean_text)]

    def to_wire(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}
