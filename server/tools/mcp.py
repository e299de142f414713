"""The tools of MCP servers (settings' ``mcp_servers``), kept in the registry while each is up.

Each server has a supervisor task: it connects (a command line over stdio, an http(s) URL over
streamable HTTP), lists the tools into the registry as source ``mcp:<name>``, then waits until
the connection ends: the process exits or the stream closes, or a call finds the connection
broken. Then the source is marked down (its tools leave the registry, the page says why) and
the server is started again after a wait that doubles from 1 s to 30 s. One server failing
never touches the others, nor the app: ``start`` waits a bounded time for the first listings
and goes on without the servers that are not up yet.

The SDK is anyio-based; supervisors are stopped through anyio cancel scopes rather than
``Task.cancel`` so the SDK's shielded shutdown (close stdin, wait, kill the process group)
always runs to the end and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import shlex
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

import anyio
import httpx2
import mcp_types as types
from mcp import Client, MCPError, StdioServerParameters, stdio_client
from mcp.client import Transport
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.message import SessionMessage
from mcp_types import CONNECTION_CLOSED

from ..settings import is_url
from .registry import Registry, Tool, ToolFailure

log = logging.getLogger("inkstream.tools.mcp")

FIRST_WAIT = 10.0  # seconds start() waits, in all, for the servers' first listings
CONNECT_TIMEOUT = 30.0  # a server that has not listed its tools by then is restarted
RETRY_FIRST = 1.0
RETRY_MAX = 30.0
MAX_PAGES = 100  # of tools/list: a server paginating forever cannot hang its start

State = Literal["up", "down", "starting"]
# What a broken connection looks like from a call, besides the SDK's CONNECTION_CLOSED error.
_BROKEN = (
    OSError,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    anyio.EndOfStream,
    httpx2.TransportError,
)


def _transport(target: str) -> Transport:
    if is_url(target):
        return streamable_http_client(target)
    words = shlex.split(target)
    if not words:
        raise ValueError("the command line is empty")
    return stdio_client(StdioServerParameters(command=words[0], args=words[1:]))


@dataclass(eq=False)
class _Link:
    """One connection to a server, and why it ended once it has."""

    client: Client | None = None
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    why: str = ""

    def lose(self, why: str) -> None:
        if not self.gone.is_set():  # the first reason is the real one; the rest are its echoes
            self.why = why
            self.gone.set()


@asynccontextmanager
async def _watched(inner: Transport, link: _Link, ended: str) -> AsyncIterator[Any]:
    """``inner``'s streams, but the end of its read stream also ends ``link``.

    The SDK's session notices EOF only by failing the requests in flight; nothing tells a
    caller that waits, so the messages are passed on through a stream of our own whose pump
    sees the end."""
    async with inner as (read, write):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def pump() -> None:
            try:
                async with send:
                    async for item in read:
                        await send.send(item)
                link.lose(ended)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass  # the session closed its end: we are leaving, not the server
            except Exception as error:
                link.lose(_describe(error))

        async with anyio.create_task_group() as group:
            group.start_soon(pump)
            try:
                async with receive:
                    yield receive, write
            finally:
                group.cancel_scope.cancel()


def _describe(error: BaseException) -> str:
    """A one-line reason, from the first real exception of an exception group."""
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, FileNotFoundError):
        return f"the command was not found: {error.filename or error}"
    if isinstance(error, TimeoutError):
        return f"it did not list its tools within {CONNECT_TIMEOUT:g} s"
    if isinstance(error, MCPError):
        return f"it answered with an error: {error.message}"
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _text(result: types.CallToolResult) -> str:
    """A result as the model reads it: text items, the others named, structure as JSON."""
    parts: list[str] = []
    has_text = False
    for block in result.content:
        if isinstance(block, types.TextContent):
            parts.append(block.text)
            has_text = True
        elif isinstance(block, types.ImageContent | types.AudioContent):
            parts.append(f"[{block.mime_type}]")
        elif isinstance(block, types.EmbeddedResource):
            contents = block.resource
            if isinstance(contents, types.TextResourceContents):
                parts.append(contents.text)
                has_text = True
            else:
                parts.append(f"[{contents.mime_type or 'resource'}: {contents.uri}]")
        else:
            parts.append(f"[resource link: {block.uri}]")
    if not has_text and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False, default=str))
    return "\n\n".join(parts)


class _Server:
    """One configured server: its supervisor's state and the connection calls go through."""

    def __init__(self, name: str, target: str, registry: Registry) -> None:
        self.name = name
        self.target = target
        self.source = f"mcp:{name}"
        self.registry = registry
        self.state: State = "starting"
        self.why = ""
        self.tools: list[str] = []
        self.link: _Link | None = None
        self.listed = asyncio.Event()  # the first attempt is over, up or down
        self.scope = anyio.CancelScope()
        self.task: asyncio.Task[None] | None = None

    async def supervise(self) -> None:
        with self.scope:
            delay = RETRY_FIRST
            while True:
                link = _Link()
                started = time.monotonic()
                try:
                    await self._serve(link)
                    why = link.why
                except Exception as error:
                    why = link.why or _describe(error)
                self.link = None
                if self.state == "up" and time.monotonic() - started >= RETRY_MAX:
                    delay = RETRY_FIRST  # it ran a good while: a new failure, not a crash loop
                self._down(why, delay)
                await anyio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)
                self.state = "starting"

    async def _serve(self, link: _Link) -> None:
        ended = "the server closed the connection" if is_url(self.target) else "its process exited"
        transport = _watched(_transport(self.target), link, ended)
        # One scope for the handshake and the listing, lifted once up: a deadline scope must
        # enclose the client's task groups whole, so it cannot wrap just the connect.
        with anyio.CancelScope(deadline=anyio.current_time() + CONNECT_TIMEOUT) as deadline:
            async with Client(transport, cache=None) as client:
                listing = await self._list(client)
                deadline.deadline = math.inf
                link.client = client
                self.link = link
                self.registry.replace_source(self.source, (self._tool(spec) for spec in listing))
                self.tools = [spec.name for spec in listing]
                self.state, self.why = "up", ""
                self.listed.set()
                log.info("MCP server %r is up: %s", self.name, ", ".join(self.tools) or "no tools")
                try:
                    await link.gone.wait()
                finally:
                    self.link = None
        if deadline.cancelled_caught:
            raise TimeoutError

    async def _list(self, client: Client) -> list[types.Tool]:
        tools: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return tools

    def _down(self, why: str, retry_in: float) -> None:
        was = self.state
        self.state, self.why, self.tools = "down", why, []
        self.registry.source_down(self.source, why)
        self.listed.set()
        verb = "stopped" if was == "up" else "did not start"
        log.warning("MCP server %r %s: %s (trying again in %g s)", self.name, verb, why, retry_in)

    def _tool(self, spec: types.Tool) -> Tool:
        name = spec.name

        async def call(arguments: dict[str, Any]) -> str:
            return await self.call(name, arguments)

        return Tool(name, spec.description or spec.title or "", dict(spec.input_schema), call, self.source)

    async def call(self, tool: str, arguments: dict[str, Any]) -> str:
        link = self.link
        if link is None or link.client is None or link.gone.is_set():
            raise ToolFailure(f"the MCP server {self.name!r} is not running")
        try:
            result = await link.client.call_tool(tool, arguments)
        except MCPError as error:
            if error.code != CONNECTION_CLOSED:
                raise ToolFailure(error.message) from None
            link.lose(f"the connection closed during a call of {tool}")
            raise ToolFailure(f"the MCP server {self.name!r} stopped during the call") from None
        except _BROKEN as error:
            link.lose(f"a call of {tool} failed: {_describe(error)}")
            raise ToolFailure(f"the MCP server {self.name!r} stopped during the call") from None
        text = _text(result)
        if result.is_error:
            raise ToolFailure(text or f"{tool} failed")
        return text

    async def stop(self) -> None:
        self.scope.cancel()
        if self.task is not None:
            await self.task
        self.link = None
        self.registry.source_down(self.source, "stopped")
        self.state, self.why, self.tools = "down", "stopped", []

    def status(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "why": self.why, "tools": list(self.tools)}


class McpServers:
    """The configured MCP servers, each kept running by its own supervisor task."""

    def __init__(self, servers: Iterable[tuple[str, str]], registry: Registry) -> None:
        self._servers = [_Server(name, target, registry) for name, target in servers]

    async def start(self) -> None:
        """Start every server; return once each has listed its tools or failed, or after
        ``FIRST_WAIT`` seconds: a slow server's tools simply arrive later."""
        for server in self._servers:
            if server.task is None:
                server.task = asyncio.create_task(server.supervise(), name=f"mcp:{server.name}")
        waits = [server.listed.wait() for server in self._servers]
        try:
            async with asyncio.timeout(FIRST_WAIT):
                await asyncio.gather(*waits)
        except TimeoutError:
            slow = [server.name for server in self._servers if not server.listed.is_set()]
            log.warning("MCP servers still starting after %g s: %s", FIRST_WAIT, ", ".join(slow))

    async def aclose(self) -> None:
        """Stop every supervisor; each closes its session and ends its process."""
        await asyncio.gather(*(server.stop() for server in self._servers))

    def status(self) -> list[dict[str, Any]]:
        return [server.status() for server in self._servers]
