"""Tools a deployer might name in INKSTREAM_PYTHON_TOOLS, for tests that need one."""

from __future__ import annotations

import asyncio


async def slow_echo(text: str, seconds: float = 1.0) -> str:
    """Wait ``seconds``, then give ``text`` back."""
    await asyncio.sleep(seconds)
    return text


async def broken(x: int) -> str:
    """Always fail, as a tool with a bug does."""
    raise RuntimeError("broken on purpose")
