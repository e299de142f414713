"""The hub: the one interface through which turns are written, read from a sequence number,
followed live and cancelled.

A turn has one writer, its *owner* (the runner that calls the upstream), and any number of
followers. The owner appends the turn's log (log.py) and its frames (the log's projection,
already encoded once for every socket) and is told when someone cancels the turn. Followers
read the log from a sequence number, or follow the frames from a frame's ``seq``: a *feed*
hands them what came after it and wakes them when more comes.

Written with the next implementations in mind, all behind this same interface:

* in memory (memory.py, today's): the owner and every follower live in this process;
* SQL-backed persistence (stored.py, wrapping the memory hub): the log is what gets stored
  (batches of its events, at most about once a second per turn), so a reload reads the same
  text the live page was shown;
* Redis Streams across instances: ``append`` is an XADD per batch (the writer never waits on
  it: writes are queued, which is why writing is synchronous here and reading is not), a feed
  is an XREAD from its cursor, ``cancel`` sets a flag the owner's instance watches, and the
  owner holds a lease on the turn that it renews while the turn runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .log import TurnEvent
from .merge import Edit

UNWATCHED = "nobody was watching"


class Follower(Protocol):
    def notify(self) -> None:
        """New frames, or the turn's end, are there to take."""


class Owner(Protocol):
    def cancel(self, reason: str) -> None:
        """Stop the turn: close its upstream request now; its end follows in the log."""

    def edit(self, base: int, edits: Sequence[Edit], origin: str, ref: str | None) -> None:
        """Merge a page's edits into the answer's text now (they follow in the log). Raises
        ``ProtocolError`` with nothing changed."""


class Feed(Protocol):
    """One follower's cursor into one turn's frames."""

    @property
    def turn(self) -> str: ...

    @property
    def finished(self) -> bool:
        """The turn has ended and every frame was taken."""
        ...

    def take(self) -> list[str]:
        """The frames after the cursor that are there now (maybe none); the cursor moves past
        them."""
        ...

    def close(self) -> None:
        """Stop following (a turn nobody follows is cancelled after the grace period)."""


class Hub(Protocol):
    # ------------------------------------------------------------------ the owner's side

    def create(self, turn: str, owner: Owner, user: str = "") -> None:
        """A new turn, written by ``owner`` alone, readable by ``user`` alone (whose
        conversation it answers). Its grace period starts now: nobody following it by then
        cancels it."""

    def append(self, turn: str, events: Sequence[TurnEvent], frames: Sequence[str]) -> bool:
        """Add to the turn's log and frames; never waits. False once the turn has outgrown the
        hub's limit on one turn's size: the owner must end it (its end is still taken)."""
        ...

    def finish(self, turn: str) -> None:
        """Nothing more will be appended: followers drain what is left, and the turn stays
        readable for the retention period."""

    # ------------------------------------------------------------------ everyone's side

    # ``user`` names who asks: a turn of another user is unknown to them exactly like a turn
    # that does not exist; None is the server itself.

    async def read(self, turn: str, after: int = -1, *, user: str | None = None) -> list[TurnEvent]:
        """The log's events with ``seq > after``. Raises ``UnknownTurn``."""
        ...

    async def follow(self, turn: str, after: int, follower: Follower, *, user: str | None = None) -> Feed:
        """A feed of the turn's frames with ``seq > after`` (-1: all), then the live ones, even
        when ``after`` is past what the turn has written yet. Raises ``UnknownTurn``."""
        ...

    async def cancel(self, turn: str, reason: str, *, user: str | None = None) -> None:
        """Ask the turn's owner to stop it (nothing happens to a turn that has ended). Raises
        ``UnknownTurn``."""

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
        """Hand a page's edits to the turn's owner (a Redis hub: to the owner's instance).
        Raises ``UnknownTurn``, or ``ProtocolError`` (``not_streaming`` once it has ended)."""

    def __len__(self) -> int:
        """Turns held, running or retained."""
        ...

    async def aclose(self) -> None:
        """Shut down (after the turns have ended): what is owed to storage is written first."""
