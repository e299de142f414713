"""A small MCP server for the tests of server/tools/mcp.py, written with the SDK itself.

``python -m tests.support.mcp_server`` serves it over stdio; ``--http PORT`` over streamable
HTTP on 127.0.0.1:PORT (path ``/mcp``). ``--prefix P`` names every tool ``P<name>``, so two of
them can run side by side without their tools' names colliding. ``die`` ends the process at
once, the way a crash would.
"""

from __future__ import annotations

import argparse
import asyncio
import os

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError


async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def shout(text: str) -> str:
    """The text in capitals."""
    return text.upper()


async def slow(seconds: float) -> str:
    """Wait, then say so."""
    await asyncio.sleep(seconds)
    return f"waited {seconds:g} s"


async def fail(why: str) -> str:
    """Always fails, saying ``why``."""
    raise ToolError(why)


def die() -> str:
    """End the server process at once (a crash: no reply, no cleanup)."""
    os._exit(3)


def build(prefix: str = "") -> MCPServer:
    app = MCPServer("inkstream-test")
    for function in (add, shout, slow, fail, die):
        app.add_tool(function, name=prefix + function.__name__)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.support.mcp_server")
    parser.add_argument("--http", type=int, metavar="PORT", help="serve streamable HTTP on this port")
    parser.add_argument("--prefix", default="", help="put this before every tool's name")
    options = parser.parse_args()
    app = build(options.prefix)
    if options.http is None:
        app.run()
    else:
        app.run("streamable-http", host="127.0.0.1", port=options.http)


if __name__ == "__main__":
    main()
