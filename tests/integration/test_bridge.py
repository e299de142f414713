"""The bridge end to end: a real uvicorn server, a real (misbehaving) upstream, a WebSocket client."""

from __future__ import annotations

import time

import pytest

from tests.support.client import Client, ops_of, text_of
from tests.support.dom import Page, canonical
from tests.support.server import Running
from tests.support.upstream import (
    BOM,
    DONE,
    Choices,
    Drop,
    FakeUpstream,
    Paced,
    Scenario,
    Send,
    Stall,
    chunk,
    comment,
    error_json,
    event,
    split_bytes,
    sse,
    stream_text,
    with_line_endings,
)

ANSWER = "Hello **world**, this is `code` and a list:\n\n- one\n- two\n"


def run_turn(bridge: Running, model: str) -> list[dict]:
    with Client(bridge.ws) as client:
        turn = client.start("hi", model=model)
        return client.until_end(turn)


def rendered(frames: list[dict]) -> str:
    page = Page()
    page.apply(ops_of(frames))
    return canonical(page.html())


def test_a_clean_stream_arrives_whole_and_rendered(bridge: Running, upstream: FakeUpstream) -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 12, "total_tokens": 15}
    upstream.add("m", Scenario(steps=stream_text(ANSWER, usage=usage)))
    frames = run_turn(bridge, "m")
    end = frames[-1]
    assert end["state"] == "done"
    assert end["finish_reason"] == "stop"
    assert end["usage"] == usage
    assert text_of(frames) == ANSWER
    assert "<strong>world</strong>" in rendered(frames)
    body = upstream.wait_for_request("m").json
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("choices", [[], None, Choices.MISSING], ids=["empty", "null", "missing"])
def test_usage_chunk_variants(bridge: Running, upstream: FakeUpstream, choices: object) -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    steps = [
        Send(sse(chunk("", role="assistant"))),
        Send(sse(chunk("ok"))),
        Send(sse(chunk(finish_reason="stop"))),
        Send(sse(chunk(usage=usage, choices=choices))),  # type: ignore[arg-type]
        Send(DONE),
    ]
    upstream.add("m", Scenario(steps=steps))
    frames = run_turn(bridge, "m")
    assert frames[-1]["usage"] == usage
    assert text_of(frames) == "ok"


def test_keepalives_unknown_fields_null_content_and_empty_events(
    bridge: Running, upstream: FakeUpstream
) -> None:
    steps = [
        Send(comment("OPENROUTER PROCESSING")),
        Send(sse(chunk(role="assistant", delta_extra={"content": None}))),
        Send(event("ping")),
        Send(sse(chunk("A", extra={"obfuscation": "xyz", "service_tier": "default"}))),
        Send(b"retry: 1000\n\n"),
        Send(sse(chunk("B", delta_extra={"reasoning": None, "annotations": []}))),
        Send(sse(chunk(finish_reason="stop"))),
        Send(DONE),
    ]
    upstream.add("m", Scenario(steps=steps))
    frames = run_turn(bridge, "m")
    assert frames[-1]["state"] == "done"
    assert text_of(frames) == "AB"


def test_bom_charset_lie_and_split_utf8_and_crlf(bridge: Running, upstream: FakeUpstream) -> None:
    text = "Ünïcødé — “quotes” and 日本語 ✓"
    payload = BOM + with_line_endings(
        sse(chunk("", role="assistant")) + sse(chunk(text)) + sse(chunk(finish_reason="stop")) + DONE, b"\r\n"
    )
    cut_in_char = payload.index("本".encode()) + 1
    cut_in_crlf = payload.index(b"\r\n") + 1
    headers = {"content-type": "text/event-stream; charset=iso-8859-1"}
    steps = split_bytes(payload, sorted({2, cut_in_crlf, cut_in_char}))
    upstream.add("m", Scenario(headers=headers, steps=steps))
    frames = run_turn(bridge, "m")
    assert text_of(frames) == text  # the BOM did not eat the first event; UTF-8 despite the header
    assert frames[-1]["state"] == "done"


