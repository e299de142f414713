"""The event loop the server runs on: uvloop, accepting every pending connection at once (edge).

libuv accepts one connection per turn of the event loop (libuv#3696: "don't accept() in a
loop"), and so does uvloop on top of it. That is fine on an idle server and a collapse on a
busy one: with 1,000 answers streaming, a turn of the loop takes tens of milliseconds, so new
sockets were accepted at ~30 a second and a burst of a few hundred browsers waited in the
kernel's accept queue for up to 16 s (measured with benchmarks/bridge.py). asyncio's own
loop accepts up to ``backlog`` connections per turn; this loop does the same for the servers
uvicorn creates on a listening socket, and is uvloop in everything else.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable
from typing import Any

import uvloop

# Out of file descriptors: stop accepting for a moment (as asyncio does) instead of spinning.
_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_RETRY_AFTER = 1.0


class Loop(uvloop.Loop):
    async def create_server(  # type: ignore[override]
        self,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        host: Any = None,
        port: Any = None,
        *,
        sock: socket.socket | None = None,
        backlog: int = 100,
        ssl: Any = None,
        **options: Any,
    ) -> asyncio.AbstractServer:
        if sock is None or ssl is not None or options or sock.type != socket.SOCK_STREAM:
            return await super().create_server(
                protocol_factory, host, port, sock=sock, backlog=backlog, ssl=ssl, **options
            )
        return BatchServer(self, protocol_factory, sock, backlog)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The loop factory uvicorn is given (``loop="server.listener:new_event_loop"``)."""
    return Loop()


class BatchServer(asyncio.AbstractServer):
    """A server on a listening socket that accepts up to ``backlog`` connections per turn."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        protocol_factory: Callable[[], asyncio.BaseProtocol],
        sock: socket.socket,
        backlog: int,
    ) -> None:
        self._loop = loop
        self._factory = protocol_factory
        self._sock = sock
        self._backlog = max(1, backlog)
        self._serving = False
        self._closed = asyncio.Event()
        self._pending: set[asyncio.Task[Any]] = set()
        sock.setblocking(False)
        sock.listen(self._backlog)
        self._start()

    def _start(self) -> None:
        if not self._serving and not self._closed.is_set():
            self._serving = True
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(self._backlog):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in _RESOURCE_ERRORS:
                    self._loop.remove_reader(self._sock.fileno())
                    self._serving = False
                    self._loop.call_later(_RETRY_AFTER, self._start)
                    return
                continue  # ECONNABORTED and the like: that one client is gone
            conn.setblocking(False)
            if conn.family in (socket.AF_INET, socket.AF_INET6):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self._loop.create_task(self._loop.connect_accepted_socket(self._factory, conn))
            self._pending.add(task)
            task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[Any]) -> None:
        self._pending.discard(task)
        if not task.cancelled():
            task.exception()  # a client gone while its socket was set up: nothing to report

    # ------------------------------------------------------------ asyncio.AbstractServer

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return () if self._closed.is_set() else (self._sock,)

    def close(self) -> None:
        if self._closed.is_set():
            return
        if self._serving:
            self._loop.remove_reader(self._sock.fileno())
            self._serving = False
        self._closed.set()
        self._sock.close()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def is_serving(self) -> bool:
        return self._serving

    async def start_serving(self) -> None:
        self._start()

    async def serve_forever(self) -> None:
        self._start()
        await self._closed.wait()

    async def __aenter__(self) -> BatchServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()
