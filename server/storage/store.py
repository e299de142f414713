"""The store: conversations and messages, read and written for one owner at a time (edge).

Every read and write names its owner and matches it in SQL, so another owner's conversation
is "not found" exactly like a missing one. A streaming answer is one row, written while it
streams (``save``: at most about once a second, by the caller's batching) and once more
when it ends (``finish``); each write is one short transaction. Database failures come out as
``StorageError``, never as a driver's exception.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ..errors import Busy, NotFound, StorageError
from .engine import create_engine, describe, migrate
from .records import INTERRUPTED, NOT_STARTED, STREAMING, Begun, Conversation, Ending, Message, Progress
from .schema import TITLE, conversations, messages

log = logging.getLogger("inkstream.storage")

TITLE_WORDS = 60  # characters of the first message a title keeps


def new_id(prefix: str) -> str:
    """An id nobody can guess: 128 bits from the OS's random source."""
    return prefix + secrets.token_urlsafe(16)


def title_of(text: str) -> str:
    """A conversation's title from its first message: the first line with text, markdown's
    marks dropped, at most TITLE_WORDS characters, cut at a word."""
    line = next((line for line in text.splitlines() if line.strip()), "")
    line = re.sub(r"[`*_#>\[\]]+", "", line)
    line = " ".join(line.split())
    if len(line) > TITLE_WORDS:
        cut = line[:TITLE_WORDS].rsplit(" ", 1)[0] or line[:TITLE_WORDS]
        line = cut.rstrip(" ,.;:") + "…"
    return line[:TITLE] or "New chat"


