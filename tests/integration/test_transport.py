"""server/transport.py: httpx over asyncio and llhttp, against a server that writes every byte
by hand (keep-alive, stale connections, each way a body can end, timeouts, the pool, TLS)."""

from __future__ import annotations

import asyncio
import gc
import gzip
import ssl
import subprocess
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from server.upstream.connection import HIGH_WATER, Connection
from server.upstream.transport import PUMP, ResponseStream, StreamingTransport
from tests.support.raw_http import RawServer, read_request

T = TypeVar("T")
Reader = asyncio.StreamReader
Writer = asyncio.StreamWriter


def client(**options: Any) -> httpx.AsyncClient:
    timeout = options.pop("timeout", httpx.Timeout(5.0))
    transport = StreamingTransport(
        max_connections=options.pop("max_connections", 10),
        max_keepalive=options.pop("max_keepalive", 10),
        ssl_context=options.pop("ssl_context", None),
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)


def run(body: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(body(), 20))  # type: ignore[arg-type]


def ok(body: bytes = b"ok", *extra: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n" % len(body)
    return head + b"".join(h + b"\r\n" for h in extra) + b"\r\n" + body


CHUNKED = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts)


# ------------------------------------------------------------------ keep-alive


def test_keep_alive_reuses_one_connection() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        while True:
            line, _, body = await read_request(reader)
            writer.write(ok(line.split()[1] + b" " + body))

    async def body(server: RawServer) -> list[str]:
        async with client() as http:
            first = await http.post(server.url + "/a?x=1", content=b"one")
            second = await http.get(server.url + "/b")
            return [first.text, second.text]

    with RawServer(handler) as server:
        assert run(lambda: body(server)) == ["/a?x=1 one", "/b "]
        assert server.connections == 1


def test_connection_close_is_not_reused() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(ok(b"bye", b"connection: close"))

    async def body(server: RawServer) -> None:
        async with client() as http:
            for _ in range(2):
                assert (await http.get(server.url)).text == "bye"

    with RawServer(handler) as server:
        run(lambda: body(server))
        assert server.connections == 2


def test_an_idle_connection_the_server_closed_is_not_used() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(ok())
        await writer.drain()
        # Keep-alive was promised, but the server closes right after answering.

    async def body(server: RawServer) -> None:
        async with client() as http:
            assert (await http.get(server.url)).text == "ok"
            await asyncio.sleep(0.1)  # the close reaches the client while the connection idles
            assert (await http.get(server.url)).text == "ok"

    with RawServer(handler) as server:
        run(lambda: body(server))
        assert server.connections == 2


def test_a_reused_connection_closed_before_any_answer_is_retried_once() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(ok(b"first"))
        await writer.drain()
        await read_request(reader)  # the second request arrives... and the server hangs up

    async def body(server: RawServer) -> str:
        async with client() as http:
            await http.get(server.url)
            return (await http.get(server.url)).text

    with RawServer(handler) as server:
        assert run(lambda: body(server)) == "first"
        assert server.connections == 2


def test_a_new_connection_closed_before_any_answer_is_an_error() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)

    async def body(server: RawServer) -> None:
        async with client() as http:
            await http.get(server.url)

    with RawServer(handler) as server, pytest.raises(httpx.RemoteProtocolError, match="without answering"):
        run(lambda: body(server))


# ------------------------------------------------------------------ how a body ends


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (ok(b"hello world"), b"hello world"),
        (CHUNKED + chunked(b"hello ", b"world") + b"0\r\n\r\n", b"hello world"),
        # Trailers after the last chunk are allowed and ignored.
        (CHUNKED + chunked(b"hi") + b"0\r\nx-t: 1\r\n\r\n", b"hi"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", b""),
        # Interim responses come before the real one and are skipped.
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + ok(b"late"),
         b"late"),
    ],
)  # fmt: skip
def test_bodies(response: bytes, expected: bytes) -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        for piece in (response[:7], response[7:30], response[30:]):  # split anywhere
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        await read_request(reader)

    async def body(server: RawServer) -> bytes:
        async with client() as http:
            return (await http.get(server.url)).content

    with RawServer(handler) as server:
        assert run(lambda: body(server)) == expected


def test_a_body_that_ends_with_the_connection() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nall of ")
        await writer.drain()
        writer.write(b"it")

    async def body(server: RawServer) -> tuple[str, str]:
        async with client() as http:
            response = await http.get(server.url)
            return response.text, response.http_version

    with RawServer(handler) as server:
        assert run(lambda: body(server)) == ("all of it", "HTTP/1.1")


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunked(b"half"),
        b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort",
    ],
)
def test_a_body_cut_short_is_a_protocol_error(response: bytes) -> None:
    received: list[bytes] = []

    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(response)

    async def body(server: RawServer) -> None:
        async with client() as http, http.stream("GET", server.url) as streamed:
            async for chunk in streamed.aiter_raw():
                received.append(chunk)

    with RawServer(handler) as server, pytest.raises(httpx.RemoteProtocolError, match="mid-body"):
        run(lambda: body(server))
    assert b"".join(received) in (b"half", b"short")  # what came is handed over first


