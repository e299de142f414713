"""Bad input, limits and security: typed errors, and the server keeps serving everyone else."""

from __future__ import annotations

import json
import socket
import struct
import time

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.support.client import Client, text_of
from tests.support.server import serve
from tests.support.upstream import (
    DONE,
    FakeUpstream,
    Scenario,
    Send,
    Stall,
    chunk,
    error_json,
    sse,
    stream_text,
)

SECRET = "sk-test-DO-NOT-LEAK-1234567890abcdef"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json at all", "bad_json"),
        ("[1, 2, 3]", "bad_frame"),
        (json.dumps({"no": "type"}), "bad_frame"),
        (json.dumps({"type": "launch_missiles"}), "unknown_type"),
        (json.dumps({"type": "start", "text": ""}), "invalid"),
        (json.dumps({"type": "start", "messages": [{"role": "user", "content": "x"}]}), "invalid"),
        ("[" * 100_000, "bad_json"),
        (json.dumps({"type": "stop", "turn": "t_nope"}), "unknown_turn"),
        (json.dumps({"type": "subscribe", "turn": "t_nope", "after": -1}), "unknown_turn"),
        (json.dumps({"type": "hello", "version": 99}), "unsupported_version"),
        (b"\x00\x01binary", "binary_unsupported"),
    ],
)
def test_bad_frames_get_a_typed_error_and_the_socket_lives_on(frame: str | bytes, code: str) -> None:
    with serve(demo_ttft_ms=0, demo_tokens_per_second=5000) as running, Client(running.ws) as client:
        client.send(frame)
        error = client.error()
        assert error["code"] == code
        assert error["message"]
        client.send({"type": "ping", "ref": "still-there"})
        assert client.recv() == {"type": "pong", "ref": "still-there"}
        turn = client.start("echo fine")
        assert text_of(client.until_end(turn)) == "fine"


def test_an_error_names_the_frame_it_refuses() -> None:
    with serve() as running, Client(running.ws) as client:
        client.send({"type": "start", "ref": "mine", "text": "   "})
        error = client.error()
        assert (error["code"], error["ref"]) == ("invalid", "mine")


def test_an_oversize_frame_closes_with_1009_and_others_are_served() -> None:
    with serve(max_frame_bytes=64 * 1024, demo_ttft_ms=0, demo_tokens_per_second=5000) as running:
        with Client(running.ws) as victim, Client(running.ws) as bystander:
            victim.send(json.dumps({"type": "ping", "pad": "x" * 100_000}))
            assert victim.closed_with() == 1009
            turn = bystander.start("echo still served")
            assert text_of(bystander.until_end(turn)) == "still served"


def test_a_flood_is_refused_then_closed_with_1008() -> None:
    with serve(client_frames_per_second=5, client_burst=5, flood_strikes=20) as running:
        with Client(running.ws) as flooder, Client(running.ws) as bystander:
            for _ in range(200):
                try:
                    flooder.send({"type": "ping"})
                except Exception:
                    break
            frames = []
            code = None
            try:
                while True:
                    frames.append(flooder.recv(timeout=5))
            except Exception:
                code = flooder.ws.close_code
            assert any(f.get("code") == "rate_limited" for f in frames)
            assert code == 1008
            bystander.send({"type": "ping"})
            assert bystander.recv()["type"] == "pong"


def test_too_many_turns_at_once(upstream: FakeUpstream) -> None:
    upstream.add("slow", Scenario(steps=[Send(sse(chunk("", role="assistant"))), Stall()]))
    with (
        serve(openai_base_url=upstream.base_url, max_turns_per_socket=2) as running,
        Client(running.ws) as client,
    ):
        client.start("a", model="slow", ref="a")
        client.start("b", model="slow", ref="b")
        client.send({"type": "start", "ref": "c", "model": "slow", "text": "c"})
        error = client.error()
        assert (error["code"], error["ref"]) == ("too_many_turns", "c")


