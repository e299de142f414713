"""HTTP/1.1 under the upstream ``httpx.AsyncClient``: asyncio protocols and llhttp (edge).

httpx stays the client: it builds requests, adds headers, decodes ``Content-Encoding``, applies
timeouts and raises its own exceptions. This module replaces only the wire underneath it, because
that is where a streaming bridge spends its CPU. A model streams one token per network read, and
httpx's default stack (httpcore, h11, anyio) costs 88-95 µs of CPU per read on this project's
2-core machine, against 25-35 µs through this transport's push path, which is the floor of a bare
asyncio protocol (docs/architecture.md has the measurement and the command): at 1,000 streams of
25 tokens/s, the default stack alone needs more than two cores.

Each connection is a plain ``asyncio.Protocol``; responses are parsed in C by llhttp through
httptools (which uvicorn already uses for its own HTTP). The read timeout is one timer per
connection, re-armed only when it fires early, rather than a timer per read.

Scope, which is what the upstream client has always used: HTTP/1.1 over TCP or TLS, keep-alive
pooling per origin, connect/read/write/pool timeouts. No proxies (the client has
``trust_env=False``), no HTTP/2.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import httptools
import httpx

Origin = tuple[str, str, int]

# Body bytes a connection buffers before it stops reading from the socket: a consumer slower
# than the upstream holds the upstream back instead of growing this process's memory.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
KEEPALIVE_EXPIRY = 4.0  # below uvicorn's and most servers' 5 s, so we close first
PUMP = "inkstream.pump"  # the response extension that holds its ResponseStream


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and the response being read on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.keep_alive = False
        self.idle_since = 0.0
        self._busy = False  # a request is in flight
        self._parser: httptools.HttpResponseParser | None = None
        self._head_only = False
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.headers_done = False
        self.complete = False
        self.received_any = False
        self.error: httpx.TransportError | None = None
        self._informational = False
        self._length_known = False
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._reading_paused = False
        self._waiter: asyncio.Future[None] | None = None
        self._last_read = 0.0
        self._timeout: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._write_paused = False
        self._drained: asyncio.Future[None] | None = None
        # Push mode (ResponseStream.pump): body bytes go to the sink from data_received itself.
        self._sink: Callable[[bytes], bool] | None = None
        self.sink_error: Exception | None = None
        self.sink_stopped = False

    # ------------------------------------------------------------------ asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None or not self._busy:
            # Bytes nobody asked for (on an idle keep-alive connection): it cannot be reused.
            self._fail(httpx.RemoteProtocolError("The server sent data without a request."))
            self.close()
            return
        self.received_any = True
        self._last_read = self.loop.time()
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("The server switched protocols unasked."))
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"The server sent malformed HTTP: {error}"))
        sink = self._sink
        if sink is not None:
            if self._chunks:
                try:
                    stop = sink(self.take())
                except Exception as error:
                    self.sink_error = error
                    stop = True
                if stop:
                    self.sink_stopped = True
                    self._sink = None
            # The body went to the sink: the reader waits only for the end (a task switch per
            # read is what push mode saves).
            if self.complete or self.error is not None or self.sink_stopped:
                self._wake()
            return
        if self._buffered > HIGH_WATER and not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool | None:
        self._ended(None)
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ended(exc)
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # ------------------------------------------------------------------ llhttp callbacks

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))
        lowered = name.lower()
        if lowered in (b"content-length", b"transfer-encoding"):
            self._length_known = True

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # An interim response (100 Continue, 103 Early Hints): the real one follows.
            self._informational = True
            self.headers = []
            self.reason = b""
            self._length_known = False
            return
        self._informational = False
        self.status = status
        self.headers_done = True
        if self._head_only:
            self.complete = True

    def on_body(self, body: bytes) -> None:
        if self._head_only:
            return
        self._chunks.append(body)
        self._buffered += len(body)

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        self.complete = True
        assert self._parser is not None
        self.keep_alive = self._parser.should_keep_alive() and not self._head_only

    # ------------------------------------------------------------------ used by the transport

    def begin(self, method: bytes, read_timeout: float | None) -> None:
        """Get ready to read the response to a request about to be written."""
        self._busy = True
        self._parser = httptools.HttpResponseParser(self)
        self._head_only = method == b"HEAD"
        self.status = 0
        self.reason = b""
        self.headers = []
        self.headers_done = False
        self.complete = False
        self.received_any = False
        self.keep_alive = False
        self._length_known = False
        self._chunks.clear()
        self._buffered = 0
        self._timeout = read_timeout
        self._last_read = self.loop.time()

    def set_sink(self, sink: Callable[[bytes], bool] | None) -> None:
        self._sink = sink
        self.sink_error = None
        self.sink_stopped = False

    def finish(self) -> None:
        """The response is read, or abandoned."""
        self._sink = None
        self._busy = False
        self._parser = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.idle_since = self.loop.time()

    def usable(self, now: float) -> bool:
        """An idle connection that can carry another request."""
        return (
            not self.closed
            and self.error is None
            and self.transport is not None
            and not self.transport.is_closing()
            and now - self.idle_since < KEEPALIVE_EXPIRY
        )

    async def write(self, data: bytes, timeout: float | None) -> None:  # noqa: ASYNC109
        if self.closed or self.transport is None or self.transport.is_closing():
            raise httpx.WriteError("The connection to the upstream is closed.")
        self.transport.write(data)
        if self._write_paused:
            self._drained = self.loop.create_future()
            try:
                await asyncio.wait_for(self._drained, timeout)
            except TimeoutError:
                raise httpx.WriteTimeout("Timed out writing the request to the upstream.") from None
            finally:
                self._drained = None
            if self.closed:
                raise httpx.WriteError("The upstream closed the connection while the request was sent.")

    def take(self) -> bytes:
        """Body bytes received so far (possibly none)."""
        chunks = self._chunks
        if not chunks:
            return b""
        data = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self._buffered = 0
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        return data

    async def wait(self) -> None:
        """Until more of the response arrives, it ends, or the read timeout passes."""
        if self.error is not None:
            raise self.error
        if self._timeout is not None and self._timer is None:
            self._timer = self.loop.call_at(self._last_read + self._timeout, self._check_idle)
        waiter = self._waiter = self.loop.create_future()
        try:
            await waiter
        finally:
            self._waiter = None
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self.closed = True

    # ------------------------------------------------------------------ internals

    def _check_idle(self) -> None:
        self._timer = None
        if not self._busy or self._timeout is None:
            return
        due = self._last_read + self._timeout
        if self.loop.time() >= due:
            if self._waiter is not None:
                self._fail(httpx.ReadTimeout("Timed out waiting for the upstream."))
                self._wake()
        else:
            self._timer = self.loop.call_at(due, self._check_idle)

    def _ended(self, exc: Exception | None) -> None:
        if self._busy and not self.complete and self.error is None:
            if exc is not None:
                self._fail(httpx.ReadError(f"The connection to the upstream broke: {exc}"))
            elif self.headers_done and not self._length_known:
                # No Content-Length and not chunked: the body ends where the connection does.
                self.complete = True
            elif self.headers_done:
                self._fail(httpx.RemoteProtocolError("The upstream closed the connection mid-body."))
            else:
                self._fail(httpx.RemoteProtocolError("The upstream closed the connection without answering."))
        self.keep_alive = False
        self._wake()

    def _fail(self, error: httpx.TransportError) -> None:
        if self.error is None:
            self.error = error

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class ResponseStream(httpx.AsyncByteStream):
    def __init__(self, transport: StreamingTransport, connection: _Connection, origin: Origin) -> None:
        self._transport = transport
        self._connection = connection
        self._origin = origin
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        connection = self._connection
        try:
            while True:
                data = connection.take()
                if data:
                    yield data
                    continue
                if connection.complete:
                    break
                await connection.wait()
        except BaseException:
            self._release(reuse=False)
            raise
        self._release(reuse=connection.keep_alive)

    async def pump(self, sink: Callable[[bytes], bool]) -> bool:
        """Hand the body to ``sink`` as it arrives, called from the connection's own network
        callback: no task switch and no async iteration per read, which is most of what a
        pulled chunk costs. ``sink`` returns True to stop reading early; so does ``pump``.
        An exception ``sink`` raises ends the response and comes out of ``pump``."""
        connection = self._connection
        try:
            data = connection.take()
            if data and sink(data):
                self._release(reuse=False)
                return True
            connection.set_sink(sink)
            while True:
                if connection.sink_error is not None:
                    raise connection.sink_error
                if connection.sink_stopped:
                    self._release(reuse=False)
                    return True
                if connection.complete:
                    self._release(reuse=connection.keep_alive)
                    return False
                await connection.wait()
        except BaseException:
            self._release(reuse=False)
            raise

    async def aclose(self) -> None:
        self._release(reuse=self._connection.complete and self._connection.keep_alive)

    def _release(self, *, reuse: bool) -> None:
        if not self._released:
            self._released = True
            self._transport.release(self._origin, self._connection, reuse=reuse)


class StreamingTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport: HTTP/1.1 with keep-alive, for ``http`` and ``https`` URLs."""

    def __init__(
        self,
        *,
        max_connections: int,
        max_keepalive: int,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._max_keepalive = max_keepalive
        self._ssl_context = ssl_context
        self._idle: dict[Origin, list[_Connection]] = {}
        self._idle_count = 0
        self._open = 0
        self._slots: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Only http and https URLs are supported, not {scheme!r}.")
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        origin: Origin = (scheme, request.url.host, request.url.port or (443 if scheme == "https" else 80))
        head, body, chunked = await _serialise(request)
        for attempt in range(2):
            connection, reused = await self._acquire(origin, timeouts)
            try:
                return await self._exchange(connection, origin, request, head, body, chunked, timeouts)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                # A kept-alive connection the server closed just as we reused it: nothing of
                # the request was processed, so it may go again, once, on a new connection.
                if reused and attempt == 0 and not connection.received_any:
                    continue
                raise
        raise AssertionError("unreachable")

    async def _exchange(
        self,
        connection: _Connection,
        origin: Origin,
        request: httpx.Request,
        head: bytes,
        body: list[bytes],
        chunked: bool,
        timeouts: dict[str, Any],
    ) -> httpx.Response:
        try:
            connection.begin(request.method.encode("ascii"), timeouts.get("read"))
            write_timeout = timeouts.get("write")
            if chunked:
                await connection.write(head, write_timeout)
                for part in body:
                    if part:
                        await connection.write(b"%x\r\n%s\r\n" % (len(part), part), write_timeout)
                await connection.write(b"0\r\n\r\n", write_timeout)
            else:
                await connection.write(head + b"".join(body), write_timeout)
            while not connection.headers_done:
                await connection.wait()
        except BaseException:
            self.release(origin, connection, reuse=False)
            raise
        stream = ResponseStream(self, connection, origin)
        return httpx.Response(
            connection.status,
            headers=connection.headers,
            stream=stream,
            # The client wraps the stream; this is how its owner finds pump() again.
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": connection.reason.strip(),
                PUMP: stream,
            },
        )

    async def _acquire(self, origin: Origin, timeouts: dict[str, Any]) -> tuple[_Connection, bool]:
        loop = asyncio.get_running_loop()
        pool_timeout = timeouts.get("pool")
        deadline = None if pool_timeout is None else loop.time() + pool_timeout
        while True:
            idle = self._idle.get(origin)
            now = loop.time()
            while idle:
                connection = idle.pop()
                self._idle_count -= 1
                if connection.usable(now):
                    return connection, True
                self._discard(connection)
            if self._open < self._max_connections:
                break
            if self._idle_count:
                # Room is held by idle connections to other origins: close the oldest.
                self._close_one_idle()
                continue
            slot = loop.create_future()
            self._slots.append(slot)
            try:
                await asyncio.wait_for(slot, None if deadline is None else max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise httpx.PoolTimeout("No upstream connection became free in time.") from None
            finally:
                if slot in self._slots:
                    self._slots.remove(slot)
        self._open += 1
        try:
            return await self._connect(origin, timeouts.get("connect")), False
        except BaseException:
            self._open -= 1
            self._free_slot()
            raise

    async def _connect(self, origin: Origin, timeout: float | None) -> _Connection:  # noqa: ASYNC109
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        context = None
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()
            context = self._ssl_context
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop),
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context else None,
                ),
                timeout,
            )
        except TimeoutError:
            raise httpx.ConnectTimeout(f"Timed out connecting to {host}:{port}.") from None
        except (OSError, ssl.SSLError) as error:
            raise httpx.ConnectError(f"Could not connect to {host}:{port}: {error}") from None
        return connection

    def release(self, origin: Origin, connection: _Connection, *, reuse: bool) -> None:
        connection.finish()
        if (
            reuse
            and not self._closed
            and self._idle_count < self._max_keepalive
            and connection.usable(connection.idle_since)
        ):
            self._idle.setdefault(origin, []).append(connection)
            self._idle_count += 1
            self._free_slot()  # a request waiting for this origin may take it
            return
        self._discard(connection)

    def _discard(self, connection: _Connection) -> None:
        connection.close()
        self._open -= 1
        self._free_slot()

    def _free_slot(self) -> None:
        while self._slots:
            slot = self._slots.popleft()
            if not slot.done():
                slot.set_result(None)
                return

    def _close_one_idle(self) -> None:
        oldest: tuple[float, Origin, _Connection] | None = None
        for origin, connections in self._idle.items():
            if connections and (oldest is None or connections[0].idle_since < oldest[0]):
                oldest = (connections[0].idle_since, origin, connections[0])
        if oldest is not None:
            self._idle[oldest[1]].remove(oldest[2])
            self._idle_count -= 1
            self._discard(oldest[2])

    async def aclose(self) -> None:
        self._closed = True
        for connections in self._idle.values():
            for connection in connections:
                self._discard(connection)
        self._idle.clear()
        self._idle_count = 0


async def _serialise(request: httpx.Request) -> tuple[bytes, list[bytes], bool]:
    """The request head, its body parts, and whether they go chunked."""
    url = request.url
    lines = [request.method.encode("ascii"), b" ", url.raw_path or b"/", b" HTTP/1.1\r\n"]
    chunked = False
    for name, value in request.headers.raw:
        if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
            chunked = True
        lines += [name, b": ", value, b"\r\n"]
    lines.append(b"\r\n")
    body = [part async for part in request.stream]  # type: ignore[union-attr]
    return b"".join(lines), body, chunked
