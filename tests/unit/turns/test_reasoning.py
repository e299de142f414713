"""Reasoning deltas: apart from the answer's text, timed from the first thought to the first
word or call, in the log, the frames and the stored record."""

from __future__ import annotations

import json

from server.storage.records import Progress
from server.turns.draft import Draft
from server.turns.log import ReasoningAppended, TextAppended
from server.upstream.events import ContentDelta, ReasoningDelta, ToolCallDelta, parse_event
from tests.unit.turns.relay_driver import make


def test_both_spellings_of_reasoning_are_read_and_never_twice() -> None:
    def delta(**fields: object) -> str:
        return json.dumps({"choices": [{"index": 0, "delta": fields}]})

    assert parse_event(delta(reasoning_content="Hmm.")) == [ReasoningDelta("Hmm.")]
    assert parse_event(delta(reasoning="Hmm.")) == [ReasoningDelta("Hmm.")]
    assert parse_event(delta(reasoning_content="Hmm.", reasoning="Hmm.")) == [ReasoningDelta("Hmm.")]
    assert parse_event(delta(reasoning_content=None, content="Hi")) == [ContentDelta("Hi")]


def test_thinking_is_not_the_answer_and_its_duration_ends_at_the_first_word() -> None:
    relay = make(0.0)
    relay.start()
    relay.feed(ReasoningDelta("Let me "), 0.1)
    relay.feed(ReasoningDelta("think."), 0.5)
    frame = relay.flush(0.5)
    assert frame is not None
    assert frame["reasoning"] == "Let me think."
    assert "thought_ms" not in frame
    assert frame["text"] == ""
    relay.feed(ContentDelta("The answer."), 2.1)
    frame = relay.flush(2.1)
    assert frame is not None
    assert frame["thought_ms"] == 2000.0  # from the first thought (0.1 s) to the first word
    assert frame["text"] == "The answer."
    assert relay.relay.document.text == "The answer."
    events = [e for e in relay.events if isinstance(e, ReasoningAppended | TextAppended)]
    assert [type(e).__name__ for e in events] == ["ReasoningAppended", "ReasoningAppended", "TextAppended"]


def test_a_tool_call_ends_the_thinking_too_and_each_round_adds_to_it() -> None:
    relay = make(0.0)
    relay.start()
    relay.feed(ReasoningDelta("First."), 1.0)
    relay.feed(ToolCallDelta(0, "a", "calculator", '{"expression": "1"}'), 2.0)
    step, _ = relay.relay.stream_ended(2.0)
    relay.events += step.events
    thought = [e.ms for e in relay.events if isinstance(e, ReasoningAppended) and e.ms is not None]
    assert thought == [1000.0]


def test_the_draft_stores_the_thinking_whole_with_its_duration() -> None:
    draft = Draft(1.0)
    draft.feed([ReasoningAppended(1, "Let me "), ReasoningAppended(2, "think.", 1500.0)], 0.0)
    progress, _ = draft.take()
    assert isinstance(progress, Progress)
    assert progress.reasoning == {"text": "Let me think.", "ms": 1500.0}
    assert progress.chunk == ""
