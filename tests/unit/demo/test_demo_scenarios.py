"""The demo model's planned scenarios: tool calls over rounds, a failing tool, reasoning.

Streams are read back with the bridge's own parser (``server.upstream.events``) and call
assembler (``server.turns.calls``), so the demo is checked against what Inkstream reads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx
import pytest

from server.demo import create_demo_app
from server.demo.pace import UNPACED_TOKENS_PER_SECOND
from server.demo.scripts import Answers, Kind, choose
from server.demo.tools import TOOLS, TOOLS_FAIL, Exchange, plan
from server.demo.wire import ChatRequest, parse_request
from server.turns.calls import Calls
from server.upstream.events import ContentDelta, Finish, ToolCallDelta, UpstreamEvent, parse_event

MODEL = "inkstream-demo"
ALL_TOOLS = [
    {"type": "function", "function": {"name": name, "description": name, "parameters": {"type": "object"}}}
    for name in ("calculator", "current_time", "convert_time", "search_docs")
]
# Made-up results: an answer that hard-coded the real tools' values would not contain these.
CALC_RESULT = "4242.17-made-up"
TIME_RESULT = "2031-01-02 03:04 (made-up zone)"
DOCS_RESULT = "1. Made-up doc `with backticks`\n2. ``` a fence inside ```"
FAIL_RESULT = "Error: made-up failure text 7f3a"


def _post(body: dict[str, Any]) -> httpx.Response:
    app = create_demo_app(ttft=0.0, tokens_per_second=UNPACED_TOKENS_PER_SECOND)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            return await client.post("/v1/chat/completions", json=body)

    return asyncio.run(call())


def _stream(messages: list[dict[str, Any]], *, tools: bool = True, **extra: Any) -> list[str]:
    body: dict[str, Any] = {"model": MODEL, "messages": messages, "stream": True, **extra}
    if tools:
        body["tools"] = ALL_TOOLS
    response = _post(body)
    assert response.status_code == 200, response.text
    return [event[6:] for event in response.text.split("\n\n") if event.startswith("data: ")]


def _parsed(data: list[str]) -> list[UpstreamEvent]:
    return [event for payload in data for event in parse_event(payload)]


def _calls(events: list[UpstreamEvent]) -> Calls:
    calls = Calls(round=1, first=1, make_id=lambda number: f"made-{number}")
    for event in events:
        if isinstance(event, ToolCallDelta):
            calls.feed(event)
    calls.close()
    return calls


def _text(events: list[UpstreamEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, ContentDelta))


def _finish(events: list[UpstreamEvent]) -> str:
    return next(event.reason for event in events if isinstance(event, Finish))


def _assistant(calls: Calls) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in calls.calls
        ],
    }


def _results(calls: Calls, results: dict[str, str]) -> list[dict[str, Any]]:
    return [{"role": "tool", "tool_call_id": c.id, "content": results[c.name]} for c in calls.calls]


USER = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "tools"}]


def test_the_first_round_streams_two_interleaved_calls() -> None:
    data = _stream(USER)
    assert data[-1] == "[DONE]"
    events = _parsed(data)
    fragments = [event for event in events if isinstance(event, ToolCallDelta)]
    order = [fragment.index for fragment in fragments]
    assert set(order) == {0, 1}
    # Interleaved: the indexes change many times, not once.
    assert sum(1 for a, b in itertools.pairwise(order) if a != b) >= 4
    for index in (0, 1):
        own = [fragment for fragment in fragments if fragment.index == index]
        assert own[0].name
        assert own[0].id
        assert own[0].id.startswith("call_")
        assert all(fragment.id is None and fragment.name is None for fragment in own[1:])
        assert all(0 < len(fragment.arguments) <= 6 for fragment in own[1:])
    raw_heads = [json.loads(payload) for payload in data[:-1]]
    heads = [
        call
        for chunk in raw_heads
        for choice in chunk["choices"]
        for call in choice["delta"].get("tool_calls", [])
        if "id" in call
    ]
    assert all(head["type"] == "function" for head in heads)
    calls = _calls(events)
    assert [call.name for call in calls.calls] == ["calculator", "convert_time"]
    assert json.loads(calls.calls[0].arguments) == {"expression": "(1234 * 5678) / 3"}
    assert json.loads(calls.calls[1].arguments) == {
        "time": "2026-12-07 09:00",
        "from_zone": "Europe/Paris",
        "to_zone": "Asia/Tokyo",
    }
    assert all(call.given for call in calls.calls)
    assert calls.calls[0].id != calls.calls[1].id
    assert _finish(events) == "tool_calls"
    assert _text(events) == ""


def test_call_ids_differ_between_requests() -> None:
    first = {call.id for call in _calls(_parsed(_stream(USER))).calls}
    second = {call.id for call in _calls(_parsed(_stream(USER))).calls}
    assert not first & second


def test_three_rounds_end_in_an_answer_quoting_the_results() -> None:
    round1 = _calls(_parsed(_stream(USER)))
    messages = [*USER, _assistant(round1)]
    messages += _results(round1, {"calculator": CALC_RESULT, "convert_time": TIME_RESULT})

    events2 = _parsed(_stream(messages))
    round2 = _calls(events2)
    assert [call.name for call in round2.calls] == ["search_docs"]
    assert json.loads(round2.calls[0].arguments) == {"query": "tool calls"}
    assert _finish(events2) == "tool_calls"
    assert not set(c.id for c in round2.calls) & set(c.id for c in round1.calls)

    messages += [_assistant(round2), *_results(round2, {"search_docs": DOCS_RESULT})]
    events3 = _parsed(_stream(messages))
    assert not any(isinstance(event, ToolCallDelta) for event in events3)
    assert _finish(events3) == "stop"
    answer = _text(events3)
    for result in (CALC_RESULT, TIME_RESULT, DOCS_RESULT):
        assert result in answer
    assert "2335" not in answer  # nothing of the real calculator's value is made up


def test_round_selection_is_read_from_the_messages() -> None:
    def request(messages: list[dict[str, Any]]) -> ChatRequest:
        parsed = parse_request(json.dumps({"model": MODEL, "messages": messages}).encode(), models=[MODEL])
        assert isinstance(parsed, ChatRequest)
        return parsed

    call = {"id": "call_a", "type": "function", "function": {"name": "calculator", "arguments": "{}"}}
    earlier = [
        {"role": "user", "content": "tools"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_a", "content": "old"},
        {"role": "assistant", "content": "done"},
    ]
    # A new user message starts over: the earlier turn's rounds do not count.
    fresh = request([*earlier, {"role": "user", "content": "tools"}])
    assert fresh.rounds == ()
    assert fresh.tools is None
    follow = request([*earlier[:3]])
    assert follow.rounds == ((Exchange(id="call_a", name="calculator", arguments="{}", result="old"),),)
    assert follow.prompt == "tools"
    assert follow.continues is None

    ids = iter(["id1", "id2", "id3"])
    names = frozenset({"calculator", "convert_time", "search_docs"})
    first = plan(TOOLS, tools=names, rounds=(), new_id=lambda: next(ids))
    assert [c.name for c in first.calls] == ["calculator", "convert_time"]
    assert [c.id for c in first.calls] == ["id1", "id2"]
    second = plan(TOOLS, tools=names, rounds=follow.rounds, new_id=lambda: next(ids))
    assert [c.name for c in second.calls] == ["search_docs"]
    third = plan(TOOLS, tools=names, rounds=follow.rounds * 2)
    assert third.calls == ()
    assert third.finish_reason == "stop"
    assert "old" in third.text
    missing = plan(TOOLS, tools=frozenset({"calculator"}), rounds=())
    assert missing.calls == ()
    assert "`convert_time`" in missing.text


def test_a_failing_tool_is_explained() -> None:
    user = [{"role": "user", "content": "tools fail"}]
    events = _parsed(_stream(user))
    calls = _calls(events)
    assert [call.name for call in calls.calls] == ["calculator"]
    assert json.loads(calls.calls[0].arguments) == {"expression": "1/0"}
    assert _finish(events) == "tool_calls"

    messages = [*user, _assistant(calls), *_results(calls, {"calculator": FAIL_RESULT})]
    answer_events = _parsed(_stream(messages))
    assert _finish(answer_events) == "stop"
    assert FAIL_RESULT in _text(answer_events)
    assert plan(TOOLS_FAIL, tools=frozenset({"calculator"}), rounds=()).calls


@pytest.mark.parametrize("prompt", ["tools", "tools fail"])
def test_without_tools_the_demo_says_they_are_off(prompt: str) -> None:
    events = _parsed(_stream([{"role": "user", "content": prompt}], tools=False))
    assert not any(isinstance(event, ToolCallDelta) for event in events)
    assert _finish(events) == "stop"
    assert "INKSTREAM_TOOLS" in _text(events)


def test_think_streams_reasoning_before_the_answer() -> None:
    data = _stream([{"role": "user", "content": "think"}], tools=False)
    kinds = []
    reasoning = []
    for payload in data[:-1]:
        for choice in json.loads(payload)["choices"]:
            delta = choice["delta"]
            if delta.get("reasoning_content"):
                kinds.append("reasoning")
                reasoning.append(delta["reasoning_content"])
            elif delta.get("content"):
                kinds.append("content")
    assert kinds[0] == "reasoning"
    assert kinds[-1] == "content"
    first_content = kinds.index("content")
    assert set(kinds[:first_content]) == {"reasoning"}
    assert set(kinds[first_content:]) == {"content"}
    assert len(reasoning) > 10  # streamed token by token, not in one piece
    assert "".join(reasoning).count(". ") >= 2
    events = _parsed(data)
    assert _finish(events) == "stop"
    assert _text(events).strip()


def test_fragments_count_as_tokens() -> None:
    data = _stream(USER, stream_options={"include_usage": True})
    fragments = sum(
        len(choice["delta"].get("tool_calls", []))
        for payload in data[:-1]
        for choice in json.loads(payload)["choices"]
    )
    usage = json.loads(data[-2])["usage"]
    assert usage["completion_tokens"] == fragments
    cut = _parsed(_stream(USER, max_tokens=3))
    assert _finish(cut) == "length"


def test_whole_reply_carries_the_calls() -> None:
    response = _post({"model": MODEL, "messages": USER, "tools": ALL_TOOLS})
    message = response.json()["choices"][0]["message"]
    assert response.json()["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] is None
    assert [call["function"]["name"] for call in message["tool_calls"]] == ["calculator", "convert_time"]
    think = _post({"model": MODEL, "messages": [{"role": "user", "content": "think"}]}).json()
    assert think["choices"][0]["message"]["reasoning_content"]


def test_scenarios_are_chosen_by_keyword(answers: Answers) -> None:
    assert choose("show me tools", answers).name == "tools"
    assert choose("a tool call", answers).name == "tools"
    assert choose("tools fail", answers).name == "tools fail"
    assert choose("Tool failure", answers).name == "tools fail"
    assert choose("think hard", answers).name == "think"
    assert choose("slow tools", answers).kind is Kind.SCENARIO
    assert choose("tools error", answers).name == "error"
