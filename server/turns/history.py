"""Turns that answer stored conversations (edge): the server owns the history.

A new turn names its conversation and brings the user's new message (or names an answer to
give again); the store records both, and the messages sent upstream are read back from what
it stored, so what the model was sent is exactly what a reload shows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..storage.records import Begun
from ..storage.records import Message as Stored
from ..storage.store import Store
from ..upstream.messages import Message
from .log import Place
from .runner import TurnRequest, Turns


@dataclass(frozen=True, slots=True)
class Ask:
    """What a page asks for: a new user message (``text``) or another answer to the user
    message that ``regenerate`` (an assistant message) answered."""

    user: str
    ref: str | None
    conversation: str | None
    text: str | None
    regenerate: str | None
    model: str | None
    max_tokens: int | None


def upstream_messages(history: tuple[Stored, ...]) -> tuple[Message, ...]:
    """The branch as the chat completions API takes it. An answer that failed before its
    first word says nothing, so it is left out rather than sent as an empty message."""
    sent: list[Message] = []
    for message in history:
        if message.role == "assistant" and not message.text:
            continue
        if message.role in ("user", "assistant", "system"):
            sent.append(Message(message.role, message.text))  # type: ignore[arg-type]
    return tuple(sent)


class History:
    def __init__(self, store: Store, turns: Turns) -> None:
        self._store = store
        self._turns = turns

    @property
    def store(self) -> Store:
        return self._store

    async def start(self, ask: Ask) -> tuple[str, Begun]:
        """Record the turn and start it; its id and where it is stored. Raises ``NotFound``,
        ``Busy``, ``StorageError`` (nothing started), and what ``Turns.start`` raises."""
        turn = self._turns.new_id()
        begun = await self._store.begin(
            ask.user,
            conversation=ask.conversation,
            text=ask.text,
            regenerate=ask.regenerate,
            model=ask.model,
            turn=turn,
        )
        place = Place(
            conversation=begun.conversation.id,
            title=begun.conversation.title,
            message=begun.answer.id,
            user_id=begun.user.id,
            user_text=begun.user.text,
            regenerate=ask.regenerate,
        )
        request = TurnRequest(
            ref=ask.ref,
            model=ask.model,
            messages=upstream_messages(begun.history),
            max_tokens=ask.max_tokens,
            place=place,
            user=ask.user,
        )
        try:
            self._turns.start(request, turn)
        except BaseException:
            # The recorded answer would stay "streaming" (and the conversation busy) forever.
            await self._store.abandon(turn)
            raise
        return turn, begun