def test_a_reset_is_a_read_error() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + chunked(b"x"))
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()  # type: ignore[attr-defined]

    async def body(server: RawServer) -> None:
        async with client() as http, http.stream("GET", server.url) as streamed:
            async for _ in streamed.aiter_raw():
                pass

    with RawServer(handler) as server, pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        run(lambda: body(server))


def test_garbage_is_a_protocol_error() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")

    async def body(server: RawServer) -> None:
        async with client() as http:
            await http.get(server.url)

    with RawServer(handler) as server, pytest.raises(httpx.RemoteProtocolError, match="malformed"):
        run(lambda: body(server))


def test_gzip_is_decoded_by_httpx_on_top() -> None:
    packed = gzip.compress(b"compressed " * 100)

    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(ok(packed, b"content-encoding: gzip"))

    async def body(server: RawServer) -> bytes:
        async with client() as http:
            return (await http.get(server.url)).content

    with RawServer(handler) as server:
        assert run(lambda: body(server)) == b"compressed " * 100


def test_a_chunked_request_body_is_sent_chunked() -> None:
    seen: list[bytes] = []

    async def handler(reader: Reader, writer: Writer) -> None:
        _, headers, sent = await read_request(reader)
        seen.append(headers.get(b"transfer-encoding", b""))
        writer.write(ok(sent))

    async def parts() -> AsyncIterator[bytes]:
        yield b"one "
        yield b""
        yield b"two"

    async def body(server: RawServer) -> bytes:
        async with client() as http:
            return (await http.post(server.url, content=parts())).content

    with RawServer(handler) as server:
        assert run(lambda: body(server)) == b"one two"
    assert seen == [b"chunked"]


# ------------------------------------------------------------------ timeouts, connect, pool


def test_read_timeout_between_chunks_and_not_before() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(4):  # each gap shorter than the timeout: fine
            await writer.drain()
            await asyncio.sleep(0.15)
            writer.write(chunked(b"tick "))
        await writer.drain()
        await asyncio.sleep(5)  # then silence

    got: list[bytes] = []

    async def body(server: RawServer) -> float:
        loop = asyncio.get_running_loop()
        async with client(timeout=httpx.Timeout(5.0, read=0.4)) as http:
            async with http.stream("GET", server.url) as streamed:
                started = loop.time()
                try:
                    async for chunk in streamed.aiter_raw():
                        got.append(chunk)
                        started = loop.time()
                except httpx.ReadTimeout:
                    return loop.time() - started
        raise AssertionError("no timeout")

    with RawServer(handler) as server:
        waited = run(lambda: body(server))
    assert b"".join(got) == b"tick " * 4
    assert 0.35 <= waited < 1.5


def test_connection_refused_is_a_connect_error() -> None:
    with RawServer(read_request) as server:  # type: ignore[arg-type]
        port = server.port

    async def body() -> None:
        async with client() as http:
            await http.get(f"http://127.0.0.1:{port}/")

    with pytest.raises(httpx.ConnectError):
        run(body)


def test_only_http_and_https() -> None:
    async def body() -> None:
        async with client() as http:
            await http.get("ftp://127.0.0.1/")

    with pytest.raises(httpx.UnsupportedProtocol):
        run(body)


def test_the_pool_limit_waits_for_a_free_connection_then_times_out() -> None:
    gate = asyncio.Event()

    async def handler(reader: Reader, writer: Writer) -> None:
        while True:
            await read_request(reader)
            writer.write(ok())

    async def body(server: RawServer) -> None:
        async with client(max_connections=1, timeout=httpx.Timeout(5.0, pool=0.3)) as http:
            async with http.stream("GET", server.url):
                # The one connection is busy: a second request waits, then gives up.
                with pytest.raises(httpx.PoolTimeout):
                    await http.get(server.url)
            # Free again: served, on the same connection.
            waiting = asyncio.create_task(http.get(server.url))
            gate.set()
            assert (await waiting).text == "ok"

    with RawServer(handler) as server:
        run(lambda: body(server))
        assert server.connections == 1


def test_waiters_get_connections_as_they_free_up() -> None:
    async def handler(reader: Reader, writer: Writer) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.05)
            writer.write(ok())

    async def body(server: RawServer) -> list[int]:
        async with client(max_connections=2) as http:
            responses = await asyncio.gather(*(http.get(server.url) for _ in range(8)))
            return [r.status_code for r in responses]

    with RawServer(handler) as server:
        assert run(lambda: body(server)) == [200] * 8
        assert server.connections == 2


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


