"""The merge of the model's appends and pages' edits (server.turns.merge), property-based: pages
that edit while the model appends and changes cross on the way all end with the server's
text; nothing appears twice; nothing is lost that no page deleted after seeing it; the model's
text stays in its order."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.errors import ProtocolError
from server.turns.merge import MODEL, Change, Document, Edit, Op, apply, edits_of, growth, op_of, transform


@dataclass
class Page:
    """A page as the front end keeps it: the server's text at ``seen`` plus its own edits, one
    batch in flight at a time (the Jupiter protocol)."""

    name: str
    seen: int
    shown: str
    inflight: list[tuple[Edit, Op]] = field(default_factory=list)
    buffer: list[tuple[Edit, Op]] = field(default_factory=list)
    inbox: deque[Change] = field(default_factory=deque)
    deleted: set[str] = field(default_factory=set)

    def edit(self, edit: Edit) -> None:
        self.deleted.update(self.shown[edit.start : edit.end])
        op = op_of(edit, len(self.shown))
        self.shown = apply(op, self.shown)
        self.buffer.append((edit, op))

    def send(self) -> tuple[int, list[Edit]] | None:
        """The edits waiting, as they now stand (moved over what arrived since they were
        made, so maybe split): each as range replacements, each on what the one before left."""
        if self.inflight or not self.buffer:
            return None
        length = len(self.shown) - sum(growth(op) for _, op in self.buffer)
        for _, op in self.buffer:
            for edit in edits_of(op):
                single = op_of(edit, length)
                self.inflight.append((edit, single))
                length += growth(single)
        self.buffer = []
        if not self.inflight:
            return None
        return self.seen, [e for e, _ in self.inflight]

    def receive(self) -> None:
        change = self.inbox.popleft()
        self.seen = change.version
        if change.origin == self.name:
            self.inflight.pop(0)  # the acknowledgement of the oldest edit in flight
            return
        theirs = change.op
        pending = []
        for edit, mine in self.inflight + self.buffer:
            if change.origin == MODEL:
                mine, theirs = transform(mine, theirs)
            else:
                theirs, mine = transform(theirs, mine)
            pending.append((edit, mine))
        self.inflight, self.buffer = pending[: len(self.inflight)], pending[len(self.inflight) :]
        self.shown = apply(theirs, self.shown)


# Every character typed by anyone is unique, so where it went can be followed.
def fresh() -> itertools.count[int]:
    return itertools.count(0x4E00)


ACTION = st.one_of(
    st.tuples(st.just("append"), st.integers(1, 6)),
    st.tuples(st.just("edit"), st.integers(0, 2), st.floats(0, 1), st.integers(0, 5), st.integers(0, 4)),
    st.tuples(st.just("send"), st.integers(0, 2)),
    st.tuples(st.just("deliver"), st.integers(0, 2)),
    st.tuples(st.just("arrive"), st.integers(0, 2)),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(ACTION, max_size=80))
def test_pages_editing_while_the_model_appends_end_with_one_text(actions: list[tuple[Any, ...]]) -> None:
    chars = fresh()
    document = Document()
    pages = [Page(f"p{k}", 0, "") for k in range(3)]
    outbox: list[deque[tuple[int, list[Edit]]]] = [deque() for _ in pages]
    appended: list[str] = []

    def broadcast(changes: list[Change]) -> None:
        for change in changes:
            for page in pages:
                page.inbox.append(change)

    for action in actions:
        kind = action[0]
        if kind == "append":
            text = "".join(chr(next(chars)) for _ in range(action[1]))
            appended.extend(text)
            change = document.append(text)
            assert change is not None
            broadcast([change])
        elif kind == "edit":
            _, k, where, cut, typed = action
            page = pages[k]
            start = round(where * len(page.shown))
            end = min(len(page.shown), start + cut)
            page.edit(Edit(start, end, "".join(chr(next(chars)) for _ in range(typed))))
        elif kind == "send":
            sent = pages[action[1]].send()
            if sent:
                outbox[action[1]].append(sent)
        elif kind == "deliver":
            if pages[action[1]].inbox:
                pages[action[1]].receive()
        elif outbox[action[1]]:
            base, edits = outbox[action[1]].popleft()
            broadcast(document.edit(base, edits, pages[action[1]].name))
    # Everything goes through: edits sent, batches taken, changes delivered.
    while any(p.buffer or p.inflight or p.inbox for p in pages) or any(outbox):
        for k, page in enumerate(pages):
            if not page.inflight:
                sent = page.send()
                if sent:
                    outbox[k].append(sent)
            while outbox[k]:
                base, edits = outbox[k].popleft()
                broadcast(document.edit(base, edits, page.name))
            while page.inbox:
                page.receive()
    text = document.text
    assert [p.shown for p in pages] == [text] * 3
    assert len(set(text)) == len(text)  # nothing twice
    deleted = set().union(*(p.deleted for p in pages))
    typed = set(appended) | {c for c in map(chr, range(0x4E00, next(chars))) if c not in appended}
    # What is missing is exactly what some page deleted after seeing it.
    assert typed - set(text) == deleted & typed
    assert not (set(text) & deleted)
    # The model's text, what of it is left, in its order.
    kept = [c for c in text if c in set(appended)]
    assert kept == [c for c in appended if c not in deleted]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.data())
def test_transform_commutes_and_an_operation_is_its_replacements(text: str, data: st.DataObject) -> None:
    def an_edit(length: int) -> Edit:
        start = data.draw(st.integers(0, length))
        end = data.draw(st.integers(start, length))
        return Edit(start, end, data.draw(st.text(alphabet="XYZ", max_size=4)))

    a, b = op_of(an_edit(len(text)), len(text)), op_of(an_edit(len(text)), len(text))
    a2, b2 = transform(a, b)
    assert apply(b2, apply(a, text)) == apply(a2, apply(b, text))
    after = apply(a2, apply(b, text))
    step = apply(b, text)
    for edit in edits_of(a2):
        step = edit.apply(step)
    assert step == after


def test_the_users_text_at_the_end_comes_before_what_the_model_wrote_meanwhile() -> None:
    document = Document("Hello wor")
    document.append("ld")
    [change] = document.edit(0, [Edit(9, 9, "!")], "p1")
    assert (document.text, change.version, change.edits) == ("Hello wor!ld", 2, (Edit(9, 9, "!"),))


def test_deleting_the_tail_keeps_what_arrived_after_the_page_saw_it() -> None:
    document = Document("one two three")
    document.append(" four")
    document.edit(0, [Edit(3, 13, "")], "p1")  # " two three", as the page saw the end
    assert document.text == "one four"


def test_two_pages_inserting_at_one_point_come_in_the_order_taken() -> None:
    document = Document("ab")
    document.edit(0, [Edit(1, 1, "1")], "p1")
    document.edit(0, [Edit(1, 1, "2")], "p2")
    assert document.text == "a12b"


def test_a_batch_is_edits_in_order_each_on_what_the_one_before_left() -> None:
    document = Document("abc")
    document.append("d")
    changes = document.edit(0, [Edit(0, 1, "XY"), Edit(4, 4, "!")], "p1")  # "XYbc" then "XYbc!"
    assert document.text == "XYbc!d"
    assert [c.version for c in changes] == [2, 3]


@pytest.mark.parametrize(
    ("base", "edit", "code"),
    [
        (0, Edit(0, 9, ""), "bad_edit"),  # past the end of version 0's text
        (0, Edit(2, 1, ""), "bad_edit"),
        (-1, Edit(0, 0, "x"), "stale_version"),
        (5, Edit(0, 0, "x"), "stale_version"),  # a version the text has not had
    ],
)
def test_a_bad_edit_is_refused_with_its_code_and_changes_nothing(base: int, edit: Edit, code: str) -> None:
    document = Document("abc")
    document.append("de")
    with pytest.raises(ProtocolError) as refused:
        document.edit(base, [edit], "p1")
    assert refused.value.code == code
    assert (document.text, document.version) == ("abcde", 1)


def test_an_edit_older_than_the_versions_kept_is_stale() -> None:
    document = Document("", window=3)
    for word in "abcd":
        document.append(word)
    document.edit(1, [Edit(0, 0, "x")], "p1")  # three changes back: still kept
    with pytest.raises(ProtocolError) as refused:
        document.edit(1, [Edit(0, 0, "y")], "p1")  # now four
    assert refused.value.code == "stale_version"
    assert document.text == "xabcd"


def test_a_page_cannot_write_as_the_model() -> None:
    with pytest.raises(ProtocolError):
        Document("a").edit(0, [Edit(0, 0, "x")], MODEL)