def test_error_object_inside_the_stream(bridge: Running, upstream: FakeUpstream) -> None:
    error = {"error": {"message": "Overloaded, try later", "type": "server_error", "code": "overloaded"}}
    steps = [Send(sse(chunk("", role="assistant"))), Send(sse(chunk("Partial "))), Send(sse(error))]
    upstream.add("m", Scenario(steps=steps))
    frames = run_turn(bridge, "m")
    end = frames[-1]
    assert end["state"] == "error"
    assert end["error"]["code"] == "upstream_stream_error"
    assert end["error"]["message"] == "Overloaded, try later"
    assert end["error"]["upstream_code"] == "overloaded"
    assert text_of(frames) == "Partial "  # the partial text is kept


@pytest.mark.parametrize(
    ("status", "headers", "retry"),
    [
        (401, {}, None),
        (404, {}, None),
        (429, {"Retry-After": "7"}, 7.0),
        (500, {}, None),
        (503, {"retry-after": "2"}, 2.0),
    ],
)
def test_error_status_before_the_stream(
    bridge: Running, upstream: FakeUpstream, status: int, headers: dict[str, str], retry: float | None
) -> None:
    upstream.add("m", error_json(status, f"upstream says {status}", code=f"c{status}", headers=headers))
    frames = run_turn(bridge, "m")
    error = frames[-1]["error"]
    assert frames[-1]["state"] == "error"
    assert error["code"] == "upstream_status"
    assert error["status"] == status
    assert f"upstream says {status}" in error["message"]
    assert error["upstream_code"] == f"c{status}"
    assert error.get("retry_after") == retry


def test_non_json_error_body_and_non_sse_200(bridge: Running, upstream: FakeUpstream) -> None:
    body = b"<html>Bad Gateway</html>"
    upstream.add(
        "html-error",
        Scenario(
            502, {"content-type": "text/html", "content-length": str(len(body))}, [Send(body)], chunked=False
        ),
    )
    frames = run_turn(bridge, "html-error")
    assert frames[-1]["error"]["status"] == 502
    assert "Bad Gateway" in frames[-1]["error"]["message"]
    upstream.add(
        "html-200", Scenario(200, {"content-type": "text/html"}, [Send(b"<p>hi</p>")], chunked=False)
    )
    frames = run_turn(bridge, "html-200")
    assert frames[-1]["error"]["code"] == "upstream_protocol"


def test_connection_dropped_mid_stream(bridge: Running, upstream: FakeUpstream) -> None:
    steps = [Send(sse(chunk("", role="assistant"))), Send(sse(chunk("Half an answer"))), Drop(reset=True)]
    upstream.add("m", Scenario(steps=steps))
    frames = run_turn(bridge, "m")
    assert frames[-1]["state"] == "error"
    assert frames[-1]["error"]["code"] == "upstream_disconnected"
    assert text_of(frames) == "Half an answer"


