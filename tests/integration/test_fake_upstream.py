"""The fake upstream itself: the misbehaviour other tests rely on really reaches the wire."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.upstream import (
    BOM,
    DONE,
    Choices,
    Drop,
    FakeUpstream,
    Gate,
    Paced,
    Scenario,
    Send,
    Sleep,
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

pytestmark = pytest.mark.timeout(30)


def _fake_upstream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "fake-upstream"]


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as server:
        yield server
    assert not _fake_upstream_threads()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as c:
        yield c


def _post(model: str, **extra: object) -> dict[str, object]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        **extra,
    }


# --- server basics -------------------------------------------------------------------------------


def test_lists_registered_models_in_insertion_order(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.add("zeta", Scenario())
    upstream.add("alpha", Scenario())

    response = client.get(f"{upstream.base_url}/models")

    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == ["zeta", "alpha"]
    assert response.json()["object"] == "list"
    assert upstream.base_url == f"http://127.0.0.1:{upstream.port}/v1"


def test_unknown_model_is_an_openai_404(upstream: FakeUpstream, client: httpx.Client) -> None:
    response = client.post(f"{upstream.base_url}/chat/completions", json=_post("nope"))

    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "model 'nope' not found",
            "type": "invalid_request_error",
            "code": "model_not_found",
        }
    }
    assert upstream.wait_for_request("nope").json == _post("nope")


def test_records_requests(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.add("m", Scenario(steps=stream_text("hi")))
    before = time.monotonic()

    client.post(
        f"{upstream.base_url}/chat/completions",
        json=_post("m"),
        headers={"Authorization": "Bearer sk-test", "X-Trace": "1"},
    )

    request = upstream.wait_for_request("m")
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["x-trace"] == "1"
    assert json.loads(request.body) == request.json == _post("m")
    assert request.received_at >= before
    assert upstream.requests() == [request]


def test_wait_for_request_times_out(upstream: FakeUpstream) -> None:
    with pytest.raises(TimeoutError):
        upstream.wait_for_request("m", timeout=0.05)


def test_stops_cleanly_with_a_stalled_connection_open(client: httpx.Client) -> None:
    with (  # noqa: PT012
        FakeUpstream() as upstream,
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
    ):
        upstream.add("m", Scenario(steps=[Send(sse(chunk("x"))), Stall()]))
        with client.stream("POST", f"{upstream.base_url}/chat/completions", json=_post("m")) as r:
            chunks = r.iter_raw()
            next(chunks)
            # Leaving the with-block stops the server while the response is mid-stream.
            upstream.__exit__(None, None, None)
            list(chunks)
    assert not _fake_upstream_threads()
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", upstream.port)),
    ):
        pass


def test_a_broken_scenario_fails_the_test_on_exit(client: httpx.Client) -> None:
    upstream = FakeUpstream()
    with pytest.raises(RuntimeError, match="handler failed"), upstream:  # noqa: PT012
        upstream.add("m", Scenario(steps=["not a step"]))  # type: ignore[list-item]
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(f"{upstream.base_url}/chat/completions", json=_post("m")).read()


# --- streams -------------------------------------------------------------------------------------


def test_normal_stream_reads_with_httpx_sse(upstream: FakeUpstream, client: httpx.Client) -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    upstream.add("m", Scenario(steps=stream_text("Hello, wörld!", usage=usage)))

    with connect_sse(client, "POST", f"{upstream.base_url}/chat/completions", json=_post("m")) as source:
        assert source.response.headers["content-type"] == "text/event-stream; charset=utf-8"
        assert source.response.headers["transfer-encoding"] == "chunked"
        data = [e.data for e in source.iter_sse()]

    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1]) == "Hello, wörld!"
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1] == chunk(usage=usage, choices=[])
    assert len(upstream.writes("m")) == len(data)


def test_each_send_is_a_separate_chunk_even_inside_a_utf8_char(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    payload = sse(chunk("é"))
    cut = payload.index("é".encode()) + 1
    gate = Gate()
    first, second = split_bytes(payload, [cut])
    upstream.add("m", Scenario(steps=[first, gate, second]))

    with client.stream("POST", f"{upstream.base_url}/chat/completions", json=_post("m")) as r:
        received = r.iter_raw()
        got = b""
        while len(got) < cut:
            got += next(received)
        # The server is parked at the gate, so these bytes cannot have been merged with the rest.
        assert got == payload[:cut]
        gate.open()
        got += b"".join(received)

    assert got == payload
    assert [data for _, data in upstream.writes("m")] == [payload[:cut], payload[cut:]]


def test_writes_record_monotonic_times(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.add("m", Scenario(steps=[Send(b"data: a\n\n"), Sleep(0.02), Send(b"data: b\n\n")]))
    before = time.monotonic()

    client.post(f"{upstream.base_url}/chat/completions", json=_post("m"))

    (t1, _), (t2, _) = upstream.writes("m")
    assert before <= t1 <= t2 <= time.monotonic()
    assert t2 - t1 >= 0.02 * 0.9


def test_paced_events_arrive_at_the_requested_rate(upstream: FakeUpstream, client: httpx.Client) -> None:
    events = [sse(chunk(str(i))) for i in range(10)]
    upstream.add("m", Scenario(steps=[Paced(events, per_second=50)]))

    response = client.post(f"{upstream.base_url}/chat/completions", json=_post("m"))

    assert response.content == b"".join(events)
    times = [t for t, _ in upstream.writes("m")]
    assert len(times) == 10
    assert times[-1] - times[0] >= 9 / 50 * 0.9


def test_drop_mid_chunked_stream_is_a_protocol_error(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.add("m", Scenario(steps=[Send(sse(chunk("partial"))), Drop()]))

    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        client.post(f"{upstream.base_url}/chat/completions", json=_post("m"))

    with pytest.raises(TimeoutError):  # our own close is not the client leaving
        upstream.wait_for_disconnect("m", timeout=0.05)


def test_drop_with_reset_is_a_read_error_even_unchunked(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.add("m", Scenario(steps=[Send(b"data: {"), Drop(reset=True)], chunked=False))

    with pytest.raises(httpx.ReadError):
        client.post(f"{upstream.base_url}/chat/completions", json=_post("m"))


def test_half_an_event_then_close_is_a_clean_end_of_body_unchunked(
    upstream: FakeUpstream, client: httpx.Client
) -> None:
    half = sse(chunk("cut off"))[:20]
    upstream.add("m", Scenario(steps=[Send(sse(chunk("whole"))), Send(half)], chunked=False))

    response = client.post(f"{upstream.base_url}/chat/completions", json=_post("m"))

    assert "transfer-encoding" not in response.headers
    assert "content-length" not in response.headers
    assert response.content == sse(chunk("whole")) + half


# --- disconnects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("hold", [Stall(), Sleep(30)], ids=["stall", "sleep"])
def test_client_close_is_seen_within_100ms(
    upstream: FakeUpstream, client: httpx.Client, hold: Stall | Sleep
) -> None:
    upstream.add("m", Scenario(steps=[Send(sse(chunk("x"))), hold, Send(DONE)]))

    with client.stream("POST", f"{upstream.base_url}/chat/completions", json=_post("m")) as r:
        # Keep the iterator referenced: dropping it would close the connection early.
        received = r.iter_raw()
        next(received)
        closed_at = time.monotonic()
    disconnected_at = upstream.wait_for_disconnect("m")

    assert closed_at <= disconnected_at < closed_at + 0.1
    assert [data for _, data in upstream.writes("m")] == [sse(chunk("x"))]


def test_normal_end_is_not_a_disconnect(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.add("m", Scenario(steps=stream_text("done")))

    client.post(f"{upstream.base_url}/chat/completions", json=_post("m"))

    with pytest.raises(TimeoutError):
        upstream.wait_for_disconnect("m", timeout=0.05)


# --- misbehaving responses -----------------------------------------------------------------------


def test_error_json_with_retry_after(upstream: FakeUpstream, client: httpx.Client) -> None:
    upstream.add(
        "m",
        error_json(429, "slow down", code="rate_limit_exceeded", headers={"Retry-After": "7"}),
    )

    response = client.post(f"{upstream.base_url}/chat/completions", json=_post("m"))

    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": {"message": "slow down", "type": None, "code": "rate_limit_exceeded"}}


def test_bytes_and_headers_reach_the_client_unchanged(upstream: FakeUpstream, client: httpx.Client) -> None:
    body = (
        BOM
        + comment("OPENROUTER PROCESSING")
        + event("ping")
        + with_line_endings(sse(chunk("é")), b"\r\n")
        + with_line_endings(sse("a\nb"), b"\r")
        + DONE
    )
    latin1 = {"content-type": "text/event-stream; charset=iso-8859-1"}
    upstream.add("m", Scenario(headers=latin1, steps=[Send(body)]))

    response = client.post(f"{upstream.base_url}/chat/completions", json=_post("m"))

    assert response.headers["content-type"] == latin1["content-type"]
    assert response.content == body
    assert response.content.startswith(b"\xef\xbb\xbf: OPENROUTER PROCESSING\n\nevent: ping\n\n")
    assert b"data: a\rdata: b\r\r" in response.content
    assert "é" not in response.text  # the declared charset wins in httpx, as the research notes warn


def test_non_sse_content_type(upstream: FakeUpstream, client: httpx.Client) -> None:
    html = {"content-type": "text/html; charset=utf-8"}
    upstream.add("m", Scenario(headers=html, steps=[Send(b"<html>login</html>")], chunked=False))

    response = client.post(f"{upstream.base_url}/chat/completions", json=_post("m"))

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<html>login</html>"


# --- builders ------------------------------------------------------------------------------------


def test_sse_formats_dicts_compactly_and_strings_line_by_line() -> None:
    assert sse({"a": "é"}) == 'data: {"a":"é"}\n\n'.encode()
    assert sse("x\ny") == b"data: x\ndata: y\n\n"
    assert event("ping") == b"event: ping\n\n"
    assert event("error", "boom") == b"event: error\ndata: boom\n\n"


def test_chunk_delta_holds_only_given_keys() -> None:
    c = chunk("hi", role="assistant", extra={"obfuscation": "xx"})
    assert c["object"] == "chat.completion.chunk"
    assert c["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": "hi"},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert c["obfuscation"] == "xx"
    assert "usage" not in c
    assert chunk(delta_extra={"content": None})["choices"][0]["delta"] == {"content": None}


def test_usage_chunk_variants() -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    assert chunk(usage=usage, choices=[])["choices"] == []
    assert chunk(usage=usage, choices=None)["choices"] is None
    assert "choices" not in chunk(usage=usage, choices=Choices.MISSING)
    assert chunk(usage=usage, choices=Choices.MISSING)["usage"] == usage
    with pytest.raises(ValueError, match="delta arguments"):
        chunk("x", choices=[])


def test_stream_text_pieces() -> None:
    steps = stream_text("abcdefghij", finish_reason=None, done=False)
    contents = [json.loads(s.data[6:])["choices"][0]["delta"] for s in steps if isinstance(s, Send)]
    assert contents == [
        {"role": "assistant", "content": ""},
        {"content": "abcd"},
        {"content": "efgh"},
        {"content": "ij"},
    ]
    assert len(stream_text("ab", pieces=["a", "b"])) == 5  # role, a, b, finish, [DONE]
    with pytest.raises(ValueError, match="join"):
        stream_text("ab", pieces=["a"])


def test_split_bytes() -> None:
    assert split_bytes(b"abcdef", [1, 4]) == [Send(b"a"), Send(b"bcd"), Send(b"ef")]
    for bad in ([0], [6], [3, 3], [4, 2]):
        with pytest.raises(ValueError, match="offsets"):
            split_bytes(b"abcdef", bad)