def test_a_stalled_reader_is_dropped_and_others_are_served(upstream: FakeUpstream) -> None:
    # Far more than socket buffers hold, as fast as loopback goes.
    line = sse(chunk("lorem ipsum dolor sit amet " * 40 + "\n\n"))
    steps = [Send(sse(chunk("", role="assistant"))), *[Send(line * 50) for _ in range(100)], Send(DONE)]
    upstream.add("firehose", Scenario(steps=steps))
    upstream.add("m", Scenario(steps=stream_text("others are served")))
    with serve(openai_base_url=upstream.base_url, send_timeout=1.0) as running:
        tiny = socket.create_connection(("127.0.0.1", running.port))
        tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        # A client that never reads: once its queue and socket buffer are full, sends block.
        stalled = Client(running.ws, max_queue=1, max_size=None, sock=tiny, close_timeout=0.5)
        stalled.send({"type": "start", "ref": "s", "model": "firehose", "text": "x"})
        with Client(running.ws) as bystander:
            turn = bystander.start("hi", model="m")
            assert text_of(bystander.until_end(turn)) == "others are served"
        # The server gives up on it (the close frame itself is stuck behind the unread data,
        # so the client may never see it): nothing more is queued for that socket.
        deadline = time.monotonic() + 20
        while not any("took no frame" in line for line in running.log):
            assert time.monotonic() < deadline, running.log
            time.sleep(0.05)
        # Gone for good, as such a client goes: a reset, not a close handshake it cannot do.
        tiny.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        tiny.close()
        stalled.close()


def test_foreign_origin_is_refused_with_403() -> None:
    with serve(allowed_origins=("https://partner.example",)) as running:
        with pytest.raises(InvalidStatus) as refused:
            Client(running.ws, origin="https://evil.example")
        assert refused.value.response.status_code == 403
        with pytest.raises(InvalidStatus):
            Client(running.ws, origin="null")
        Client(running.ws, origin=running.http).close()  # same origin
        Client(running.ws, origin="https://partner.example").close()  # configured extra


def test_api_key_never_reaches_the_browser(upstream: FakeUpstream) -> None:
    upstream.add("m", Scenario(steps=stream_text("fine")))
    upstream.add("bad", error_json(401, f"Incorrect API key provided: {SECRET}. Also sk-proj-****cdef."))
    with serve(openai_base_url=upstream.base_url, openai_api_key=SECRET) as running:
        seen = []
        for path in ("/", "/api/models", "/static/app.js", "/assets/highlight.css", "/healthz"):
            seen.append(httpx.get(running.http + path).text)
        with Client(running.ws) as client:
            seen.append(json.dumps(client.hello))
            for model in ("m", "bad"):
                turn = client.start("hi", model=model, ref=model)
                frames = client.until_end(turn)
                seen.extend(json.dumps(f) for f in frames)
        assert frames[-1]["error"]["status"] == 401
        assert "[redacted]" in frames[-1]["error"]["message"]
        for text in seen:
            assert SECRET not in text
            assert "sk-proj-" not in text
        # ... while the upstream did get it.
        assert upstream.wait_for_request("m").headers["authorization"] == f"Bearer {SECRET}"
        assert all(SECRET not in line for line in running.log)


def test_pages_carry_a_strict_content_security_policy() -> None:
    with serve() as running:
        response = httpx.get(running.http + "/")
        csp = response.headers["content-security-policy"]
        assert "unsafe-inline" not in csp
        assert "script-src 'self'" in csp
        assert "img-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "<script>" not in response.text
        assert " style=" not in response.text


def test_dns_rebinding_is_refused_on_loopback() -> None:
    """A page on evil.example whose name now resolves to 127.0.0.1 sends Host: evil.example."""
    with serve() as running:
        assert httpx.get(running.http + "/", headers={"Host": "evil.example"}).status_code == 400
        assert raw_handshake(running.port, host="evil.example", origin="http://evil.example") == 400
        assert raw_handshake(running.port, host=f"127.0.0.1:{running.port}", origin=running.http) == 101
        assert httpx.get(f"http://localhost:{running.port}/").status_code == 200
        assert httpx.get(running.http + "/").status_code == 200


def test_allowed_hosts_can_be_configured() -> None:
    with serve(allowed_hosts=("chat.example.com",)) as running:
        assert httpx.get(running.http + "/", headers={"Host": "chat.example.com"}).status_code == 200
        assert httpx.get(running.http + "/", headers={"Host": "evil.example"}).status_code == 400


def raw_handshake(port: int, *, host: str, origin: str) -> int:
    """The status of a WebSocket handshake sent with exactly these Host and Origin headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(
            (
                "GET /ws HTTP/1.1\r\n"
                f"Host: {host}\r\nOrigin: {origin}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])
