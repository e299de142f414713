"""The hub in this process's memory (edge: it keeps time with the event loop).

Each turn's frames are encoded once into a list; a feed is a cursor into it and a follower to
wake, so fan-out costs nothing per socket but the write, and a slow socket only falls behind
in a list that exists anyway: it never makes the server buffer more. A turn nobody has
followed for ``grace`` seconds is cancelled; a finished one stays readable for ``retention``
seconds, then goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from ..errors import UnknownTurn
from .hub import UNWATCHED, Follower, Owner
from .log import TurnEvent
from .merge import Edit
from .packed import PackedLog


class _Turn:
    def __init__(self, turn: str, owner: Owner, user: str) -> None:
        self.id = turn
        self.owner = owner
        self.user = user
        self.log = PackedLog()
        self.frames: list[str] = []
        self.size = 0  # characters of frames held
        self.finished = False
        self.feeds: set[_Feed] = set()
        self.grace: asyncio.TimerHandle | None = None


class _Feed:
    def __init__(self, turn: _Turn, after: int, follower: Follower, hub: MemoryHub) -> None:
        self._turn = turn
        self._next = after + 1
        self._follower = follower
        self._hub = hub
        self._closed = False

    @property
    def turn(self) -> str:
        return self._turn.id

    @property
    def finished(self) -> bool:
        return self._turn.finished and self._next >= len(self._turn.frames)

    def take(self) -> list[str]:
        frames = self._turn.frames
        if self._next >= len(frames):
            return []
        taken = frames[self._next :]
        self._next = len(frames)
        return taken

    def notify(self) -> None:
        self._follower.notify()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._hub._unfollow(self._turn, self)


class MemoryHub:
    def __init__(self, *, grace: float, retention: float, max_turn_size: int) -> None:
        self._grace = grace
        self._retention = retention
        self._max_turn_size = max_turn_size
        self._turns: dict[str, _Turn] = {}
        self._timers: set[asyncio.TimerHandle] = set()

    def __len__(self) -> int:
        return len(self._turns)

    # ------------------------------------------------------------------ the owner's side

    def create(self, turn: str, owner: Owner, user: str = "") -> None:
        if turn in self._turns:
            raise ValueError(f"turn {turn!r} exists")
        record = self._turns[turn] = _Turn(turn, owner, user)
        self._start_grace(record)

    def append(self, turn: str, events: Sequence[TurnEvent], frames: Sequence[str]) -> bool:
        record = self._turns[turn]
        record.log.extend(events)
        record.frames.extend(frames)
        # The frames carry every character the events do (and their HTML), so they are the measure.
        record.size += sum(map(len, frames))
        if frames:
            for feed in record.feeds:
                feed.notify()
        return record.size <= self._max_turn_size

    def finish(self, turn: str) -> None:
        record = self._turns[turn]
        if record.finished:
            return
        record.finished = True
        self._stop_grace(record)
        for feed in record.feeds:
            feed.notify()
        self._later(self._retention, lambda: self._turns.pop(turn, None))

    # ------------------------------------------------------------------ everyone's side

    def holds(self, turn: str) -> bool:
        return turn in self._turns

    async def read(self, turn: str, after: int = -1, *, user: str | None = None) -> list[TurnEvent]:
        return self._get(turn, user).log.after(after)

    async def follow(self, turn: str, after: int, follower: Follower, *, user: str | None = None) -> _Feed:
        record = self._get(turn, user)
        feed = _Feed(record, after, follower, self)
        record.feeds.add(feed)
        self._stop_grace(record)
        return feed

    async def cancel(self, turn: str, reason: str, *, user: str | None = None) -> None:
        record = self._get(turn, user)
        if not record.finished:
            record.owner.cancel(reason)

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
        # An ended turn's owner refuses it (not_streaming).
        self._get(turn, user).owner.edit(base, edits, origin, ref)

    async def aclose(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()

    # ------------------------------------------------------------------ grace and retention

    def _get(self, turn: str, user: str | None) -> _Turn:
        record = self._turns.get(turn)
        if record is None or (user is not None and user != record.user):
            raise UnknownTurn(turn)
        return record

    def _unfollow(self, record: _Turn, feed: _Feed) -> None:
        record.feeds.discard(feed)
        if not record.feeds:
            self._start_grace(record)

    def _start_grace(self, record: _Turn) -> None:
        if record.finished or record.grace is not None or self._grace <= 0:
            return

        def unwatched() -> None:
            record.grace = None
            if not record.feeds and not record.finished:
                record.owner.cancel(UNWATCHED)

        record.grace = self._later(self._grace, unwatched)

    def _stop_grace(self, record: _Turn) -> None:
        if record.grace is not None:
            record.grace.cancel()
            self._timers.discard(record.grace)
            record.grace = None

    def _later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        def run() -> None:
            self._timers.discard(timer)
            callback()

        timer = asyncio.get_running_loop().call_later(delay, run)
        self._timers.add(timer)
        return timer
