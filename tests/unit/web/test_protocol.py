"""server/protocol.py: client frames parsed and validated, server frames built.

Every refusal is a ProtocolError with a wire ``code``, a message a person can read, and the
frame's ``ref`` when it had a usable one, so the page can tie the error to what it sent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.errors import ProtocolError
from server.turns.frames import encode
from server.web.protocol import (
    MAX_ID,
    MAX_MODEL,
    MAX_REF,
    MAX_TEXT,
    MAX_TURN_ID,
    PROTOCOL_VERSION,
    Hello,
    Ping,
    Start,
    Stop,
    Subscribe,
    Watch,
    error_frame,
    hello_frame,
    parse_client_frame,
    pong_frame,
)

USER = {"role": "user", "content": "Hi"}


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def refused(text: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_client_frame(text)
    error = caught.value
    _readable(error.message)
    assert str(error) == error.message
    return error


def _readable(message: str) -> None:
    assert isinstance(message, str)
    assert 10 <= len(message) <= 300
    assert message.endswith(".")
    assert "Traceback" not in message
    assert "Error(" not in message
    assert "\n" not in message


# ------------------------------------------------------------------ accepted frames


def test_start_minimal() -> None:
    assert parse_client_frame(frame(type="start", text="Hi")) == Start(text="Hi")


def test_start_full() -> None:
    parsed = parse_client_frame(
        frame(
            type="start", ref="r1", conversation="c_1", text="Go on", model="gpt-4o-mini",
            max_tokens=1000, extra="ignored",
        )
    )  # fmt: skip
    assert parsed == Start(ref="r1", conversation="c_1", text="Go on", model="gpt-4o-mini", max_tokens=1000)


def test_start_regenerate() -> None:
    parsed = parse_client_frame(frame(type="start", conversation="c_1", regenerate="m_2"))
    assert parsed == Start(conversation="c_1", regenerate="m_2")


def test_start_text_with_a_lone_surrogate_is_refused() -> None:
    error = refused('{"type": "start", "text": "a\\ud83d b"}')
    assert error.code == "invalid"
    assert "'text'" in error.message


@pytest.mark.parametrize("max_tokens", [1, 1_000_000, None])
def test_start_max_tokens_bounds(max_tokens: int | None) -> None:
    parsed = parse_client_frame(frame(type="start", text="Hi", max_tokens=max_tokens))
    assert isinstance(parsed, Start)
    assert parsed.max_tokens == max_tokens


def test_start_model_and_text_at_their_limits() -> None:
    parsed = parse_client_frame(frame(type="start", text="t" * MAX_TEXT, model="m" * MAX_MODEL))
    assert isinstance(parsed, Start)
    assert parsed.model == "m" * MAX_MODEL


def test_watch() -> None:
    assert parse_client_frame(frame(type="watch", conversation="c_1", ref="w")) == Watch("c_1", "w")
    assert parse_client_frame(frame(type="watch", conversation=None)) == Watch(None)


def test_stop() -> None:
    assert parse_client_frame(frame(type="stop", turn="t1")) == Stop("t1")
    assert parse_client_frame(frame(type="stop", turn="t" * MAX_TURN_ID, ref="r")) == Stop(
        "t" * MAX_TURN_ID, "r"
    )


@pytest.mark.parametrize(("after", "expected"), [(None, -1), (-1, -1), (0, 0), (41, 41)])
def test_subscribe(after: int | None, expected: int) -> None:
    fields: dict[str, Any] = {"type": "subscribe", "turn": "t1"}
    if after is not None:
        fields["after"] = after
    assert parse_client_frame(json.dumps(fields)) == Subscribe("t1", expected)


def test_ping() -> None:
    assert parse_client_frame(frame(type="ping")) == Ping(None)
    assert parse_client_frame(frame(type="ping", ref="p7")) == Ping("p7")


@pytest.mark.parametrize("ref", ["r" * (MAX_REF + 1), 5, ["r"], {"r": 1}, True])
def test_unusable_ref_is_dropped_not_refused(ref: object) -> None:
    assert parse_client_frame(json.dumps({"type": "ping", "ref": ref})) == Ping(None)


def test_ref_at_its_limit() -> None:
    assert parse_client_frame(frame(type="ping", ref="r" * MAX_REF)) == Ping("r" * MAX_REF)


def test_hello() -> None:
    parsed = parse_client_frame(frame(type="hello", version=PROTOCOL_VERSION))
    assert parsed == Hello(PROTOCOL_VERSION)


def test_whitespace_around_the_json_is_fine() -> None:
    assert parse_client_frame('  {"type": "ping"}\n') == Ping(None)


# ------------------------------------------------------------------ refusals


@pytest.mark.parametrize("text", ["", "not json", "{", "{'type': 'ping'}", '{"type": "ping"', "\ufeff{}"])
def test_bad_json(text: str) -> None:
    error = refused(text)
    assert error.code == "bad_json"
    assert error.ref is None


@pytest.mark.parametrize("text", ["[]", '[{"type": "ping"}]', '"ping"', "1", "null", "true"])
def test_not_an_object(text: str) -> None:
    error = refused(text)
    assert error.code == "bad_frame"
    assert error.ref is None


@pytest.mark.parametrize("kind", [None, 1, ["ping"], {"t": 1}, True])
def test_type_not_a_string(kind: object) -> None:
    fields: dict[str, Any] = {"ref": "r9"}
    if kind is not None:
        fields["type"] = kind
    error = refused(json.dumps(fields))
    assert error.code == "bad_frame"
    assert error.ref == "r9"
    assert "type" in error.message


@pytest.mark.parametrize("kind", ["", "Start", "START", "delete", "pong", "x" * 1000])
def test_unknown_type(kind: str) -> None:
    error = refused(frame(type=kind, ref="r2"))
    assert error.code == "unknown_type"
    assert error.ref == "r2"
    assert len(error.message) < 80  # a long type is cut in the message


def test_unknown_type_without_ref() -> None:
    assert refused(frame(type="nope")).ref is None


INVALID_STARTS: list[tuple[str, dict[str, Any], str]] = [
    ("neither text nor regenerate", {}, "one of 'text'"),
    ("both text and regenerate", {"text": "x", "conversation": "c", "regenerate": "m"}, "one of 'text'"),
    ("regenerate without conversation", {"regenerate": "m_1"}, "'conversation'"),
    ("text null", {"text": None}, "one of 'text'"),
    ("text empty", {"text": ""}, "text"),
    ("text blank", {"text": " \n\t"}, "text"),
    ("text not a string", {"text": 5}, "text"),
    ("text a list", {"text": ["Hi"]}, "text"),
    ("text too long", {"text": "x" * (MAX_TEXT + 1)}, str(MAX_TEXT)),
    ("conversation empty", {"text": "x", "conversation": ""}, "conversation"),
    ("conversation not a string", {"text": "x", "conversation": 3}, "conversation"),
    ("conversation too long", {"text": "x", "conversation": "c" * (MAX_ID + 1)}, "conversation"),
    ("messages are version 2", {"messages": [USER]}, "one of 'text'"),
    ("max_tokens zero", {"text": "x", "max_tokens": 0}, "max_tokens"),
    ("max_tokens negative", {"text": "x", "max_tokens": -5}, "max_tokens"),
    ("max_tokens float", {"text": "x", "max_tokens": 10.0}, "max_tokens"),
    ("max_tokens string", {"text": "x", "max_tokens": "10"}, "max_tokens"),
    ("max_tokens bool", {"text": "x", "max_tokens": True}, "max_tokens"),
    ("max_tokens huge", {"text": "x", "max_tokens": 1_000_001}, "max_tokens"),
    ("model not a string", {"text": "x", "model": 4}, "model"),
    ("model too long", {"text": "x", "model": "m" * (MAX_MODEL + 1)}, "model"),
]


@pytest.mark.parametrize(
    ("fields", "mentions"), [c[1:] for c in INVALID_STARTS], ids=[c[0] for c in INVALID_STARTS]
)
@pytest.mark.parametrize("ref", [None, "start-1"])
def test_invalid_start(fields: dict[str, Any], mentions: str, ref: str | None) -> None:
    body = {"type": "start", **fields}
    if ref is not None:
        body["ref"] = ref
    error = refused(json.dumps(body))
    assert error.code == "invalid"
    assert error.ref == ref
    assert mentions in error.message


def test_deeply_nested_frame_is_bad_json() -> None:
    assert refused("[" * 100_000).code == "bad_json"


@pytest.mark.parametrize("kind", ["stop", "subscribe"])
@pytest.mark.parametrize(
    "turn",
    [None, "", 5, ["t"], "t" * (MAX_TURN_ID + 1)],
    ids=["missing", "empty", "int", "list", "long"],
)
def test_invalid_turn_id(kind: str, turn: object) -> None:
    body: dict[str, Any] = {"type": kind, "ref": "r3"}
    if turn is not None:
        body["turn"] = turn
    error = refused(json.dumps(body))
    assert error.code == "invalid"
    assert error.ref == "r3"
    assert "turn" in error.message


@pytest.mark.parametrize("after", [-2, 1.5, "3", True, None], ids=["-2", "float", "str", "bool", "null"])
def test_invalid_subscribe_after(after: object) -> None:
    error = refused(json.dumps({"type": "subscribe", "turn": "t", "after": after, "ref": "s"}))
    assert error.code == "invalid"
    assert error.ref == "s"
    assert "after" in error.message


@pytest.mark.parametrize(
    "version",
    [None, 0, 1, 2, 4, "3", [3]],
    ids=["missing", "0", "1-the-old-ops", "2-client-history", "4", "str", "list"],
)
def test_unsupported_version(version: object) -> None:
    body: dict[str, Any] = {"type": "hello", "ref": "h"}
    if version is not None:
        body["version"] = version
    error = refused(json.dumps(body))
    assert error.code == "unsupported_version"
    assert error.ref == "h"
    assert str(PROTOCOL_VERSION) in error.message


def test_boolean_version_is_unsupported() -> None:
    assert refused(frame(type="hello", version=True)).code == "unsupported_version"


_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from(["start", "stop", "subscribe", "watch", "ping", "hello", "other"]),
    fields=st.dictionaries(
        st.sampled_from(
            ["text", "regenerate", "conversation", "turn", "after", "version", "ref", "model", "max_tokens"]
        ),
        _ANY_JSON | st.sampled_from(["c_1", "m_1", "Hi"]),
        max_size=5,
    ),
)
def test_any_frame_parses_or_is_refused(kind: str, fields: dict[str, Any]) -> None:
    body = {"type": kind, **fields}
    text = json.dumps(body)
    outcome: object
    try:
        outcome = parse_client_frame(text)
    except ProtocolError as error:
        outcome = error
    if isinstance(outcome, ProtocolError):
        assert outcome.code in {"invalid", "unknown_type", "unsupported_version"}
        _readable(outcome.message)
        ref = body.get("ref")
        usable = ref if isinstance(ref, str) and len(ref) <= MAX_REF else None
        assert outcome.ref == usable
    else:
        assert isinstance(outcome, Start | Stop | Subscribe | Watch | Ping | Hello)


# ------------------------------------------------------------------ server frames


def test_encode_is_compact_utf8_json() -> None:
    text = encode({"type": "delta", "text": 'é€😀 "q"\n', "n": 1})
    assert text == '{"type":"delta","text":"é€😀 \\"q\\"\\n","n":1}'
    assert json.loads(text) == {"type": "delta", "text": 'é€😀 "q"\n', "n": 1}


def test_encode_keeps_key_order() -> None:
    assert encode({"b": 1, "a": 2}) == '{"b":1,"a":2}'


def test_hello_frame() -> None:
    frame_ = hello_frame(server="inkstream/0.1.0", demo=True, limits={"max_frame_bytes": 1024})
    assert frame_ == {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "server": "inkstream/0.1.0",
        "demo": True,
        "limits": {"max_frame_bytes": 1024},
    }
    assert json.loads(encode(frame_)) == frame_


def test_error_frame() -> None:
    assert error_frame("invalid", "Nope.") == {"type": "error", "code": "invalid", "message": "Nope."}
    assert error_frame("invalid", "Nope.", ref="r1") == {
        "type": "error",
        "code": "invalid",
        "message": "Nope.",
        "ref": "r1",
    }
    assert error_frame("rate_limited", "Slow down.", retry_after=1.5) == {
        "type": "error",
        "code": "rate_limited",
        "message": "Slow down.",
        "retry_after": 1.5,
    }


def test_error_frame_from_a_refusal_round_trips() -> None:
    error = refused(frame(type="stop", ref="r5"))
    wire = json.loads(encode(error_frame(error.code, error.message, ref=error.ref)))
    assert wire == {"type": "error", "code": "invalid", "message": error.message, "ref": "r5"}


def test_pong_frame() -> None:
    assert pong_frame(None) == {"type": "pong"}
    assert pong_frame("p1") == {"type": "pong", "ref": "p1"}
    assert pong_frame("") == {"type": "pong", "ref": ""}
