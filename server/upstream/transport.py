"""HTTP/1.1 under the upstream ``httpx.AsyncClient``: asyncio protocols and llhttp (edge).

httpx stays the client: it builds requests, adds headers, decodes ``Content-Encoding``, applies
timeouts and raises its own exceptions. This module replaces only the wire underneath it, because
that is where a streaming bridge spends its CPU. A model streams one token per network read, and
httpx's default stack (httpcore, h11, anyio) costs 88-95 µs of CPU per read on this project's
2-core machine, against 25-35 µs through this transport's push path, which is the floor of a
bare asyncio protocol (``benchmarks/bridge.py --client`` measures each stack; docs/architecture.md
keeps the figures): at 1,000 streams of 25 tokens/s, the default stack alone needs more than
two cores.

This module is the pool: connections per origin (connection.py, one ``asyncio.Protocol`` each),
the pool limit and its waiters, keep-alive, one retry of a stale kept-alive request.

Scope, which is what the upstream client has always used: HTTP/1.1 over TCP or TLS, keep-alive
pooling per origin, connect/read/write/pool timeouts. No proxies (the client has
``trust_env=False``), no HTTP/2.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from .connection import Connection

Origin = tuple[str, str, int]

CLOSE_WAIT = 0.5  # seconds a closing client waits for each of its connections' sockets to close
PUMP = "inkstream.pump"  # the response extension that holds its ResponseStream


class ResponseStream(httpx.AsyncByteStream):
    def __init__(self, transport: StreamingTransport, connection: Connection, origin: Origin) -> None:
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
        self._idle: dict[Origin, list[Connection]] = {}
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
        connection: Connection,
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

    async def _acquire(self, origin: Origin, timeouts: dict[str, Any]) -> tuple[Connection, bool]:
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

    async def _connect(self, origin: Origin, timeout: float | None) -> Connection:  # noqa: ASYNC109
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
                    lambda: Connection(loop),
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

    def release(self, origin: Origin, connection: Connection, *, reuse: bool) -> None:
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

    def _discard(self, connection: Connection) -> None:
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
        oldest: tuple[float, Origin, Connection] | None = None
        for origin, connections in self._idle.items():
            if connections and (oldest is None or connections[0].idle_since < oldest[0]):
                oldest = (connections[0].idle_since, origin, connections[0])
        if oldest is not None:
            self._idle[oldest[1]].remove(oldest[2])
            self._idle_count -= 1
            self._discard(oldest[2])

    async def aclose(self) -> None:
        self._closed = True
        closing = [connection for connections in self._idle.values() for connection in connections]
        for connection in closing:
            self._discard(connection)
        self._idle.clear()
        self._idle_count = 0
        # A TLS connection closes only once the server answers our close_notify. Give it a
        # moment, then cut it: a socket must not outlive the client (nor its event loop).
        pending = [connection.lost for connection in closing if not connection.lost.done()]
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_WAIT)
            for connection in closing:
                connection.abort()
            pending = [lost for lost in pending if not lost.done()]
            if pending:
                await asyncio.wait(pending, timeout=CLOSE_WAIT)


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
