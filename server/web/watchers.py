"""Which sockets watch which conversation, so a turn started in one tab shows live in the
others (edge; in this process: the Redis hub will fan this out across instances too)."""

from __future__ import annotations

from typing import Any, Protocol

from .protocol import turn_frame


class Watcher(Protocol):
    def post(self, frame: dict[str, Any]) -> None:
        """Send ``frame`` soon (never waits)."""


class Watchers:
    def __init__(self) -> None:
        self._by_conversation: dict[str, set[Watcher]] = {}

    def watch(self, conversation: str | None, watcher: Watcher, previous: str | None) -> None:
        """``watcher`` now watches ``conversation`` (None: none) instead of ``previous``."""
        if previous is not None:
            self.unwatch(previous, watcher)
        if conversation is not None:
            self._by_conversation.setdefault(conversation, set()).add(watcher)

    def unwatch(self, conversation: str, watcher: Watcher) -> None:
        watching = self._by_conversation.get(conversation)
        if watching is not None:
            watching.discard(watcher)
            if not watching:
                del self._by_conversation[conversation]

    def tell(self, conversation: str, frame: dict[str, Any]) -> None:
        """Send every socket watching ``conversation`` the same frame."""
        for watcher in list(self._by_conversation.get(conversation, ())):
            watcher.post(frame)

    def started(self, conversation: str, turn: str, source: Watcher) -> None:
        for watcher in list(self._by_conversation.get(conversation, ())):
            if watcher is not source:
                watcher.post(turn_frame(conversation, turn))
