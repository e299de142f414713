"""turns/draft.py: what of a streaming answer is stored, and when (pure: a passed clock, a
string for the database)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.storage.records import Ending, Progress
from server.turns.draft import Draft
from server.turns.log import (
    Failure,
    Finished,
    Started,
    TextAppended,
    TextEdited,
    ToolCallFragment,
    ToolFinished,
    ToolStarted,
    TurnEvent,
    TurnState,
    UsageReported,
)

INTERVAL = 1.0


class Row:
    """The answer's row, written the way the store writes it: ``substr(text, 1, base) || chunk``."""

    def __init__(self) -> None:
        self.text = ""
        self.ending: Ending | None = None
        self.tool_calls: list[dict[str, object]] | None = None
        self.usage: dict[str, object] | None = None
        self.writes: list[float] = []

    def apply(self, progress: Progress, ending: Ending | None, now: float) -> None:
        assert self.ending is None, "a write after the ending"
        assert progress.base <= len(self.text)
        self.text = self.text[: progress.base] + progress.chunk
        if progress.tool_calls is not None:
            self.tool_calls = progress.tool_calls
        if progress.usage is not None:
            self.usage = progress.usage
        self.ending = ending
        self.writes.append(now)


def run(pieces: list[tuple[float, str]], *, end_at: float, fail: set[int] | None = None) -> tuple[Draft, Row]:
    """Feed ``pieces`` (time, text) and a Finished at ``end_at``, writing whenever due; the
    writes numbered in ``fail`` fail (after committing, when odd: an unclear failure)."""
    draft, row = Draft(INTERVAL), Row()
    draft.feed([Started(0, "t", "m", None)], 0.0)
    seq = 1
    attempt = 0
    events: list[tuple[float, TurnEvent]] = []
    for when, text in pieces:
        events.append((when, TextAppended(seq, text, 1)))
        seq += 1
    events.append((end_at, Finished(seq, TurnState.DONE, "stop", ttft_ms=100.0, duration_ms=end_at * 1000)))
    now = 0.0
    for when, event in events:
        # Writes that fall due before this event arrives.
        while (due := draft.due()) is not None and due <= when:
            now = max(now, due)
            attempt = write(draft, row, now, attempt, fail)
        draft.feed([event], when)
        now = max(now, when)
    while not draft.stored:
        due = draft.due()
        assert due is not None
        now = max(now, due)
        attempt = write(draft, row, now, attempt, fail)
    return draft, row


def write(draft: Draft, row: Row, now: float, attempt: int, fail: set[int] | None) -> int:
    progress, ending = draft.take()
    if fail and attempt in fail:
        if attempt % 2:
            row.apply(progress, None, now)  # it committed, but the answer never came back
        draft.failed(now)
        return attempt + 1
    row.apply(progress, ending, now)
    draft.written(now)
    return attempt + 1


def paced(text: str, splits: list[int], seconds: float) -> list[tuple[float, str]]:
    cuts = sorted({0, len(text), *splits})
    pieces = [text[a:b] for a, b in itertools.pairwise(cuts)]
    step = seconds / max(1, len(pieces))
    return [(i * step, piece) for i, piece in enumerate(pieces)]


TEXT = "Hello **world**, this is an answer. 😀 " * 40


def test_whole() -> None:
    _, row = run([(0.0, TEXT)], end_at=0.5)
    assert row.text == TEXT
    assert row.ending is not None
    assert row.ending.state == "done"


def test_byte_by_byte_over_ten_seconds_writes_about_once_a_second() -> None:
    _, row = run(paced(TEXT, list(range(len(TEXT))), 10.0), end_at=10.0)
    assert row.text == TEXT
    # The first write at once, then at most one an interval, and the ending.
    assert 9 <= len(row.writes) <= 12
    gaps = [b - a for a, b in zip(row.writes, row.writes[1:-1], strict=False)]
    assert all(gap >= INTERVAL - 1e-9 for gap in gaps), gaps


@settings(max_examples=200, deadline=None)
@given(
    splits=st.lists(st.integers(0, len(TEXT)), max_size=60),
    seconds=st.floats(0.0, 20.0),
    fail=st.sets(st.integers(0, 30), max_size=8),
)
def test_random_splits_and_failures_store_the_text_once(
    splits: list[int], seconds: float, fail: set[int]
) -> None:
    _, row = run(paced(TEXT, splits, seconds), end_at=seconds + 0.1, fail=fail)
    assert row.text == TEXT
    assert row.ending is not None


