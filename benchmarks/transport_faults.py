"""Which exception each upstream fault surfaces as, per HTTP client stack.

    .venv/bin/python benchmarks/transport_faults.py [--clients httpx,httpx-aiohttp,transport,aiohttp]

server/upstream/client.py translates httpx's exceptions into ours by class (a ConnectTimeout
becomes "could not connect in time", a RemoteProtocolError "the upstream closed the
connection"), so a transport that raises the wrong class gives the user the wrong message. Each
fault is played by a small server on 127.0.0.1 (never anything else) and met by one request:

* refused: nothing listens on the port;
* hung up before answering: the server reads the request and closes;
* hung up mid-body: the server sends the head and one event, then closes;
* pool exhausted: one connection allowed, held by a stream; a second request waits for it
  (pool timeout 0.5 s);
* write stalled: the server never reads (it never even accepts); a 32 MB body must hit the
  write timeout (0.5 s);
* stale kept-alive POST: the server answers one request keeping the connection alive, then
  closes that connection when the next request arrives on it, without answering (the race of a
  server closing an idle connection just as it is reused); fresh connections are answered. A
  stack that retries on a new connection gets a 200.

``aiohttp`` (plain) raises its own classes, shown for comparison. Every case is bounded by
``--bound`` seconds (default 6); a case that ends in none is shown as "nothing after N s".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.upstream.transport import StreamingTransport

HOST = "127.0.0.1"
STACKS = ("httpx", "httpx-aiohttp", "transport", "aiohttp")
# Long where the fault must not be met by the wrong timeout first; short where it is the fault.
TIMEOUT = httpx.Timeout(connect=2.0, read=3.0, write=0.5, pool=0.5)
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"%x\r\ndata: {}\n\n\r\n" % len(b"data: {}\n\n")
)
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class FaultServer(asyncio.Protocol):
    """One connection of a fault server: ``behaviour`` decides what happens to each request."""

    def __init__(self, behaviour: str, state: dict[str, int]) -> None:
        self.behaviour = behaviour
        self.state = state
        self.buf = bytearray()
        self.requests = 0
        self.transport: asyncio.Transport | None = None
        self.ticker: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.state["connections"] += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip() == b"content-length":
                    length = int(value)
            if len(self.buf) < end + 4 + length:
                return
            del self.buf[: end + 4 + length]
            self.requests += 1
            self.answer()

    def answer(self) -> None:
        transport = self.transport
        assert transport is not None
        if self.behaviour == "hang-up":
            transport.close()
        elif self.behaviour == "hang-up-mid-body":
            transport.write(SSE_HEAD)
            transport.close()
        elif self.behaviour == "slow-stream":
            transport.write(SSE_HEAD)
            self.ticker = asyncio.get_running_loop().create_task(self.tick())
        elif self.behaviour == "stale" and self.requests >= 2:
            transport.close()
        else:
            transport.write(OK)

    async def tick(self) -> None:
        comment = b": tick\n\n"
        while self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"%x\r\n%s\r\n" % (len(comment), comment))
            await asyncio.sleep(0.2)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ticker is not None:
            self.ticker.cancel()


def client_for(stack: str, *, connections: int = 10) -> Any:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    if stack == "aiohttp":
        import aiohttp

        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=None, connect=0.5, sock_connect=2.0, sock_read=3.0),
        )
    transport: httpx.AsyncBaseTransport | None = None
    if stack == "httpx-aiohttp":
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=limits, trust_env=False)
    elif stack == "transport":
        transport = StreamingTransport(max_connections=connections, max_keepalive=connections)
    return httpx.AsyncClient(transport=transport, limits=limits, timeout=TIMEOUT, trust_env=False)


async def post(client: Any, url: str, body: bytes = b"{}") -> int:
    """One POST, body read whole; its status."""
    headers = {"Content-Type": "application/json"}
    if isinstance(client, httpx.AsyncClient):
        response = await client.post(url, content=body, headers=headers)
        return response.status_code
    async with client.post(url, data=body, headers=headers) as response:
        await response.read()
        return int(response.status)


async def serve(behaviour: str, state: dict[str, int]) -> tuple[asyncio.Server, str]:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: FaultServer(behaviour, state), HOST, 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://{HOST}:{port}/v1/chat/completions"


async def refused(stack: str, state: dict[str, int]) -> str:
    with socket.socket() as sock:  # a port that was free a moment ago, and nobody listens on
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    async with client_for(stack) as client:
        return f"{await post(client, f'http://{HOST}:{port}/')}"


def simple(behaviour: str) -> Callable[[str, dict[str, int]], Awaitable[str]]:
    async def case(stack: str, state: dict[str, int]) -> str:
        server, url = await serve(behaviour, state)
        async with server, client_for(stack) as client:
            return f"{await post(client, url)}"

    return case


async def pool_exhausted(stack: str, state: dict[str, int]) -> str:
    server, url = await serve("slow-stream", state)
    async with server, client_for(stack, connections=1) as client:
        if isinstance(client, httpx.AsyncClient):
            async with client.stream("POST", url, content=b"{}"):
                return f"{await post(client, url)}"
        # Not `async with`: leaving it waits for the endless body to end.
        holder = await client.post(url, data=b"{}")
        try:
            return f"{await post(client, url)}"
        finally:
            holder.close()


async def write_stalled(stack: str, state: dict[str, int]) -> str:
    # A socket that listens and never accepts: the kernel completes the handshake and takes
    # bytes until its buffers are full, then the client's writes stall.
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(8)
        url = f"http://{HOST}:{listener.getsockname()[1]}/v1/chat/completions"
        async with client_for(stack) as client:
            return f"{await post(client, url, b'x' * (32 * 2**20))}"


async def stale_keepalive(stack: str, state: dict[str, int]) -> str:
    server, url = await serve("stale", state)
    async with server, client_for(stack) as client:
        first = await post(client, url)
        await asyncio.sleep(0.1)
        second = await post(client, url)
        return f"{first}, then {second} ({state['connections']} connections)"


CASES: dict[str, Callable[[str, dict[str, int]], Awaitable[str]]] = {
    "refused": refused,
    "hung up before answering": simple("hang-up"),
    "hung up mid-body": simple("hang-up-mid-body"),
    "pool exhausted": pool_exhausted,
    "write stalled": write_stalled,
    "stale kept-alive POST": stale_keepalive,
}


def name_of(error: BaseException) -> str:
    package = type(error).__module__.split(".")[0]
    return f"{package}.{type(error).__name__}"


async def run_case(case: Callable[[str, dict[str, int]], Awaitable[str]], stack: str, bound: float) -> str:
    state = {"connections": 0}
    started = time.monotonic()
    # Not wait_for: aiohttp's timeouts are TimeoutErrors too, and must not read as the bound.
    task = asyncio.ensure_future(case(stack, state))
    await asyncio.wait({task}, timeout=bound)
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return f"nothing after {bound:g} s"
    try:
        outcome = task.result()
    except Exception as error:
        outcome = name_of(error)
    return f"{outcome} ({time.monotonic() - started:.1f} s)"


async def main_async(stacks: list[str], bound: float) -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for fault, case in CASES.items():
        table[fault] = {}
        for stack in stacks:
            table[fault][stack] = await run_case(case, stack, bound)
            print(f"  {fault}: {stack}: {table[fault][stack]}", file=sys.stderr, flush=True)
    return table


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--clients", default=",".join(STACKS), help="comma-separated, of " + ", ".join(STACKS)
    )
    parser.add_argument("--bound", type=float, default=6.0, help="seconds a case may take at most")
    args = parser.parse_args()
    stacks = [s.strip() for s in args.clients.split(",") if s.strip()]
    if any(s not in STACKS for s in stacks):
        parser.error(f"--clients: choose from {', '.join(STACKS)}")
    needs = {"aiohttp"} if {"aiohttp", "httpx-aiohttp"} & set(stacks) else set()
    needs |= {"httpx_aiohttp"} if "httpx-aiohttp" in stacks else set()
    missing = sorted(n for n in needs if importlib.util.find_spec(n) is None)
    if missing:
        print(
            f"{' and '.join(missing)} not installed; install the bench extra:\n"
            "  INKSTREAM_EXTRAS=test,bench sh .ci/setup   (or: .venv/bin/pip install -e '.[test,bench]')",
            file=sys.stderr,
        )
        return 2
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # as the server runs
    table = asyncio.run(main_async(stacks, args.bound))
    width = max(len(f) for f in table)
    cols = {s: max(len(s), *(len(table[f][s]) for f in table)) for s in stacks}
    head = f"{'fault':<{width}} | " + " | ".join(f"{s:<{cols[s]}}" for s in stacks)
    print(f"timeouts: connect 2 s, read 3 s, write 0.5 s, pool 0.5 s; each case bounded by {args.bound:g} s")
    print(head)
    print("-" * len(head))
    for fault, row in table.items():
        print(f"{fault:<{width}} | " + " | ".join(f"{row[s]:<{cols[s]}}" for s in stacks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
