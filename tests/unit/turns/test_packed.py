"""server/turns/packed.py: the log packed in memory reads back exactly what was written, from
any seq, whichever way it was appended; it refuses a gap; its text events cost the cycle
collector nothing."""

from __future__ import annotations

import gc
import random

import pytest

from server.turns.log import (
    Failure,
    Finished,
    Started,
    TextAppended,
    ToolCallFragment,
    TurnEvent,
    TurnState,
    UsageReported,
)
from server.turns.packed import PackedLog


def a_log(texts: int) -> list[TurnEvent]:
    events: list[TurnEvent] = [Started(0, "t_1", "demo", "r1")]
    for i in range(texts):
        seq = len(events)
        if i % 7 == 3:
            events.append(ToolCallFragment(seq, 0, 0, 0, "call_1" if i == 3 else None, None, '{"q": ', 2))
        elif i % 11 == 5:
            events.append(UsageReported(seq, 10, i, 10 + i))
        else:
            events.append(TextAppended(seq, f"word {i} " * (i % 4), i % 3 + 1))
    failure = Failure("upstream_error", "The model failed.", 502, None, None)
    events.append(Finished(len(events), TurnState.ERROR, None, failure, None, 12.5, 40.0, texts, 99))
    return events


def test_reads_back_the_events_whole_and_from_every_seq() -> None:
    events = a_log(60)
    log = PackedLog()
    log.extend(events)
    assert len(log) == len(events)
    assert log.after() == events
    for after in range(-1, len(events) + 1):
        assert log.after(after) == events[after + 1 :]


def test_appended_one_by_one_or_in_random_batches_it_is_the_same_log() -> None:
    events = a_log(200)
    one_by_one = PackedLog()
    for event in events:
        one_by_one.extend([event])
    assert one_by_one.after() == events
    rng = random.Random(7)
    for _ in range(20):
        batched = PackedLog()
        start = 0
        while start < len(events):
            end = start + rng.randint(0, 9)
            batched.extend(events[start:end])
            start = end
        assert batched.after() == events


def test_a_gap_or_a_repeat_is_refused_and_the_log_stays_as_it_was() -> None:
    log = PackedLog()
    log.extend([Started(0, "t", "m", None), TextAppended(1, "a", 1)])
    with pytest.raises(ValueError, match="seq 3 does not follow 1"):
        log.extend([TextAppended(3, "b", 1)])
    with pytest.raises(ValueError, match="seq 1 does not follow 1"):
        log.extend([TextAppended(1, "a", 1)])
    assert log.after() == [Started(0, "t", "m", None), TextAppended(1, "a", 1)]


def test_a_batch_with_a_gap_inside_is_refused_whole() -> None:
    log = PackedLog()
    log.extend([Started(0, "t", "m", None)])
    with pytest.raises(ValueError, match="seq 4 does not follow 2"):
        log.extend([TextAppended(1, "a", 1), TextAppended(2, "b", 1), TextAppended(4, "c", 1)])
    assert log.after() == [Started(0, "t", "m", None)]
    log.extend([TextAppended(1, "a", 1)])
    assert len(log) == 2


def test_text_events_add_no_objects_for_the_cycle_collector() -> None:
    log = PackedLog()
    log.extend([Started(0, "t", "m", None)])
    gc.collect()
    before = len(gc.get_objects())
    log.extend([TextAppended(seq, f"token {seq}", 1) for seq in range(1, 20_001)])
    gc.collect()
    # A log of dataclasses would add 20,000 here.
    assert len(gc.get_objects()) - before < 100
    assert len(log.after(19_990)) == 10
