"""A TCP server on 127.0.0.1 whose every byte a test writes by hand, for testing an HTTP client.

It runs its own event loop in a daemon thread; each connection is handed to the test's
``handler(reader, writer)`` coroutine. ``connections`` counts the connections accepted, so a test
can tell whether a client reused one.

    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok")

    with RawServer(handler) as server:
        ...  # http://127.0.0.1:{server.port}/
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from types import TracebackType

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """One request: its request line, headers (lower-cased names) and body (Content-Length or
    chunked)."""
    line = await reader.readline()
    if not line:
        raise ConnectionResetError("the client closed the connection")
    headers: dict[bytes, bytes] = {}
    while True:
        header = await reader.readline()
        if header in (b"\r\n", b"\n", b""):
            break
        name, _, value = header.partition(b":")
        headers[name.strip().lower()] = value.strip()
    body = b""
    if headers.get(b"transfer-encoding") == b"chunked":
        while True:
            size = int((await reader.readline()).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    elif b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    return line.strip(), headers, body


class RawServer:
    def __init__(self, handler: Handler, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._handler = handler
        self._ssl = ssl_context
        self.connections = 0
        self.port = 0
        self.errors: list[BaseException] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def __enter__(self) -> RawServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        if kind is None and self.errors:
            raise AssertionError(f"the test server's handler failed: {self.errors!r}")

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        # TLS is started inside _serve rather than by the server, so a connection whose handshake
        # fails is still one of ours to close: asyncio's server on 3.11 would drop it unclosed.
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self._ssl is not None:
                await writer.start_tls(self._ssl)
            await self._handler(reader, writer)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client left: what a test about clients leaving expects
        except Exception as error:
            self.errors.append(error)
        except asyncio.CancelledError:
            pass  # the server is stopping
        finally:
            self._writers.discard(writer)
            self._tasks.discard(task)
            writer.close()

    async def _stop(self) -> None:
        assert self._server is not None
        self._server.close()
        # A connection accepted just now has a task that hasn't started; cancelled before its
        # first step, it would skip its cleanup and leak the socket. Let it register first.
        await asyncio.sleep(0)
        # Connections still open when the test ends are cut, not closed: a TLS close would wait
        # for the client's answer, and it may be gone.
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        # Closed transports close their sockets in callbacks already queued; run them before the
        # loop closes, or the sockets leak as ResourceWarnings in whichever test collects them.
        for _ in range(3):
            await asyncio.sleep(0)
