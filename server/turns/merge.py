"""An answer's text while the model writes it and people edit it: one canonical text with a
version, and the merge of edits made against older versions (pure: no I/O, no clock).

Two kinds of change reach the text, one at a time, in the server's order:

* the model's **appends**: new text, always at the end of the text as it then stands;
* **edits** from pages: range replacements (``Edit(start, end, text)``: characters
  ``start:end`` become ``text``), a page's list of them applied in order, against the version
  the page had seen when it made them.

An edit made against version *b* is moved over every change since *b* (operational
transformation: each change is a sequence of retain / delete / insert, and ``transform`` gives
the pair that commutes, the way ot.js does it). The rule that follows, documented in
docs/protocol.md:

* **Nothing typed is lost.** Text inserted by anyone (the model or a page) is kept, unless an
  edit made *after seeing it* deletes it. A page's deletion covers only what that page saw:
  text that arrived meanwhile (the model's, another tab's) inside or after the deleted range
  survives, in place.
* **The model writes at the end.** Where an edit and an append meet at one point (the user
  typing at the very end of the streaming text), the user's text comes first and the model's
  after it: the model's text goes at the end of the text as it stands, the user's where the
  user put it. So the page can add the model's text at the end of what it shows, its own
  pending edits included, and arrive at the server's text.
* **Two pages inserting at one point:** the one the server took first comes first.

Every change gets the next version; the versions kept (``window``) bound how stale an edit
may be: an older one is refused (``stale_version``) and the page fetches the text again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import ProtocolError

# A component of an operation: a positive int keeps that many characters, a negative one
# deletes that many, a str inserts itself.
Component = int | str
Op = tuple[Component, ...]

MODEL = "model"


@dataclass(frozen=True, slots=True)
class Edit:
    """Characters ``start:end`` of the text become ``text``."""

    start: int
    end: int
    text: str

    def apply(self, text: str) -> str:
        return text[: self.start] + self.text + text[self.end :]


@dataclass(frozen=True, slots=True)
class Change:
    """One change as applied: the version it made, who made it (``MODEL`` or a page's id),
    and its range replacements against the version before, in the order to apply them."""

    version: int
    origin: str
    edits: tuple[Edit, ...]
    op: Op


def op_of(edit: Edit, length: int) -> Op:
    """``edit`` as an operation on a text of ``length`` characters; ``bad_edit`` if its range
    is not inside that text."""
    if not 0 <= edit.start <= edit.end <= length:
        raise ProtocolError(
            "bad_edit", f"The range {edit.start}:{edit.end} is not inside the text ({length})."
        )
    parts: list[Component] = [edit.start, edit.text, edit.start - edit.end, length - edit.end]
    return _normal(parts)


def apply(op: Op, text: str) -> str:
    out: list[str] = []
    at = 0
    for part in op:
        if isinstance(part, str):
            out.append(part)
        elif part > 0:
            out.append(text[at : at + part])
            at += part
        else:
            at -= part
    if at != len(text):  # pragma: no cover - ops are built for their text here
        raise ValueError(f"an operation for {at} characters applied to {len(text)}")
    return "".join(out)


def transform(a: Op, b: Op) -> tuple[Op, Op]:
    """``a`` and ``b`` made on the same text → ``(a2, b2)``: ``a2`` does ``a``'s work after
    ``b``, ``b2`` does ``b``'s after ``a``, and both orders give one text. Where both insert at
    one point, ``a``'s text comes first."""
    a2: list[Component] = []
    b2: list[Component] = []
    xs, ys = list(a), list(b)
    i = j = 0
    x = xs[0] if xs else None
    y = ys[0] if ys else None
    while x is not None or y is not None:
        if isinstance(x, str):
            a2.append(x)
            b2.append(len(x))
            i += 1
            x = xs[i] if i < len(xs) else None
            continue
        if isinstance(y, str):
            a2.append(len(y))
            b2.append(y)
            j += 1
            y = ys[j] if j < len(ys) else None
            continue
        if x is None or y is None:  # pragma: no cover - both ops span the same text
            raise ValueError("operations on texts of different lengths")
        step = min(abs(x), abs(y))
        if x > 0 and y > 0:
            a2.append(step)
            b2.append(step)
        elif x < 0 and y > 0:
            a2.append(-step)
        elif x > 0 and y < 0:
            b2.append(-step)
        # both delete the same characters: neither needs to any more
        x = _rest(x, step)
        y = _rest(y, step)
        if x is None:
            i += 1
            x = xs[i] if i < len(xs) else None
        if y is None:
            j += 1
            y = ys[j] if j < len(ys) else None
    return _normal(a2), _normal(b2)


def edits_of(op: Op) -> tuple[Edit, ...]:
    """``op`` as range replacements, the last first, so that each one's range is in the
    coordinates of the text before ``op`` (none shifts another)."""
    edits: list[Edit] = []
    at = 0  # where in the text before ``op``
    start: int | None = None  # where the run of inserts and deletes being read began
    text = ""
    for part in op:
        if isinstance(part, int) and part > 0:
            if start is not None:
                edits.append(Edit(start, at, text))
                start, text = None, ""
            at += part
            continue
        if start is None:
            start = at
        if isinstance(part, str):
            text += part
        else:
            at -= part
    if start is not None:
        edits.append(Edit(start, at, text))
    return tuple(reversed(edits))


class Document:
    """The canonical text of one answer and its recent changes.

    ``append`` is the model's; ``edit`` a page's. Both return the ``Change`` to send to every
    page on the conversation (the page that edited gets its version as the acknowledgement)."""

    def __init__(self, text: str = "", version: int = 0, *, window: int = 4096) -> None:
        self.text = text
        self.version = version
        self._kept: deque[Change] = deque(maxlen=window)

    def append(self, text: str) -> Change | None:
        if not text:
            return None
        op = _normal([len(self.text), text])
        return self._commit(MODEL, op, text=self.text + text)

    def edit(self, base: int, edits: Sequence[Edit], origin: str) -> list[Change]:
        """``edits``, made in order on version ``base`` (each on the text the one before left),
        merged in as one change each. ``stale_version`` for a base older than the versions
        kept or newer than the text; ``bad_edit`` for a range outside its text."""
        if origin == MODEL:
            raise ProtocolError("bad_edit", "A page cannot edit as the model.")
        since = self._since(base)
        # Each edit is checked against the text it was made on: the base's, then as the
        # edits before it left it.
        length = len(self.text) - sum(growth(c.op) for c in since)
        ops: list[Op] = []
        for edit in edits:
            op = op_of(edit, length)
            ops.append(op)
            length += growth(op)
        changes: list[Change] = []
        theirs = [c.op for c in since]
        for op in ops:
            mine = op
            moved: list[Op] = []
            for other, change in zip(theirs, since, strict=True):
                if change.origin == MODEL:
                    mine, other = transform(mine, other)  # the page's text before the model's
                else:
                    other, mine = transform(other, mine)  # the change taken first comes first
                moved.append(other)
            theirs = moved
            changes.append(self._commit(origin, mine))
        return changes

    def since(self, version: int) -> list[Change]:
        """The changes after ``version`` (for a page catching up); ``stale_version`` if they
        are no longer all kept."""
        return self._since(version)

    def _since(self, version: int) -> list[Change]:
        if version > self.version or version < 0:
            raise ProtocolError("stale_version", f"Version {version} is not one this text has had.")
        count = self.version - version
        if count > len(self._kept):
            raise ProtocolError(
                "stale_version", f"Version {version} is too old to merge with; fetch the text again."
            )
        return list(self._kept)[len(self._kept) - count :] if count else []

    def _commit(self, origin: str, op: Op, *, text: str | None = None) -> Change:
        self.text = apply(op, self.text) if text is None else text
        self.version += 1
        change = Change(self.version, origin, edits_of(op), op)
        self._kept.append(change)
        return change


def growth(op: Op) -> int:
    """How many characters longer ``op`` makes the text it applies to."""
    return sum(len(p) if isinstance(p, str) else min(p, 0) for p in op)


def _rest(part: int, step: int) -> int | None:
    left = abs(part) - step
    if not left:
        return None
    return left if part > 0 else -left


def _normal(parts: Iterable[Component]) -> Op:
    """Empty components dropped, neighbours of one kind joined, an insert before a delete
    where both meet (so equal operations have equal components)."""
    out: list[Component] = []
    for part in parts:
        if part == 0 or part == "":
            continue
        last = out[-1] if out else None
        if isinstance(part, str):
            if isinstance(last, str):
                out[-1] = last + part
            elif isinstance(last, int) and last < 0:
                # insert before the delete it follows
                before = out[-2] if len(out) > 1 else None
                if isinstance(before, str):
                    out[-2] = before + part
                else:
                    out.insert(len(out) - 1, part)
            else:
                out.append(part)
        elif isinstance(last, int) and (last > 0) == (part > 0):
            out[-1] = last + part
        else:
            out.append(part)
    return tuple(out)
