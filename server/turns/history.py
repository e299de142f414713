"""Turns that answer stored conversations (edge): the server owns the history.

A new turn names its conversation and brings the user's new message (or names an answer to
give again); the store records both, and the messages sent upstream are read back from what
it stored, so what the model was sent is exactly what a reload shows.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..errors import Busy, NotFound
from ..storage.records import Begun
from ..storage.records import Message as Stored
from ..storage.store import Store
from ..upstream.messages import Message
from .log import Place, Resumed
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
    resume: str | None = None  # an answer to continue from its text as it stands
    replaces: str | None = None  # with ``text``: the user message it is a new version of


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


REPEAT_WINDOW = 120.0  # seconds a start's ref is remembered, to answer its repeat
SETTLE_WAIT = 3.0  # seconds a start waits for an ended answer's last write (beyond SQLite's 2 s busy wait)


class History:
    def __init__(
        self,
        store: Store,
        turns: Turns,
        *,
        settle: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._turns = turns
        # Waits for the writes of turns that have ended: a question sent the moment an answer
        # ended would otherwise find its conversation still busy until that end is written.
        self._settle = settle
        self._clock = clock
        # (owner, ref) -> (when, turn, where): a page whose socket dropped between sending a
        # start and seeing its turn sends it again; the repeat gets the same turn, not a second
        # copy of the user's message.
        self._recent: dict[tuple[str, str], tuple[float, str, Begun]] = {}

    @property
    def store(self) -> Store:
        return self._store

    async def start(self, ask: Ask) -> tuple[str, Begun]:
        """Record the turn and start it; its id and where it is stored. Raises ``NotFound``,
        ``Busy``, ``StorageError`` (nothing started), and what ``Turns.start`` raises."""
        now = self._clock()
        for key in [k for k, (when, _, _) in self._recent.items() if now - when > REPEAT_WINDOW]:
            del self._recent[key]
        if ask.ref is not None and (ask.user, ask.ref) in self._recent:
            _, turn, begun = self._recent[(ask.user, ask.ref)]
            return turn, begun
        turn = self._turns.new_id()
        try:
            begun = await self._begin(ask, turn)
        except Busy:
            if self._settle is None:
                raise
            await self._settle(SETTLE_WAIT)
            begun = await self._begin(ask, turn)
        answer = begun.answer
        resumed = None
        if ask.resume is not None:
            resumed = Resumed(answer.text, answer.version, answer.original)
        place = Place(
            conversation=begun.conversation.id,
            title=begun.conversation.title,
            message=begun.answer.id,
            user_id=begun.user.id,
            user_text=begun.user.text,
            regenerate=ask.regenerate,
            replaces=ask.replaces,
        )
        request = TurnRequest(
            ref=ask.ref,
            model=ask.model,
            messages=upstream_messages(begun.history),
            max_tokens=ask.max_tokens,
            place=place,
            user=ask.user,
            resumed=resumed,
        )
        try:
            self._turns.start(request, turn)
        except BaseException:
            # The recorded answer would stay "streaming" (and the conversation busy) forever.
            await self._store.abandon(turn)
            raise
        if ask.ref is not None:
            self._recent[(ask.user, ask.ref)] = (now, turn, begun)
        return turn, begun

    async def _begin(self, ask: Ask, turn: str) -> Begun:
        if ask.resume is not None:
            if ask.conversation is None:
                raise NotFound("message")
            return await self._store.resume(
                ask.user, conversation=ask.conversation, message=ask.resume, turn=turn
            )
        return await self._store.begin(
            ask.user,
            conversation=ask.conversation,
            text=ask.text,
            regenerate=ask.regenerate,
            model=ask.model,
            turn=turn,
            replaces=ask.replaces,
        )