class Store:
    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock
        self.answer_writes = 0  # committed writes of streaming answers (save and finish)

    @classmethod
    async def open(cls, url: str, *, clock: Callable[[], float] = time.time) -> Store:
        """Connect, bring the schema up to date, and end answers a dead server left streaming."""
        engine = create_engine(url)
        try:
            await migrate(engine)
        except (SQLAlchemyError, OSError) as error:
            await engine.dispose()
            raise StorageError(f"Could not open the database ({describe(url)}): {_reason(error)}") from error
        store = cls(engine, clock=clock)
        interrupted = await store.interrupt_streaming()
        if interrupted:
            log.warning(
                "%d answer(s) were streaming when the server last stopped: kept as saved", interrupted
            )
        return store

    async def close(self) -> None:
        await self._engine.dispose()

    def _now(self) -> int:
        return int(self._clock() * 1000)

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.begin() as connection:
                yield connection
        except (SQLAlchemyError, OSError) as error:
            raise StorageError(f"The database failed: {_reason(error)}") from error

    # ------------------------------------------------------------------ conversations

    async def conversations(self, owner: str, *, limit: int = 500) -> list[Conversation]:
        """The owner's conversations, the most recently active first."""
        query = (
            select(conversations)
            .where(conversations.c.owner == owner)
            .order_by(conversations.c.updated_ms.desc(), conversations.c.id)
            .limit(limit)
        )
        async with self._transaction() as db:
            rows = (await db.execute(query)).mappings().all()
        return [Conversation(**row) for row in rows]

    async def conversation(self, owner: str, conversation: str) -> Conversation:
        async with self._transaction() as db:
            return await self._conversation(db, owner, conversation)

    async def transcript(
        self, owner: str, conversation: str
    ) -> tuple[Conversation, list[Message], dict[str, list[str]]]:
        """The conversation, the branch on screen (first message first), and, for each of its
        messages that has other versions (an answer regenerated, a question edited and sent
        again), the ids of all its versions, oldest first."""
        async with self._transaction() as db:
            found = await self._conversation(db, owner, conversation)
            rows = await self._messages(db, conversation)
        branch = _branch(rows, found.head)
        return found, branch, _versions(rows, branch)

    async def show(self, owner: str, conversation: str, message: str) -> str:
        """Put the branch through ``message`` on screen: the head becomes the newest message
        under it (its latest version of each reply, all the way down); that message's id.
        Raises ``NotFound`` and ``Busy`` (an answer of the conversation streams: its branch
        stays)."""
        async with self._transaction() as db:
            found = await self._conversation(db, owner, conversation)
            rows = await self._messages(db, conversation)
            if any(row.streaming for row in rows):
                raise Busy()
            if not any(row.id == message for row in rows):
                raise NotFound("message")
            children: dict[str | None, list[Message]] = {}
            for row in rows:  # oldest first
                children.setdefault(row.parent, []).append(row)
            leaf = message
            while children.get(leaf):
                leaf = children[leaf][-1].id
            await db.execute(
                update(conversations)
                .where(conversations.c.id == found.id, _is(conversations.c.head, found.head))
                .values(head=leaf)
            )
        return leaf

    async def rename(self, owner: str, conversation: str, title: str) -> Conversation:
        title = " ".join(title.split())[:TITLE] or "New chat"
        async with self._transaction() as db:
            result = await db.execute(
                update(conversations)
                .where(conversations.c.id == conversation, conversations.c.owner == owner)
                .values(title=title)
            )
            if result.rowcount != 1:
                raise NotFound()
            return await self._conversation(db, owner, conversation)

    async def delete(self, owner: str, conversation: str) -> list[str]:
        """Delete the conversation and its messages; the turns of its answers still streaming,
        for the caller to stop."""
        async with self._transaction() as db:
            await self._conversation(db, owner, conversation)
            streaming = await db.execute(
                select(messages.c.turn).where(
                    messages.c.conversation == conversation, messages.c.state == STREAMING
                )
            )
            turns = [turn for (turn,) in streaming if turn]
            # Children before parents, so it holds with or without SQLite's foreign keys on.
            await db.execute(
                update(messages).where(messages.c.conversation == conversation).values(parent=None)
            )
            await db.execute(delete(messages).where(messages.c.conversation == conversation))
            await db.execute(delete(conversations).where(conversations.c.id == conversation))
        return turns

    # ------------------------------------------------------------------ turns

    async def begin(
        self,
        owner: str,
        *,
        conversation: str | None,
        text: str | None,
        regenerate: str | None,
        model: str | None,
        turn: str,
        replaces: str | None = None,
    ) -> Begun:
        """Record a new turn: the user's new message (``text``; with ``replaces``, a new
        version of that user message, its sibling) or a new answer to the one ``regenerate``
        answered, and the empty answer the turn will fill, now the branch's head. Nothing is
        overwritten: the earlier versions stay, as branches. Raises ``NotFound`` and ``Busy``
        (an answer of this conversation streams)."""
        now = self._now()
        async with self._transaction() as db:
            if conversation is None:
                if text is None:
                    raise NotFound("message")
                found = Conversation(new_id("c_"), owner, title_of(text), model, None, now, now)
                await db.execute(insert(conversations).values(**_fields(found)))
                rows: list[Message] = []
            else:
                found = await self._conversation(db, owner, conversation)
                rows = await self._messages(db, found.id)
            if any(row.streaming for row in rows):
                raise Busy()
            by_id = {row.id: row for row in rows}
            if regenerate is not None:
                old = by_id.get(regenerate)
                if old is None or old.role != "assistant" or old.parent is None:
                    raise NotFound("message")
                user = by_id[old.parent]
            else:
                assert text is not None
                parent = found.head
                if replaces is not None:
                    old_user = by_id.get(replaces)
                    if old_user is None or old_user.role != "user":
                        raise NotFound("message")
                    parent = old_user.parent
                user = Message(
                    new_id("m_"), found.id, parent, "user", text, "done", created_ms=now, updated_ms=now
                )
                await db.execute(insert(messages).values(**_fields(user)))
                by_id[user.id] = user
            answer = Message(
                new_id("m_"), found.id, user.id, "assistant", "", STREAMING, model=model, turn=turn,
                created_ms=now, updated_ms=now,
            )  # fmt: skip
            await db.execute(insert(messages).values(**_fields(answer)))
            # Compare and set: of two turns begun at once on the same head, one wins.
            moved = await db.execute(
                update(conversations)
                .where(conversations.c.id == found.id, _is(conversations.c.head, found.head))
                .values(head=answer.id, updated_ms=now, model=model or found.model)
            )
            if moved.rowcount != 1:
                raise Busy()
        history = tuple(_branch(list(by_id.values()), user.id))
        return Begun(found, user, answer, history)

    async def resume(self, owner: str, *, conversation: str, message: str, turn: str) -> Begun:
        """Record that the answer ``message`` streams again, continued by ``turn`` from its
        text as it stands: it must be the assistant's, ended, and the leaf of the branch on
        screen (an answer something follows is continued by a new branch instead). Raises
        ``NotFound`` and ``Busy``."""
        now = self._now()
        async with self._transaction() as db:
            found = await self._conversation(db, owner, conversation)
            rows = await self._messages(db, found.id)
            if any(row.streaming for row in rows):
                raise Busy()
            by_id = {row.id: row for row in rows}
            old = by_id.get(message)
            if old is None or old.role != "assistant" or old.parent is None:
                raise NotFound("message")
            if found.head != old.id:
                raise NotFound("last answer")
            result = await db.execute(
                update(messages)
                .where(
                    messages.c.id == old.id,
                    messages.c.state != STREAMING,
                    messages.c.version == old.version,  # an edit since the read: try again
                )
                .values(state=STREAMING, turn=turn, error=None, finish_reason=None, updated_ms=now)
            )
            if result.rowcount != 1:
                raise Busy()
            await db.execute(
                update(conversations).where(conversations.c.id == found.id).values(updated_ms=now)
            )
        answer = dataclasses.replace(
            old, state=STREAMING, turn=turn, error=None, finish_reason=None, updated_ms=now
        )
        user = by_id[old.parent]
        return Begun(found, user, answer, tuple(_branch(rows, user.id)))

    async def message_of_turn(self, owner: str, turn: str) -> Message:
        """The answer a turn wrote (or is writing)."""
        query = (
            select(messages)
            .join(conversations, conversations.c.id == messages.c.conversation)
            .where(messages.c.turn == turn, conversations.c.owner == owner)
        )
        async with self._transaction() as db:
            row = (await db.execute(query)).mappings().first()
        if row is None:
            raise NotFound("turn")
        return Message(**row)

    async def message(self, owner: str, message: str) -> Message:
        """One of the owner's messages."""
        query = (
            select(messages)
            .join(conversations, conversations.c.id == messages.c.conversation)
            .where(messages.c.id == message, conversations.c.owner == owner)
        )
        async with self._transaction() as db:
            row = (await db.execute(query)).mappings().first()
        if row is None:
            raise NotFound("message")
        return Message(**row)

    async def revise(self, message: Message, text: str, version: int) -> bool:
        """Replace the text of an answer no turn streams (a page edited it): from ``message``
        as it was read, to ``text`` at ``version``; the model's own text is kept as its
        original. False, with nothing written, when the row changed since it was read."""
        original = message.original if message.original is not None else message.text
        async with self._transaction() as db:
            result = await db.execute(
                update(messages)
                .where(
                    messages.c.id == message.id,
                    messages.c.version == message.version,
                    messages.c.state != STREAMING,
                )
                .values(text=text, version=version, original=original, updated_ms=self._now())
            )
        return bool(result.rowcount)

    async def save(self, turn: str, progress: Progress, ending: Ending | None = None) -> bool:
        """Write the new text of the answer ``turn`` streams (and, with ``ending``, its end).
        False when the row is gone or no longer streaming (deleted, or ended by a restart): it
        is left alone."""
        now = self._now()
        values: dict[str, Any] = {
            "text": func.substr(messages.c.text, 1, progress.base).concat(progress.chunk)
            if progress.base
            else progress.chunk,
            "seq": progress.seq,
            "updated_ms": now,
        }
        if progress.tool_calls is not None:
            values["tool_calls"] = progress.tool_calls
        if progress.usage is not None:
            values["usage"] = progress.usage
        if progress.reasoning is not None:
            values["reasoning"] = progress.reasoning
        if progress.version is not None:
            values["version"] = progress.version
        if progress.original is not None:
            values["original"] = progress.original
        if ending is not None:
            values.update(
                state=ending.state,
                error=ending.error,
                finish_reason=ending.finish_reason,
                ttft_ms=ending.ttft_ms,
                tokens_per_second=ending.tokens_per_second,
                duration_ms=ending.duration_ms,
            )
            if ending.model:
                values["model"] = ending.model
        async with self._transaction() as db:
            result = await db.execute(
                update(messages)
                .where(messages.c.turn == turn, messages.c.state == STREAMING)
                .values(**values)
            )
            if ending is not None and result.rowcount:
                conversation = (
                    select(messages.c.conversation).where(messages.c.turn == turn).scalar_subquery()
                )
                await db.execute(
                    update(conversations).where(conversations.c.id == conversation).values(updated_ms=now)
                )
        self.answer_writes += 1
        return bool(result.rowcount)

    async def abandon(self, turn: str) -> None:
        """The answer ``turn`` was recorded but never started: it ends as an error at once."""
        async with self._transaction() as db:
            await db.execute(
                update(messages)
                .where(messages.c.turn == turn, messages.c.state == STREAMING)
                .values(state="error", error=NOT_STARTED, updated_ms=self._now())
            )

    async def interrupt_streaming(self) -> int:
        """End every answer left streaming by a server that died: ``incomplete``, with what
        was saved. (One server owns its turns; with several, this becomes a lease.)"""
        async with self._transaction() as db:
            result = await db.execute(
                update(messages)
                .where(messages.c.state == STREAMING)
                .values(state="incomplete", error=INTERRUPTED, updated_ms=self._now())
            )
        return int(result.rowcount or 0)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    async def _conversation(db: AsyncConnection, owner: str, conversation: str) -> Conversation:
        query = select(conversations).where(
            conversations.c.id == conversation, conversations.c.owner == owner
        )
        row = (await db.execute(query)).mappings().first()
        if row is None:
            raise NotFound()
        return Conversation(**row)

    @staticmethod
    async def _messages(db: AsyncConnection, conversation: str) -> list[Message]:
        query = (
            select(messages).where(messages.c.conversation == conversation).order_by(messages.c.created_ms)
        )
        return [Message(**row) for row in (await db.execute(query)).mappings().all()]


def _branch(rows: Iterable[Message], leaf: str | None) -> list[Message]:
    """The messages from the first to ``leaf``, following parents."""
    by_id = {row.id: row for row in rows}
    path: list[Message] = []
    seen: set[str] = set()
    while leaf is not None and leaf in by_id and leaf not in seen:
        seen.add(leaf)
        path.append(by_id[leaf])
        leaf = by_id[leaf].parent
    path.reverse()
    return path


def _versions(rows: Iterable[Message], branch: list[Message]) -> dict[str, list[str]]:
    """For each message of ``branch`` with siblings (other versions of it: same parent, same
    role), the ids of them all, oldest first."""
    by_parent: dict[tuple[str | None, str], list[str]] = {}
    for row in rows:  # oldest first
        by_parent.setdefault((row.parent, row.role), []).append(row.id)
    versions = {}
    for message in branch:
        siblings = by_parent.get((message.parent, message.role), [])
        if len(siblings) > 1:
            versions[message.id] = siblings
    return versions


def _fields(record: Conversation | Message) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__slots__}


def _is(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


def _reason(error: BaseException) -> str:
    """The driver's own words, first line, without SQL or parameters."""
    original = getattr(error, "orig", None) or error
    text = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    return text[:300]