def test_idle_timeout(bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add(
        "m", Scenario(steps=[Send(sse(chunk("", role="assistant"))), Send(sse(chunk("Then "))), Stall()])
    )
    started = time.monotonic()
    frames = run_turn(bridge, "m")
    assert frames[-1]["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started >= 1.0  # the bridge's idle_timeout in this test
    assert text_of(frames) == "Then "


def test_end_without_done_or_finish_reason_is_incomplete(bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", Scenario(steps=stream_text("Cut short", finish_reason=None, done=False)))
    frames = run_turn(bridge, "m")
    assert frames[-1]["state"] == "incomplete"
    assert text_of(frames) == "Cut short"


def test_finish_reason_without_done_is_done(bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", Scenario(steps=stream_text("Fine", done=False)))
    assert run_turn(bridge, "m")[-1]["state"] == "done"


def test_stop_closes_the_upstream_within_100_ms(bridge: Running, upstream: FakeUpstream) -> None:
    words = [sse(chunk(f"word{i} ")) for i in range(2000)]
    upstream.add("m", Scenario(steps=[Send(sse(chunk("", role="assistant"))), Paced(words, 50)]))
    with Client(bridge.ws) as client:
        turn = client.start("hi", model="m")
        while not text_of([*client.other, client.recv()]):
            pass
        client.send({"type": "stop", "turn": turn})
        stopped_at = time.monotonic()
        closed_at = upstream.wait_for_disconnect("m", timeout=5)
        frames = client.until_end(turn)
    assert closed_at - stopped_at < 0.1, closed_at - stopped_at
    assert frames[-1]["state"] == "stopped"
    assert frames[-1]["reason"] == "stopped by the user"


def test_a_turn_outlives_its_socket_and_resumes_without_loss(bridge: Running, upstream: FakeUpstream) -> None:
    text = "".join(f"token{i} " for i in range(60))
    pieces = [f"token{i} " for i in range(60)]
    paced = Paced([sse(chunk(p)) for p in pieces], 100)
    upstream.add(
        "m",
        Scenario(
            steps=[
                Send(sse(chunk("", role="assistant"))),
                paced,
                Send(sse(chunk(finish_reason="stop"))),
                Send(DONE),
            ]
        ),
    )
    first = Client(bridge.ws, cookie=bridge.cookie)
    turn = first.start("hi", model="m")
    seen = [first.recv()]
    while not seen[-1].get("text"):
        seen.append(first.recv())
    last_seq = seen[-1]["seq"]
    first.close()  # the browser went away mid-answer
    with Client(bridge.ws, cookie=bridge.cookie) as second:
        second.send({"type": "subscribe", "turn": turn, "after": last_seq})
        rest = second.until_end(turn)
    assert rest[0]["seq"] == last_seq + 1
    assert text_of(seen) + text_of(rest) == text
    assert rest[-1]["state"] == "done"


def test_an_unwatched_turn_is_cancelled_after_the_grace_period(
    bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add(
        "m", Scenario(steps=[Send(sse(chunk("", role="assistant"))), Send(sse(chunk("x"))), Stall()])
    )
    client = Client(bridge.ws)
    client.start("hi", model="m")
    client.close()
    left_at = time.monotonic()
    closed_at = upstream.wait_for_disconnect("m", timeout=5)
    assert 0.4 <= closed_at - left_at < 3.0  # grace_period is 0.5 s here


def test_a_fast_upstream_is_coalesced_without_delaying_the_first_token(
    bridge: Running, upstream: FakeUpstream
) -> None:
    pieces = [sse(chunk(f"w{i} ")) for i in range(3000)]
    upstream.add(
        "m",
        Scenario(
            steps=[
                Send(sse(chunk("", role="assistant"))),
                *map(Send, pieces),
                Send(sse(chunk(finish_reason="stop"))),
                Send(DONE),
            ]
        ),
    )
    with Client(bridge.ws) as client:
        turn = client.start("hi", model="m")
        frames = client.until_end(turn)
    deltas = [f for f in frames if f["type"] == "delta"]
    duration = frames[-1]["stats"]["duration_ms"] / 1000
    assert text_of(frames) == "".join(f"w{i} " for i in range(3000))
    assert len(deltas) < 3000 / 10  # many upstream deltas per frame
    assert len(deltas) <= 4 + 30 * duration + 2  # burst + max_fps
    assert sum(f["n"] for f in deltas) == 3000


def test_models_listing_and_default(bridge: Running, upstream: FakeUpstream) -> None:
    import httpx

    upstream.add("alpha", Scenario(steps=stream_text("from alpha")))
    upstream.add("beta", Scenario(steps=stream_text("from beta")))
    listing = httpx.get(bridge.http + "/api/models").json()
    assert listing == {"models": ["alpha", "beta"], "default": "alpha", "demo": False}
    with Client(bridge.ws) as client:
        turn = client.start("hi")  # no model: the first the upstream lists
        assert text_of(client.until_end(turn)) == "from alpha"


def test_configured_model_is_the_default(upstream: FakeUpstream, server_factory) -> None:  # type: ignore[no-untyped-def]
    upstream.add("alpha", Scenario(steps=stream_text("from alpha")))
    upstream.add("beta", Scenario(steps=stream_text("from beta")))
    with (
        server_factory(openai_base_url=upstream.base_url, model="beta") as running,
        Client(running.ws) as client,
    ):
        turn = client.start("hi")
        assert text_of(client.until_end(turn)) == "from beta"
