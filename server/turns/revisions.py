"""Edits of stored answers that no turn streams any more (edge): a stopped, finished or
reloaded answer edited in its page's editor.

While a turn streams, its relay holds the answer's text and merges the pages' edits with the
model's (relay.py). Once it has ended, the store holds the text and its version, and an edit
is merged here: against the answer's recent changes (merge.Document, kept for the answers
edited lately, so that two tabs editing at once both land), then written in one compare-and-set
update. The page sends a finished answer's edits at most about once a second (static/editor.js),
so each batch is one write.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..errors import ProtocolError
from ..storage.records import Message
from ..storage.store import Store
from .merge import Change, Document, Edit

KEPT = 64  # answers whose recent changes are kept for merging
SETTLE_WAIT = 3.0  # seconds to wait for an ended turn's last write, before editing its answer
STREAMING = "This answer is streaming: its edits go to its turn."
CHANGED = "The answer changed while this edit was merged; send it again on the new version."


@dataclass(frozen=True, slots=True)
class Revised:
    """An edit merged and stored: the answer's text and version now, and the changes made."""

    message: Message  # as stored now
    changes: list[Change]


class Revisions:
    def __init__(
        self,
        store: Store,
        *,
        running: Callable[[str], bool],
        settle: Callable[[float], Awaitable[None]],
    ) -> None:
        self._store = store
        self._running = running  # whether a turn runs in this process
        self._settle = settle  # waits for the ends of turns that have ended to be written
        self._documents: collections.OrderedDict[str, Document] = collections.OrderedDict()
        # One edit at a time: each is a read and a write of one row (milliseconds), and a
        # page sends at most one a second.
        self._lock = asyncio.Lock()

    async def edit(self, owner: str, message: str, base: int, edits: Sequence[Edit], origin: str) -> Revised:
        """Merge a page's edits, made on version ``base`` of the answer ``message``, and store
        them. Raises ``NotFound``, ``StorageError``, ``ProtocolError`` (``streaming``,
        ``stale_version``, ``bad_edit``) with nothing changed."""
        async with self._lock:
            return await self._edit(owner, message, base, edits, origin)

    async def _edit(self, owner: str, message: str, base: int, edits: Sequence[Edit], origin: str) -> Revised:
        row = await self._store.message(owner, message)
        if row.role != "assistant":
            raise ProtocolError("bad_edit", "Only an answer is edited this way.")
        if row.streaming and not (row.turn and self._running(row.turn)):
            # Its turn has ended, its end not yet written (it is on its way).
            await self._settle(SETTLE_WAIT)
            row = await self._store.message(owner, message)
        if row.streaming:
            raise ProtocolError("streaming", STREAMING)
        document = self._documents.pop(message, None)
        if document is None or document.version != row.version or document.text != row.text:
            document = Document(row.text, row.version)
        changes = document.edit(base, edits, origin)
        if not await self._store.revise(row, document.text, document.version):
            raise ProtocolError("stale_version", CHANGED)
        self._documents[message] = document
        while len(self._documents) > KEPT:
            self._documents.popitem(last=False)
        original = row.original if row.original is not None else row.text
        stored = dataclasses.replace(row, text=document.text, version=document.version, original=original)
        return Revised(stored, changes)
