"""The hub with storage behind it (edge): the memory hub, plus a saver per running turn that
writes the turn's log to the store in batches (draft.py) while the turn streams.

Streaming never waits on the database: ``append`` only hands the events to the turn's draft
and wakes its saver. A write that fails (the database is down, locked, out of space) is
logged, reported to whoever listens (the sockets following the turn get a
``storage_unavailable`` frame), and retried with backoff, carrying everything that came since;
the answer keeps streaming from memory meanwhile, and lands whole once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from ..errors import StorageError
from ..storage.store import Store
from .draft import Draft
from .hub import Follower, Owner
from .log import TurnEvent
from .memory import MemoryHub, _Feed
from .merge import Edit

log = logging.getLogger("inkstream.storage")

RETRY_FIRST = 0.25  # seconds before the first retry of a failed write; doubling from there
RETRY_MAX = 5.0
SAVED_AGAIN = "The database is back: the answer is saved."


class SaveListener(Protocol):
    def saving(self, turn: str, ok: bool, message: str) -> None:
        """Writes of ``turn`` started failing (``ok`` False) or work again."""


class _Saver:
    def __init__(self, turn: str, interval: float) -> None:
        self.turn = turn
        self.draft = Draft(interval)
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.failing = False


class StoredHub:
    def __init__(
        self, memory: MemoryHub, store: Store, *, interval: float, clock: Callable[[], float] | None = None
    ) -> None:
        self._memory = memory
        self._store = store
        self._interval = interval
        self._clock = clock or asyncio.get_running_loop().time
        self._savers: dict[str, _Saver] = {}
        self._listeners: set[SaveListener] = set()
        self.failures = 0  # writes that failed (and were retried)

    def __len__(self) -> int:
        return len(self._memory)

    @property
    def store(self) -> Store:
        return self._store

    def listen(self, listener: SaveListener) -> None:
        self._listeners.add(listener)

    def unlisten(self, listener: SaveListener) -> None:
        self._listeners.discard(listener)

    # ------------------------------------------------------------------ the owner's side

    def create(self, turn: str, owner: Owner, user: str = "") -> None:
        self._memory.create(turn, owner, user)
        saver = self._savers[turn] = _Saver(turn, self._interval)
        saver.task = asyncio.get_running_loop().create_task(self._save(saver), name=f"save {turn}")

    def append(self, turn: str, events: Sequence[TurnEvent], frames: Sequence[str]) -> bool:
        fits = self._memory.append(turn, events, frames)
        saver = self._savers.get(turn)
        if saver is not None and events:
            draft = saver.draft
            before = draft.due()
            draft.feed(events, self._clock())
            # Woken only when the next write moved earlier (the first text after a write, or
            # the end): every frame waking it would cost a loop turn per frame for nothing.
            after = draft.due()
            if after is not None and (before is None or after < before):
                saver.wake.set()
        return fits

    def finish(self, turn: str) -> None:
        self._memory.finish(turn)
        saver = self._savers.get(turn)
        if saver is not None:
            saver.wake.set()

    # ------------------------------------------------------------------ everyone's side

    def holds(self, turn: str) -> bool:
        return self._memory.holds(turn)

    async def read(self, turn: str, after: int = -1, *, user: str | None = None) -> list[TurnEvent]:
        return await self._memory.read(turn, after, user=user)

    async def follow(self, turn: str, after: int, follower: Follower, *, user: str | None = None) -> _Feed:
        return await self._memory.follow(turn, after, follower, user=user)

    async def cancel(self, turn: str, reason: str, *, user: str | None = None) -> None:
        await self._memory.cancel(turn, reason, user=user)

    async def edit(
        self,
        turn: str,
        base: int,
        edits: Sequence[Edit],
        origin: str,
        ref: str | None,
        *,
        user: str | None = None,
    ) -> None:
        await self._memory.edit(turn, base, edits, origin, ref, user=user)

    async def aclose(self, wait: float = 10.0) -> None:
        """Write what the turns still owe (their ends, after ``Turns.aclose``), then stop."""
        tasks = [s.task for s in self._savers.values() if s.task is not None and not s.task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=wait)
            for task in pending:
                task.cancel()
            if pending:
                log.error("%d answer(s) could not be saved before shutdown: the database is unavailable",
                          len(pending))  # fmt: skip
            await asyncio.gather(*pending, return_exceptions=True)
        await self._memory.aclose()

    async def settle(self, seconds: float) -> None:
        """Wait (at most ``seconds``) for the ends of turns that have ended to be written: until
        then their conversations still look busy to the store."""
        tasks = [s.task for s in self._savers.values() if s.draft.ended and s.task and not s.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=seconds)

    # ------------------------------------------------------------------ saving

    async def _save(self, saver: _Saver) -> None:
        draft = saver.draft
        backoff = RETRY_FIRST
        try:
            while not draft.stored:
                due = draft.due()
                if due is None:
                    saver.wake.clear()
                    await saver.wake.wait()
                    continue
                delay = due - self._clock()
                if delay > 0:
                    # Woken early only when a write fell due sooner (the ending came).
                    saver.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(saver.wake.wait(), delay)
                    continue
                progress, ending = draft.take()
                try:
                    await self._store.save(saver.turn, progress, ending)
                except StorageError as error:
                    draft.failed(self._clock())
                    self.failures += 1
                    if not saver.failing:
                        saver.failing = True
                        log.warning("could not save turn %s (will retry): %s", saver.turn, error.message)
                        self._tell(saver.turn, False, error.message)
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, RETRY_MAX)
                    continue
                draft.written(self._clock())
                backoff = RETRY_FIRST
                if saver.failing:
                    saver.failing = False
                    log.info("turn %s saved again", saver.turn)
                    self._tell(saver.turn, True, SAVED_AGAIN)
        finally:
            self._savers.pop(saver.turn, None)

    def _tell(self, turn: str, ok: bool, message: str) -> None:
        for listener in list(self._listeners):
            try:
                listener.saving(turn, ok, message)
            except Exception:
                log.exception("a save listener failed")