@pytest.mark.parametrize("seed", range(20))
def test_what_is_unsaved_is_at_most_an_interval_old(seed: int) -> None:
    """At any moment, the text not yet stored arrived within the last interval (plus the
    write's own time): what a kill -9 can lose."""
    rng = random.Random(seed)
    draft, row = Draft(INTERVAL), Row()
    draft.feed([Started(0, "t", "m", None)], 0.0)
    arrivals: list[tuple[float, int]] = []  # (time, total characters by then)
    total, now = 0, 0.0
    for seq in range(1, 400):
        now += rng.expovariate(40)
        while (due := draft.due()) is not None and due <= now:
            progress, ending = draft.take()
            row.apply(progress, ending, due)
            draft.written(due)
        piece = "x" * rng.randint(1, 8)
        draft.feed([TextAppended(seq, piece, 1)], now)
        total += len(piece)
        arrivals.append((now, total))
        oldest_unsaved = next((t for t, chars in arrivals if chars > len(row.text)), now)
        assert oldest_unsaved >= now - INTERVAL - 1e-9


def test_tool_calls_and_usage_are_stored_whole() -> None:
    draft, row = Draft(INTERVAL), Row()
    draft.feed(
        [
            Started(0, "t", "m", None),
            ToolCallFragment(1, 0, 0, 0, "call_1", "get_weather", '{"ci', 1),
            ToolCallFragment(2, 0, 0, 0, None, None, 'ty": "Paris"}', 1),
            ToolStarted(3, 0),
            UsageReported(4, 5, 7, 12),
            ToolFinished(5, 0, True, "18 °C", 12.5),
            Finished(6, TurnState.DONE, "tool_calls", ttft_ms=50.0, duration_ms=1050.0, deltas=2),
        ],
        0.0,
    )
    progress, ending = draft.take()
    row.apply(progress, ending, 0.0)
    draft.written(0.0)
    assert draft.stored
    assert row.tool_calls == [
        {"call": 0, "round": 0, "index": 0, "id": "call_1", "name": "get_weather",
         "arguments": '{"city": "Paris"}', "state": "done", "result": "18 °C", "ms": 12.5}
    ]  # fmt: skip
    assert row.usage == {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    assert ending is not None
    assert (ending.state, ending.finish_reason, ending.tokens_per_second) == ("done", "tool_calls", 7.0)


def test_a_failure_is_stored_with_its_reason() -> None:
    draft = Draft(INTERVAL)
    failure = Failure("upstream_status", "The upstream answered 429", 429)
    draft.feed([Started(0, "t", "m", None), TextAppended(1, "partial", 1)], 0.0)
    draft.feed([Finished(2, TurnState.ERROR, None, failure=failure, duration_ms=10.0)], 0.1)
    progress, ending = draft.take()
    assert progress.chunk == "partial"
    assert ending is not None
    assert ending.state == "error"
    assert ending.error == {"code": "upstream_status", "message": "The upstream answered 429", "status": 429}


def test_nothing_pending_is_not_due_and_one_write_is_in_flight_at_a_time() -> None:
    draft = Draft(INTERVAL)
    draft.feed([Started(0, "t", "m", None)], 0.0)
    assert draft.due() is None
    draft.feed([TextAppended(1, "a", 1)], 0.2)
    assert draft.due() == 0.2
    draft.take()
    draft.feed([TextAppended(2, "b", 1)], 0.3)
    assert draft.due() is None  # in flight
    draft.written(0.3)
    assert draft.due() == pytest.approx(1.3)
    assert (draft.saved_chars, draft.unsaved_chars) == (1, 1)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 10_000), st.integers(0, 5), st.text(max_size=4)), max_size=40
    ),
    st.sets(st.integers(0, 30), max_size=8),
)
def test_edits_between_appends_and_failed_writes_leave_the_row_with_the_edited_text(
    steps: list[tuple[bool, int, int, str]], fail: set[int]
) -> None:
    draft, row = Draft(INTERVAL), Row()
    draft.feed([Started(0, "t", "m", None)], 0.0)
    text, model, seq, now, attempt = "", "", 1, 0.0, 0
    for is_edit, at, width, piece in steps:
        now += 0.3
        if is_edit:
            start = at % (len(text) + 1)
            end = min(len(text), start + width)
            draft.feed([TextEdited(seq, seq, ((start, end, piece),), "page")], now)
            text = text[:start] + piece + text[end:]
        else:
            draft.feed([TextAppended(seq, piece or "x", 1)], now)
            text += piece or "x"
            model += piece or "x"
        seq += 1
        if (due := draft.due()) is not None and due <= now:
            progress, _ = draft.take()
            if attempt in fail:
                if attempt % 2:
                    row.apply(progress, None, now)
                draft.failed(now)
            else:
                row.apply(progress, None, now)
                draft.written(now)
                assert row.text[: draft.saved_chars] == text[: draft.saved_chars]
            attempt += 1
    draft.feed([Finished(seq, TurnState.DONE, "stop")], now)
    while not draft.stored:
        progress, ending = draft.take()
        row.apply(progress, ending, now)
        draft.written(now)
        last = progress
    assert row.text == text
    edited = any(step[0] for step in steps)
    assert last.original == (model if edited else None)