def test_tls(certificate: tuple[Path, Path]) -> None:
    key, cert = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    async def handler(reader: Reader, writer: Writer) -> None:
        while True:
            await read_request(reader)
            writer.write(ok(b"secret"))

    async def body(server: RawServer, context: ssl.SSLContext) -> str:
        async with client(ssl_context=context) as http:
            await http.get(server.url)
            return (await http.get(server.url)).text

    trusting = ssl.create_default_context(cafile=str(cert))
    with RawServer(handler, ssl_context=server_context) as server:
        assert run(lambda: body(server, trusting)) == "secret"
        assert server.connections == 1
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            run(lambda: body(server, ssl.create_default_context()))


def test_a_closed_client_leaves_no_socket_open_even_if_tls_shutdown_gets_no_answer(
    certificate: tuple[Path, Path],
) -> None:
    key, cert = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)

    async def handler(reader: Reader, writer: Writer) -> None:
        await read_request(reader)
        writer.write(ok())
        await writer.drain()
        writer.transport.pause_reading()  # our close_notify is never read, so never answered
        await asyncio.sleep(30)

    async def body(server: RawServer) -> float:
        loop = asyncio.get_running_loop()
        async with client(ssl_context=ssl.create_default_context(cafile=str(cert))) as http:
            await http.get(server.url)
            closing = loop.time()
        return loop.time() - closing

    with RawServer(handler, ssl_context=server_context) as server:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            took = run(lambda: body(server))
            gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert took < 2.0  # bounded: not asyncio's 30 s TLS shutdown timeout


# ------------------------------------------------------------------ push mode


def sse_server(
    parts: list[bytes], *, then: bytes = b"0\r\n\r\n"
) -> Callable[[Reader, Writer], Awaitable[None]]:
    async def handler(reader: Reader, writer: Writer) -> None:
        while True:
            await read_request(reader)
            writer.write(CHUNKED.replace(b"OK\r\n", b"OK\r\ncontent-type: text/event-stream\r\n"))
            for part in parts:
                writer.write(chunked(part))
                await writer.drain()
                await asyncio.sleep(0.01)
            if not then:
                return  # and the connection closes mid-body
            writer.write(then)

    return handler


async def pump(url: str, sink: Callable[[bytes], bool], http: httpx.AsyncClient | None = None) -> bool:
    own = http is None
    http = http or client()
    try:
        async with http.stream("GET", url) as response:
            stream = response.extensions[PUMP]
            assert isinstance(stream, ResponseStream)
            return await stream.pump(sink)
    finally:
        if own:
            await http.aclose()


def test_pump_hands_over_every_byte_as_it_arrives() -> None:
    got: list[bytes] = []

    def sink(data: bytes) -> bool:
        got.append(data)
        return False

    async def body(server: RawServer) -> tuple[bool, bool]:
        async with client() as http:
            first = await pump(server.url, sink, http)
            second = await pump(server.url, sink, http)  # the connection is reused after a full read
            return first, second

    with RawServer(sse_server([b"data: a\n\n", b"data: b\n\n", b"data: c\n\n"])) as server:
        assert run(lambda: body(server)) == (False, False)
        assert server.connections == 1
    assert b"".join(got) == b"data: a\n\ndata: b\n\ndata: c\n\n" * 2
    assert len(got) >= 4  # not one lump at the end


def test_pump_stops_when_the_sink_says_so_and_drops_the_connection() -> None:
    got: list[bytes] = []

    def sink(data: bytes) -> bool:
        got.append(data)
        return b"stop" in data

    async def body(server: RawServer) -> list[bool]:
        async with client() as http:
            return [await pump(server.url, sink, http) for _ in range(2)]

    with RawServer(sse_server([b"data: a\n\n", b"data: stop\n\n", b"data: never\n\n"])) as server:
        assert run(lambda: body(server)) == [True, True]
        assert server.connections == 2  # a half-read response cannot share its connection
    assert b"never" not in b"".join(got)


def test_an_exception_in_the_sink_comes_out_of_pump() -> None:
    class Refused(Exception):
        pass

    def sink(data: bytes) -> bool:
        raise Refused(data)

    with RawServer(sse_server([b"data: a\n\n", b"data: b\n\n"])) as server, pytest.raises(Refused):
        run(lambda: pump(server.url, sink))


def test_pump_reports_a_broken_stream() -> None:
    broken = sse_server([b"data: a\n\n"], then=b"")
    with RawServer(broken) as server, pytest.raises(httpx.RemoteProtocolError):
        run(lambda: pump(server.url, lambda data: False))


# ------------------------------------------------------------------ flow control


class _RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.paused = False
        self.pauses = 0

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False

    def is_closing(self) -> bool:
        return False


def test_a_slow_reader_stops_the_socket_rather_than_buffering_without_bound() -> None:
    async def body() -> None:
        connection = Connection(asyncio.get_running_loop())
        wire = _RecordingTransport()
        connection.connection_made(wire)
        connection.begin(b"GET", None)
        connection.data_received(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        piece = chunked(b"x" * 16384)
        fed = 0
        while not wire.paused:
            connection.data_received(piece)
            fed += 16384
            assert fed <= HIGH_WATER + 16384
        assert len(connection.take()) == fed
        assert not wire.paused  # reading again once the reader caught up

    run(body)
