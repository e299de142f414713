"""One HTTP/1.1 connection to the upstream as a plain ``asyncio.Protocol`` (edge).

Responses are parsed in C by llhttp through httptools (which uvicorn already uses for its own
HTTP). The read timeout is one timer per connection, re-armed only when it fires early, rather
than a timer per read. A body is either buffered for an iterator (``take``/``wait``) or pushed
to a sink from the network callback itself (push mode). The pool that owns connections is
transport.py.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import cast

import httptools
import httpx

# Body bytes a connection buffers before it stops reading from the socket: a consumer slower
# than the upstream holds the upstream back instead of growing this process's memory.
HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024
KEEPALIVE_EXPIRY = 4.0  # below uvicorn's and most servers' 5 s, so we close first


class Connection(asyncio.Protocol):
    """One TCP (or TLS) connection and the response being read on it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.lost: asyncio.Future[None] = loop.create_future()  # done once the socket is closed
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
        if not self.lost.done():
            self.lost.set_result(None)
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

    def abort(self) -> None:
        """Drop the socket now, without a TLS close_notify exchange."""
        if self.transport is not None and not self.lost.done():
            self.transport.abort()
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
