"""The round loop as a pure state machine: calls start as they complete, rounds follow, the
limit holds."""

from __future__ import annotations

import json

from server.turns.rounds import NOT_RUN, CallState, Result, Rounds
from server.upstream.events import ToolCallDelta


def made_up(number: int) -> str:
    return f"call_{number}"


def test_each_call_starts_when_its_own_arguments_are_complete() -> None:
    rounds = Rounds(4, made_up)
    rounds.feed(ToolCallDelta(0, "a", "calculator", '{"expression": '))
    rounds.feed(ToolCallDelta(1, "b", "current_time", '{"time_zone": "UT'))
    assert rounds.startable() == []
    rounds.feed(ToolCallDelta(0, None, None, '"6*7"}'))
    started = rounds.startable()
    assert [c.id for c in started] == ["a"]  # b is still streaming
    assert rounds.startable() == []  # each call starts once
    assert rounds.states == {0: CallState.RUNNING, 1: CallState.STREAMING}
    rounds.feed(ToolCallDelta(1, None, None, 'C"}'))
    assert [c.id for c in rounds.startable()] == ["b"]
    assert not rounds.settled  # the stream has not ended
    assert rounds.stream_ended() == []
    rounds.finished(1, Result(True, "2026-12-07T23:00:00+00:00"))  # results in any order
    assert not rounds.settled
    rounds.finished(0, Result(True, "42"))
    assert rounds.settled
    assert rounds.decide() == "round"


def test_the_follow_up_pairs_each_result_with_its_call_in_call_order() -> None:
    rounds = Rounds(4, made_up)
    rounds.feed(ToolCallDelta(0, "a", "calculator", '{"expression": "1/0"}'))
    rounds.feed(ToolCallDelta(1, None, "current_time", "{}"))
    for call in rounds.startable():
        assert call.number in (0, 1)
    rounds.stream_ended()
    rounds.finished(1, Result(True, "noon"))
    rounds.finished(0, Result(False, "Error: division by zero"))
    assert rounds.states == {0: CallState.FAILED, 1: CallState.DONE}
    assert rounds.follow_up("Let me check.") == [
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "a",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "1/0"}'},
                },
                {"id": "call_1", "type": "function", "function": {"name": "current_time", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "a", "content": "Error: division by zero"},
        {"role": "tool", "tool_call_id": "call_1", "content": "noon"},
    ]
    assert rounds.follow_up("")[0]["content"] is None


def test_calls_of_the_next_round_are_numbered_on() -> None:
    rounds = Rounds(4, made_up)
    rounds.feed(ToolCallDelta(0, "a", "calculator", '{"expression": "2"}'))
    rounds.startable()
    rounds.stream_ended()
    rounds.finished(0, Result(True, "2"))
    rounds.next_round()
    assert rounds.round == 1
    call = rounds.feed(ToolCallDelta(0, "b", "search_docs", '{"query": "tools"}'))
    assert (call.number, call.round) == (1, 1)
    assert [c.id for c in rounds.startable()] == ["b"]
    rounds.stream_ended()
    rounds.finished(1, Result(True, "found"))
    rounds.next_round()
    rounds.stream_ended()  # a round that only writes text
    assert rounds.decide() == "answer"


def test_a_call_still_open_at_the_end_runs_and_fails_on_its_own() -> None:
    rounds = Rounds(4, made_up)
    rounds.feed(ToolCallDelta(0, "a", "calculator", '{"expression": "1+'))  # cut off
    rounds.feed(ToolCallDelta(1, "b", None, "{}"))  # its name never came
    assert rounds.startable() == []
    started = rounds.stream_ended()
    assert [(c.id, c.name) for c in started] == [("a", "calculator"), ("b", "unnamed")]
    with_bad_json = started[0].arguments
    assert not _parses(with_bad_json)


def test_the_round_over_the_limit_is_answered_not_run() -> None:
    rounds = Rounds(1, made_up)
    rounds.feed(ToolCallDelta(0, "a", "calculator", '{"expression": "1"}'))
    assert len(rounds.startable()) == 1
    rounds.stream_ended()
    rounds.finished(0, Result(True, "1"))
    assert rounds.decide() == "round"
    rounds.next_round()
    assert rounds.limited
    rounds.feed(ToolCallDelta(0, "b", "calculator", '{"expression": "2"}'))
    assert rounds.startable() == []
    assert rounds.stream_ended() == []
    assert rounds.settled
    assert rounds.decide() == "limit"
    assert rounds.states[1] is CallState.FAILED
    assert rounds.results[1].content == NOT_RUN.format(limit=1)


def test_a_round_without_calls_is_the_answer() -> None:
    rounds = Rounds(4, made_up)
    assert rounds.stream_ended() == []
    assert rounds.settled
    assert rounds.decide() == "answer"


def _parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
