"""Tool calls assembled from fragments: interleaved, cut anywhere, with and without ids."""

from __future__ import annotations

import itertools
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from server.turns.calls import Calls
from server.upstream.events import ToolCallDelta


def made_up(number: int) -> str:
    return f"call_made_{number}"


def cut(text: str, points: list[int]) -> list[str]:
    """``text`` cut at ``points`` (positions, any order, repeats allowed)."""
    marks = sorted({p % (len(text) + 1) for p in points} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(marks) if b > a]


ARGUMENTS = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(st.integers(), st.text(max_size=20), st.lists(st.booleans(), max_size=3)),
    max_size=4,
)


@settings(max_examples=200, deadline=None)
@given(
    first=ARGUMENTS,
    second=ARGUMENTS,
    cuts=st.tuples(st.lists(st.integers(0, 400), max_size=12), st.lists(st.integers(0, 400), max_size=12)),
    order=st.lists(st.booleans(), min_size=0, max_size=40),
)
def test_two_interleaved_calls_assemble_under_any_cutting(
    first: dict[str, object], second: dict[str, object], cuts: tuple[list[int], list[int]], order: list[bool]
) -> None:
    texts = [json.dumps(first), json.dumps(second)]
    pieces = [cut(texts[0], cuts[0]), cut(texts[1], cuts[1])]
    queues = [
        [ToolCallDelta(0, "call_a", "calculator", "")] + [ToolCallDelta(0, None, None, p) for p in pieces[0]],
        [ToolCallDelta(1, "call_b", "convert_time", "")]
        + [ToolCallDelta(1, None, None, p) for p in pieces[1]],
    ]
    calls = Calls(0, 0, made_up)
    picks = iter(order)
    while queues[0] or queues[1]:
        side = 0 if not queues[1] else 1 if not queues[0] else int(next(picks, False))
        delta = queues[side].pop(0)
        call = calls.feed(delta)
        assert call.index == side
        # Ready exactly when its own last fragment is in, whatever the other call is doing.
        assert call.complete == (not queues[side])
    # Numbered in the order they first appeared; each assembled whole.
    assert [c.number for c in calls.calls] == [0, 1]
    by_index = sorted(calls.calls, key=lambda c: c.index)
    assert [c.arguments for c in by_index] == texts
    assert [c.id for c in by_index] == ["call_a", "call_b"]
    assert {c.name for c in calls.ready()} == {"calculator", "convert_time"}
    assert [json.loads(c.arguments) for c in by_index] == [first, second]


def test_a_repeated_index_with_a_new_id_is_a_new_call() -> None:
    calls = Calls(1, 5, made_up)
    calls.feed(ToolCallDelta(0, "a", "current_time", '{"time_zone": "UTC"}'))
    calls.feed(ToolCallDelta(0, "b", "current_time", '{"time_zone": '))
    calls.feed(ToolCallDelta(0, None, None, '"Asia/Tokyo"}'))
    assert [(c.number, c.round, c.id, c.arguments) for c in calls.calls] == [
        (5, 1, "a", '{"time_zone": "UTC"}'),
        (6, 1, "b", '{"time_zone": "Asia/Tokyo"}'),
    ]
    assert calls.next_number == 7


def test_the_same_id_on_every_fragment_stays_one_call() -> None:
    calls = Calls(0, 0, made_up)
    for piece in ('{"expr', 'ession": ', '"2+2"}'):
        calls.feed(ToolCallDelta(0, "same", "calculator", piece))
    assert [(c.id, c.arguments, c.complete) for c in calls.calls] == [("same", '{"expression": "2+2"}', True)]


def test_calls_without_ids_get_unique_made_up_ones() -> None:
    calls = Calls(0, 3, made_up)
    # Each call whole in one fragment at index 0, no ids (old Ollama).
    calls.feed(ToolCallDelta(0, None, "calculator", '{"expression": "1+1"}'))
    calls.feed(ToolCallDelta(0, None, "calculator", '{"expression": "2+2"}'))
    assert [c.id for c in calls.calls] == ["call_made_3", "call_made_4"]
    assert [c.arguments for c in calls.calls] == ['{"expression": "1+1"}', '{"expression": "2+2"}']


def test_an_id_that_comes_after_the_first_fragment_is_taken() -> None:
    calls = Calls(0, 0, made_up)
    calls.feed(ToolCallDelta(0, None, "calculator", '{"expression": '))
    calls.feed(ToolCallDelta(0, "late", None, '"3*3"}'))
    assert [(c.id, c.arguments) for c in calls.calls] == [("late", '{"expression": "3*3"}')]


def test_invalid_json_is_complete_only_when_the_round_ends() -> None:
    calls = Calls(0, 0, made_up)
    call = calls.feed(ToolCallDelta(0, "x", "calculator", '{"expression": "1+1"'))
    calls.feed(ToolCallDelta(0, None, None, "}}"))  # one brace too many: never an object
    assert not call.complete
    assert calls.ready() == []
    assert calls.close() == [call]
    assert call.complete
    assert calls.ready() == [call]


def test_a_json_value_that_is_not_an_object_is_not_complete_arguments() -> None:
    calls = Calls(0, 0, made_up)
    call = calls.feed(ToolCallDelta(0, "x", "calculator", '["a", {"b": 1}]'))
    assert not call.complete


def test_a_call_whose_name_is_unknown_yet_is_not_ready() -> None:
    calls = Calls(0, 0, made_up)
    call = calls.feed(ToolCallDelta(0, "x", None, "{}"))
    assert call.complete
    assert calls.ready() == []
    calls.feed(ToolCallDelta(0, None, "current_time", ""))
    assert calls.ready() == [call]


def test_the_preview_grows_key_by_key_while_the_arguments_stream() -> None:
    text = '{"time": "2026-03-29 01:30", "from_zone": "Europe/London", "to_zone": "Asia/Tokyo"}'
    calls = Calls(0, 0, made_up)
    call = calls.feed(ToolCallDelta(0, "x", "convert_time", ""))
    assert call.preview() is None
    seen = []
    for end in range(1, len(text) + 1):
        call.pieces[:] = [text[:end]]
        seen.append(call.preview())
    assert seen[-1] == json.loads(text)
    assert {"time": "2026-03-29 01:3"} in seen  # a string shows as it grows
    assert {"time": "2026-03-29 01:30", "from_zone": "Eur"} in seen
    # Every preview is a prefix of the final one, key by key.
    final = json.loads(text)
    for preview in seen:
        if preview is not None:
            assert isinstance(preview, dict)
            for key, value in preview.items():
                assert str(final[key]).startswith(str(value))
