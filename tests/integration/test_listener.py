"""server/listener.py: the server's loop accepts every pending connection per turn of the loop,
where uvloop accepts one."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import TypeVar

import uvloop

from server.web.listener import BatchServer, Loop, new_event_loop

T = TypeVar("T")


class Counting(asyncio.Protocol):
    made = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        Counting.made += 1


def run(loop: asyncio.AbstractEventLoop, body: Callable[[], Awaitable[T]]) -> T:
    try:
        return loop.run_until_complete(asyncio.wait_for(body(), 20))  # type: ignore[arg-type]
    finally:
        loop.close()


def listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


def queued_clients(port: int, count: int) -> list[socket.socket]:
    """Clients whose connections wait in the kernel's accept queue (connect() returns once the
    handshake is done, before the server accepts)."""
    return [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]


async def turns_until(loop: asyncio.AbstractEventLoop, count: int, limit: int = 200) -> int:
    turns = 0
    while Counting.made < count and turns < limit:
        await asyncio.sleep(0)
        turns += 1
    return turns


def accept_turns(loop: asyncio.AbstractEventLoop) -> int:
    """Turns of the loop it takes to serve 60 connections already waiting to be accepted."""
    Counting.made = 0

    async def body() -> int:
        sock = listening()
        clients = queued_clients(sock.getsockname()[1], 60)
        server = await loop.create_server(Counting, sock=sock, backlog=512)
        try:
            return await turns_until(loop, 60)
        finally:
            server.close()
            await server.wait_closed()
            for client in clients:
                client.close()

    return run(loop, body)


def test_a_queue_of_connections_is_accepted_in_a_few_turns_not_one_per_turn() -> None:
    ours = accept_turns(new_event_loop())
    plain = accept_turns(uvloop.new_event_loop())
    assert Counting.made == 60
    assert ours <= 5
    assert plain >= 30  # what it fixes: uvloop (libuv) takes a turn per connection


def test_closing_stops_accepting() -> None:
    loop = new_event_loop()
    Counting.made = 0

    async def body() -> tuple[bool, bool, int]:
        sock = listening()
        port = sock.getsockname()[1]
        server = await loop.create_server(Counting, sock=sock)
        assert isinstance(server, BatchServer)
        serving = server.is_serving()
        first = queued_clients(port, 3)
        await turns_until(loop, 3)
        server.close()
        await server.wait_closed()
        refused = False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            refused = True
        for client in first:
            client.close()
        return serving, refused, Counting.made

    serving, refused, made = run(loop, body)
    assert serving
    assert refused
    assert made == 3


def test_other_servers_are_uvloop_s_own() -> None:
    loop = new_event_loop()
    assert isinstance(loop, Loop)

    async def body() -> bool:
        server = await loop.create_server(Counting, "127.0.0.1", 0)
        try:
            return not isinstance(server, BatchServer)
        finally:
            server.close()
            await server.wait_closed()

    assert run(loop, body)
