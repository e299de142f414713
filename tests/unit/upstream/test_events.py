"""server/events.py: one chunk's data -> typed upstream events.

Tolerant where real servers differ (usage chunks, ``content: null``, unknown fields, old
Ollama tool calls), strict where going on would show something wrong (``error``, not JSON).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.errors import UpstreamError, UpstreamProtocolError, UpstreamStreamError
from server.upstream.events import (
    MAX_SHOWN,
    ContentDelta,
    Done,
    Finish,
    RoleDelta,
    ToolCallDelta,
    UpstreamEvent,
    Usage,
    parse_event,
)


def chunk(*choices: dict[str, Any], **extra: Any) -> str:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": list(choices),
    }
    body.update(extra)
    return json.dumps(body)


def delta(finish_reason: str | None = None, index: int = 0, **fields: Any) -> dict[str, Any]:
    return {"index": index, "delta": fields, "finish_reason": finish_reason}


# ------------------------------------------------------------------ content, role, finish


def test_content_delta() -> None:
    assert parse_event(chunk(delta(content="Hello"))) == [ContentDelta("Hello")]


def test_first_chunk_with_role_and_empty_content() -> None:
    assert parse_event(chunk(delta(role="assistant", content=""))) == [RoleDelta("assistant")]


def test_role_and_content_in_one_chunk_keep_wire_order() -> None:
    assert parse_event(chunk(delta(role="assistant", content="Hi"))) == [
        RoleDelta("assistant"),
        ContentDelta("Hi"),
    ]


@pytest.mark.parametrize("text", [" ", "\n", "é€😀", "a\r\nb", "\0", "[DONE] is a word"])
def test_content_is_passed_through_verbatim(text: str) -> None:
    assert parse_event(chunk(delta(content=text))) == [ContentDelta(text)]


@pytest.mark.parametrize("content", [None, "", 5, ["a"], {"text": "a"}, True])
def test_content_null_empty_or_not_a_string_is_nothing(content: object) -> None:
    assert parse_event(chunk(delta(content=content))) == []


@pytest.mark.parametrize("reason", ["stop", "length", "tool_calls", "content_filter", "eos"])
def test_finish_reason(reason: str) -> None:
    assert parse_event(chunk(delta(finish_reason=reason))) == [Finish(reason)]


@pytest.mark.parametrize("reason", [None, "", 1])
def test_no_finish_reason(reason: object) -> None:
    assert parse_event(chunk({"index": 0, "delta": {}, "finish_reason": reason})) == []


def test_last_content_and_finish_reason_in_one_chunk() -> None:
    assert parse_event(chunk(delta(finish_reason="stop", content="."))) == [
        ContentDelta("."),
        Finish("stop"),
    ]


def test_choice_without_delta_can_still_finish() -> None:
    assert parse_event(chunk({"index": 0, "finish_reason": "stop"})) == [Finish("stop")]
    assert parse_event(chunk({"index": 0, "delta": None, "finish_reason": "stop"})) == [Finish("stop")]


def test_refusal_is_shown_as_content() -> None:
    assert parse_event(chunk(delta(refusal="I can't help with that."))) == [
        ContentDelta("I can't help with that.")
    ]
    assert parse_event(chunk(delta(content=None, refusal=None))) == []


def test_unknown_fields_are_ignored() -> None:
    data = chunk(
        {
            "index": 0,
            "delta": {"content": "x", "reasoning": None},
            "logprobs": None,
            "finish_reason": None,
            "native_finish_reason": None,
        },
        obfuscation="a8Xk",
        service_tier="default",
        system_fingerprint="fp_1",
        provider="OpenAI",
    )
    assert parse_event(data) == [ContentDelta("x")]


# ------------------------------------------------------------------ [DONE]


@pytest.mark.parametrize("data", ["[DONE]", "[DONE]\n"])
def test_done(data: str) -> None:
    assert parse_event(data) == [Done()]


# ------------------------------------------------------------------ choices other than the first


def test_choices_with_index_other_than_zero_are_ignored() -> None:
    data = chunk(delta(content="one", index=1), delta(content="zero"), delta(content="two", index=2))
    assert parse_event(data) == [ContentDelta("zero")]


def test_choice_without_index_counts_as_the_first() -> None:
    assert parse_event(chunk({"delta": {"content": "x"}})) == [ContentDelta("x")]


@pytest.mark.parametrize("choices", [None, "x", 5, {"index": 0}, ["not a dict", 3, None]])
def test_odd_choices_are_tolerated(choices: object) -> None:
    assert parse_event(json.dumps({"choices": choices})) == []


# ------------------------------------------------------------------ usage


USAGE = {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}


@pytest.mark.parametrize(
    "body",
    [
        {"choices": [], "usage": USAGE},
        {"choices": None, "usage": USAGE},
        {"usage": USAGE},
        {"id": "x", "object": "chat.completion.chunk", "usage": USAGE, "obfuscation": "zz"},
    ],
    ids=["choices-empty", "choices-null", "choices-missing", "extra-fields"],
)
def test_usage_chunk(body: dict[str, Any]) -> None:
    assert parse_event(json.dumps(body)) == [Usage(9, 12, 21)]


def test_usage_after_the_choice_events() -> None:
    data = chunk(delta(finish_reason="stop", content="!"), usage=USAGE)
    assert parse_event(data) == [ContentDelta("!"), Finish("stop"), Usage(9, 12, 21)]


def test_usage_null_is_nothing() -> None:
    assert parse_event(chunk(delta(content="a"), usage=None)) == [ContentDelta("a")]


def test_usage_with_missing_or_odd_counts() -> None:
    data = json.dumps(
        {"usage": {"prompt_tokens": True, "completion_tokens": 1.5, "completion_tokens_details": {}}}
    )
    [usage] = parse_event(data)
    assert usage == Usage(None, None, None)
    assert isinstance(usage, Usage)
    assert usage.to_wire() == {}


def test_usage_to_wire_keeps_known_counts_only() -> None:
    assert Usage(1, None, 3).to_wire() == {"prompt_tokens": 1, "total_tokens": 3}
    assert Usage(9, 12, 21).to_wire() == USAGE


# ------------------------------------------------------------------ tool calls


def test_tool_call_fragments() -> None:
    first = chunk(
        delta(
            tool_calls=[
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        )
    )
    more = chunk(delta(tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}]))
    assert parse_event(first) == [ToolCallDelta(0, "call_1", "get_weather", "")]
    assert parse_event(more) == [ToolCallDelta(0, None, None, '{"city":')]


def test_parallel_tool_calls_keep_their_index() -> None:
    data = chunk(
        delta(
            tool_calls=[
                {"index": 1, "function": {"arguments": "b"}},
                {"index": 0, "function": {"arguments": "a"}},
            ]
        )
    )
    assert parse_event(data) == [
        ToolCallDelta(1, None, None, "b"),
        ToolCallDelta(0, None, None, "a"),
    ]


def test_tool_call_without_index_uses_its_position() -> None:
    # Old Ollama.
    data = chunk(
        delta(
            tool_calls=[
                {"id": "a", "function": {"name": "f", "arguments": "{}"}},
                {"id": "b", "function": {"name": "g", "arguments": "{}"}},
            ]
        )
    )
    assert parse_event(data) == [ToolCallDelta(0, "a", "f", "{}"), ToolCallDelta(1, "b", "g", "{}")]


def test_tool_call_with_odd_fields() -> None:
    data = chunk(
        delta(
            tool_calls=[
                {"index": "0", "id": 5, "function": {"name": None, "arguments": None}},
                {"index": 3, "function": "nope"},
                "not a call",
                None,
            ]
        )
    )
    assert parse_event(data) == [ToolCallDelta(0, None, None, ""), ToolCallDelta(3, None, None, "")]


@pytest.mark.parametrize("tool_calls", [None, {}, "x"])
def test_tool_calls_not_a_list_is_nothing(tool_calls: object) -> None:
    assert parse_event(chunk(delta(tool_calls=tool_calls))) == []


def test_deprecated_function_call() -> None:
    first = chunk(delta(role="assistant", function_call={"name": "lookup", "arguments": ""}))
    more = chunk(delta(function_call={"arguments": '{"q":1}'}))
    assert parse_event(first) == [RoleDelta("assistant"), ToolCallDelta(0, None, "lookup", "")]
    assert parse_event(more) == [ToolCallDelta(0, None, None, '{"q":1}')]
    assert parse_event(chunk(delta(function_call=None))) == []


def test_tool_call_finish() -> None:
    assert parse_event(chunk(delta(finish_reason="tool_calls"))) == [Finish("tool_calls")]


# ------------------------------------------------------------------ errors inside the stream


def test_error_object() -> None:
    data = json.dumps({"error": {"message": "Rate limit exceeded", "type": "rate_limit_error", "code": 429}})
    with pytest.raises(UpstreamStreamError) as caught:
        parse_event(data)
    error = caught.value
    assert error.message == "Rate limit exceeded"
    assert error.status == 429
    assert error.upstream_code == "rate_limit_error"
    assert error.to_wire() == {
        "code": "upstream_stream_error",
        "message": "Rate limit exceeded",
        "status": 429,
        "upstream_code": "rate_limit_error",
    }


def test_error_object_with_string_code() -> None:
    data = json.dumps(
        {"error": {"message": "Too long", "type": "invalid_request_error", "code": "context_length_exceeded"}}
    )
    with pytest.raises(UpstreamStreamError) as caught:
        parse_event(data)
    assert caught.value.status is None
    assert caught.value.upstream_code == "context_length_exceeded"


def test_error_object_next_to_choices_wins() -> None:
    # OpenRouter sends a mid-stream error in a chunk that also has choices.
    data = chunk(delta(finish_reason="error", content=""), error={"message": "Provider down", "code": 502})
    with pytest.raises(UpstreamStreamError, match="Provider down") as caught:
        parse_event(data)
    assert caught.value.status == 502


@pytest.mark.parametrize("error", [{"code": 500}, {"message": ""}, {"message": None, "type": 3}])
def test_error_object_without_a_message_gets_one(error: dict[str, Any]) -> None:
    with pytest.raises(UpstreamStreamError) as caught:
        parse_event(json.dumps({"error": error}))
    assert caught.value.message == "The upstream reported an error."
    assert caught.value.upstream_code is None


@pytest.mark.parametrize("bad", [True, "yes"])
def test_error_code_that_is_not_a_status(bad: object) -> None:
    with pytest.raises(UpstreamStreamError) as caught:
        parse_event(json.dumps({"error": {"message": "m", "code": bad, "type": None}}))
    # A bool is an int to Python; whatever it becomes, it must not break to_wire().
    assert isinstance(caught.value.to_wire()["message"], str)


def test_error_as_a_string() -> None:
    with pytest.raises(UpstreamStreamError) as caught:
        parse_event(json.dumps({"error": "model overloaded"}))
    assert caught.value.message == "The upstream reported an error: model overloaded"
    assert caught.value.status is None


def test_error_as_a_long_string_is_shortened() -> None:
    with pytest.raises(UpstreamStreamError) as caught:
        parse_event(json.dumps({"error": "x" * 1000}))
    assert caught.value.message.endswith("x" * MAX_SHOWN + "…")
    assert len(caught.value.message) < MAX_SHOWN + 50


@pytest.mark.parametrize("error", [None, False, "", {}, [], 0])
def test_empty_error_is_no_error(error: object) -> None:
    assert parse_event(chunk(delta(content="ok"), error=error)) == [ContentDelta("ok")]


# ------------------------------------------------------------------ not JSON, not an object


@pytest.mark.parametrize("data", ["{", "hello", "{'a': 1}", "[DONE", "DONE", '{"choices": [}', " "])
def test_not_json(data: str) -> None:
    with pytest.raises(UpstreamProtocolError) as caught:
        parse_event(data)
    assert caught.value.message.startswith("The upstream sent an event that is not JSON: ")
    assert data in caught.value.message
    assert caught.value.to_wire()["code"] == "upstream_protocol"


def test_not_json_quote_is_shortened() -> None:
    data = "<html>" + "y" * 5000
    with pytest.raises(UpstreamProtocolError) as caught:
        parse_event(data)
    message = caught.value.message
    assert message.endswith(data[:MAX_SHOWN] + "…")
    assert len(message) == len("The upstream sent an event that is not JSON: ") + MAX_SHOWN + 1


def test_not_json_quote_of_exactly_the_limit_is_whole() -> None:
    data = "z" * MAX_SHOWN
    with pytest.raises(UpstreamProtocolError) as caught:
        parse_event(data)
    assert caught.value.message.endswith(": " + data)


@pytest.mark.parametrize("data", ["[]", "[1, 2]", '"text"', "3", "null", "true", "NaN"])
def test_json_that_is_not_an_object(data: str) -> None:
    with pytest.raises(UpstreamProtocolError, match="not an object"):
        parse_event(data)


def test_empty_object_is_no_events() -> None:
    assert parse_event("{}") == []


def test_deeply_nested_data_is_a_protocol_error() -> None:
    with pytest.raises(UpstreamProtocolError):
        parse_event("[" * 100_000)


@settings(max_examples=200, deadline=None)
@given(data=st.text(max_size=60))
def test_any_text_gives_events_or_an_upstream_error(data: str) -> None:
    outcome: list[UpstreamEvent] | UpstreamError
    try:
        outcome = parse_event(data)
    except UpstreamError as error:
        outcome = error
    if isinstance(outcome, UpstreamError):
        assert isinstance(outcome, UpstreamProtocolError | UpstreamStreamError)
        assert outcome.message
    else:
        assert isinstance(outcome, list)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    choice=st.fixed_dictionaries(
        {},
        optional={
            "index": _JSON,
            "delta": st.fixed_dictionaries(
                {},
                optional={
                    "role": _JSON,
                    "content": _JSON,
                    "refusal": _JSON,
                    "tool_calls": _JSON,
                    "function_call": _JSON,
                },
            )
            | _JSON,
            "finish_reason": _JSON,
        },
    ),
    usage=_JSON,
)
def test_chunks_of_any_shape_never_crash(choice: dict[str, Any], usage: object) -> None:
    events = parse_event(json.dumps({"choices": [choice], "usage": usage}))
    for event in events:
        if isinstance(event, ContentDelta):
            assert isinstance(event.text, str)
            assert event.text
        elif isinstance(event, ToolCallDelta):
            assert isinstance(event.index, int)
            assert isinstance(event.arguments, str)
