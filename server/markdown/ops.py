"""The operations the renderer sends the page: one typed schema, shared by the server and the
page's tests (tests/support/dom.py validates every operation against it, and checks that
static/patch.js handles exactly these). docs/protocol.md, "Render operations", says what each
does.

Every top-level block the page holds has an id (``data-block`` on its elements), so that a
block can be replaced, edited or rendered again on its own: every operation names the block it
acts on. Inside the live block, containers (a list, a table, a code block, a quote, a long
paragraph) open levels of their own, and the operations that name it act on its innermost
open level, as they come.

Inside the renderer, operations are made without ids (each container speaks only of its own
level); ``Addresses`` gives them theirs as they leave the document, following the page's
blocks exactly as the page does.
"""

from __future__ import annotations

from typing import Literal, NotRequired

# typing_extensions' TypedDict: pydantic can check it on Python 3.11 (the page's tests do).
from typing_extensions import TypedDict

BlockId = int


class Block(TypedDict):
    id: BlockId
    html: str


class InsertOp(TypedDict):
    """Frozen top-level blocks, before the live block."""

    op: Literal["insert"]
    blocks: list[Block]


class LiveOp(TypedDict):
    """Replace the live part (``""`` empties it); a new id at the top level starts the next
    live block, at the end."""

    op: Literal["live"]
    id: NotRequired[BlockId]
    html: str


class TailOp(TypedDict):
    """Plain text typed at the end: down ``depth`` levels of the live part's last element,
    extend its last text node."""

    op: Literal["tail"]
    id: NotRequired[BlockId]
    text: str
    depth: int


class FreezeOp(TypedDict):
    """The live part is final as it stands (at the top level: the block is frozen)."""

    op: Literal["freeze"]
    id: NotRequired[BlockId]


class OpenOp(TypedDict):
    """Replace the live part with a container and enter it (children go into ``slot``, a
    selector inside it, or the container itself)."""

    op: Literal["open"]
    id: NotRequired[BlockId]
    html: str
    slot: str | None


class AppendOp(TypedDict):
    """Frozen children, inside a container, before its live part."""

    op: Literal["append"]
    id: NotRequired[BlockId]
    blocks: list[str]


class CloseOp(TypedDict):
    """Leave the container; it and all in it are frozen as shown."""

    op: Literal["close"]
    id: NotRequired[BlockId]


class LeaveOp(TypedDict):
    """Leave the container; it stays, as the live part of the level outside."""

    op: Literal["leave"]
    id: NotRequired[BlockId]


class ReplaceOp(TypedDict):
    """Leave the container and replace it with ``html``, frozen."""

    op: Literal["replace"]
    id: NotRequired[BlockId]
    html: str


class ReopenOp(TypedDict):
    """Replace the current container with ``html`` and stay inside it."""

    op: Literal["reopen"]
    id: NotRequired[BlockId]
    html: str
    slot: str | None


class SpliceOp(TypedDict):
    """The final reconcile, at the top level: the frozen blocks ``remove`` go and ``blocks``
    come before ``before`` (None: at the end)."""

    op: Literal["splice"]
    remove: list[BlockId]
    before: BlockId | None
    blocks: list[Block]


class TruncateOp(TypedDict):
    """An edit changed the text from here on: every top-level block after ``after`` (None: all
    of them), the live one too, goes, and the page is back at the top level; the blocks of
    the text from there follow."""

    op: Literal["truncate"]
    after: BlockId | None


class PositionalSplice(TypedDict):
    """The renderer's own splice, by position among the frozen blocks (Addresses turns it into
    a SpliceOp)."""

    op: Literal["splice_at"]
    at: int
    remove: int
    blocks: list[str]


# What reaches the page: every operation but the renderer's positional splice, ids given.
PageOp = (
    InsertOp
    | LiveOp
    | TailOp
    | FreezeOp
    | OpenOp
    | AppendOp
    | CloseOp
    | LeaveOp
    | ReplaceOp
    | ReopenOp
    | SpliceOp
    | TruncateOp
)
Op = PageOp | PositionalSplice


class Addresses:
    """Gives operations their block ids as they leave the document: follows how deep the live
    block's containers are open, which block is live, and the ids of the frozen blocks in page
    order, by the same rules the page applies the operations."""

    def __init__(self) -> None:
        self.frozen: list[BlockId] = []  # ids of the frozen top-level blocks, in page order
        self.live: BlockId | None = None
        self._shows = False  # the live block has nodes on the page
        self._depth = 0  # containers open in the live block
        self._next = 0

    def truncated(self, keep: int) -> tuple[Addresses, TruncateOp]:
        """The addresses once all but the first ``keep`` frozen blocks are gone, and the
        operation that makes it so on the page. Ids are never given twice."""
        kept = Addresses()
        kept.frozen = self.frozen[:keep]
        kept._next = self._next
        return kept, {"op": "truncate", "after": kept.frozen[-1] if kept.frozen else None}

    def translate(self, ops: list[Op]) -> list[Op]:
        out: list[Op] = []
        for op in ops:
            if op["op"] == "splice_at":  # by position among the frozen blocks, at any depth
                self._splice(op, out)
            elif self._depth:
                self._inside(op, out)
            else:
                self._top(op, out)
        return out

    def _new(self) -> BlockId:
        self._next += 1
        return self._next

    def _top(self, op: Op, out: list[Op]) -> None:
        if op["op"] == "append":
            blocks: list[Block] = [{"id": self._new(), "html": html} for html in op["blocks"]]
            self.frozen.extend(block["id"] for block in blocks)
            out.append({"op": "insert", "blocks": blocks})
        elif op["op"] == "splice_at":
            self._splice(op, out)
        elif op["op"] == "freeze":
            if self.live is not None and self._shows:
                out.append({"op": "freeze", "id": self.live})
                self.frozen.append(self.live)
                self.live = None
                self._shows = False
        elif op["op"] in ("live", "tail", "open"):
            if op["op"] == "live" and not op["html"] and not self._shows:
                return  # nothing shown, nothing to empty
            if self.live is None:
                self.live = self._new()
            out.append(_named(op, self.live))
            self._shows = op["op"] != "live" or bool(op["html"])
            if op["op"] == "open":
                self._depth = 1
        else:
            raise ValueError(f"{op['op']} at the top level")

    def _inside(self, op: Op, out: list[Op]) -> None:
        assert self.live is not None
        out.append(_named(op, self.live))
        if op["op"] == "open":
            self._depth += 1
        elif op["op"] in ("close", "leave", "replace"):
            self._depth -= 1
            if self._depth:
                return
            if op["op"] == "leave":
                self._shows = True  # the container stays, as the live block
                return
            # The container is frozen as shown, or replaced by what it turned out to be
            # (nothing, when what it held belongs to the block after it).
            if op["op"] == "close" or op["html"]:
                self.frozen.append(self.live)
            self.live = None
            self._shows = False

    def _splice(self, op: PositionalSplice, out: list[Op]) -> None:
        at, remove = op["at"], op["remove"]
        removed = self.frozen[at : at + remove]
        before = self.frozen[at + remove] if at + remove < len(self.frozen) else None
        blocks: list[Block] = [{"id": self._new(), "html": html} for html in op["blocks"]]
        self.frozen[at : at + remove] = [block["id"] for block in blocks]
        out.append({"op": "splice", "remove": removed, "before": before, "blocks": blocks})


def _named(op: Op, block: BlockId) -> Op:
    op["id"] = block  # type: ignore[typeddict-unknown-key]  # every op Addresses names has one
    return op
