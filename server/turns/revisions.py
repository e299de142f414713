"""Edits of stored answers that no turn streams any more (edge): a stopped, finished or
reloaded answer edited in its page's editor.

While a turn streams, its relay holds the answer's text and merges the pages' edits with the
model's (relay.py). Once it has ended, the store holds the text and its version, and an edit
is merged here: against the answer's recent changes (merge.Document, kept for the answers
edited lately, so that two tabs editing at once both land), then written in one compare-and-set
update. The page sends a finished answer's edits at most about once a second (static/editor.js),
so each batch is one write. The answer is rendered again whole, and only its top-level
elements that changed go to the pages (markdown/elements.py): the ones before and after them
stay on the page as they are.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ..errors import ProtocolError
from ..markdown.elements import changed, top_elements
from ..markdown.engine import Markdown
from ..storage.records import Message
from ..storage.store import Store
from .merge import Change, Document, Edit

KEPT = 64  # answers whose recent changes are kept for merging
SETTLE_WAIT = 3.0  # seconds to wait for an ended turn's last write, before editing its answer
STREAMING = "This answer is streaming: its edits go to its turn."
CHANGED = "The answer changed while this edit was merged; send it again on the new version."


@dataclass(frozen=True, slots=True)
class Revised:
    """An edit merged and stored: the answer's text and version now, the changes made, and
    how its HTML changed: of the ``was`` top-level elements the page holds, the first and last
    ``keep`` stay, and ``html`` (the new elements) goes between them."""

    message: Message  # as stored now
    changes: list[Change]
    keep: tuple[int, int]
    was: int
    html: str


@dataclass
class _Kept:
    document: Document
    elements: list[str]  # the top-level elements of the answer's HTML, as the pages have them


class Revisions:
    def __init__(
        self,
        store: Store,
        markdown: Markdown,
        *,
        running: Callable[[str], bool],
        settle: Callable[[float], Awaitable[None]],
    ) -> None:
        self._store = store
        self._markdown = markdown
        self._running = running  # whether a turn runs in this process
        self._settle = settle  # waits for the ends of turns that have ended to be written
        self._kept: collections.OrderedDict[str, _Kept] = collections.OrderedDict()
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
        kept = self._kept.pop(message, None)
        if kept is None or kept.document.version != row.version or kept.document.text != row.text:
            kept = _Kept(Document(row.text, row.version), self._elements(row, row.text))
        document = kept.document
        changes = document.edit(base, edits, origin)
        if not await self._store.revise(row, document.text, document.version):
            raise ProtocolError("stale_version", CHANGED)
        original = row.original if row.original is not None else row.text
        stored = dataclasses.replace(row, text=document.text, version=document.version, original=original)
        elements = self._elements(stored, document.text)
        head, tail = changed(kept.elements, elements)
        revised = Revised(
            stored, changes, (head, tail), len(kept.elements), "".join(elements[head : len(elements) - tail])
        )
        kept.elements = elements
        self._kept[message] = kept
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)
        return revised

    def _elements(self, message: Message, text: str) -> list[str]:
        # Footnote ids as the stream made them (named by the turn), as message_wire does.
        return top_elements(
            self._markdown.render(text, {"docId": message.turn or message.id}) if text else ""
        )
