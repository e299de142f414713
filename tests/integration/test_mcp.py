"""MCP servers' tools through the registry, against real server processes (tests/support/mcp_server.py)."""

from __future__ import annotations

import asyncio
import json
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from server.tools import mcp
from server.tools.mcp import McpServers
from server.tools.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
COMMAND = shlex.join([sys.executable, "-m", "tests.support.mcp_server"])


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    # The servers are started as ``python -m tests.support...``: found from the repository root.
    monkeypatch.chdir(ROOT)


def _children() -> list[psutil.Process]:
    return [child for child in psutil.Process().children(recursive=True) if child.is_running()]


async def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not hold in time")
        await asyncio.sleep(0.05)


def _state(servers: McpServers, name: str) -> str:
    return str(next(entry["state"] for entry in servers.status() if entry["name"] == name))


def _run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    before = {child.pid for child in _children()}
    asyncio.run(scenario())
    left = [child for child in _children() if child.pid not in before]
    assert not left, f"child processes left behind: {left}"


def test_tools_are_listed_with_their_schemas_and_called() -> None:
    async def scenario() -> None:
        registry = Registry(timeout=lambda name: 0.3 if name == "slow" else 30.0)
        servers = McpServers([("test", COMMAND)], registry)
        await servers.start()
        try:
            add = registry.get("add")
            assert add is not None
            assert add.source == "mcp:test"
            assert add.description == "Add two integers."
            assert add.parameters["properties"]["a"]["type"] == "integer"
            assert add.parameters["required"] == ["a", "b"]
            assert servers.status() == [
                {"name": "test", "state": "up", "why": "", "tools": ["add", "shout", "slow", "fail", "die"]}
            ]

            outcome = await registry.run("add", '{"a": 2, "b": 3}')
            assert (outcome.ok, outcome.content) == (True, "5")
            outcome = await registry.run("shout", json.dumps({"text": "hi"}))
            assert (outcome.ok, outcome.content) == (True, "HI")

            failed = await registry.run("fail", '{"why": "no luck"}')
            assert not failed.ok
            assert failed.content.startswith("Error: ")
            wrong = await registry.run("add", '{"a": "two"}')
            assert not wrong.ok
            slow = await registry.run("slow", '{"seconds": 5}')
            assert not slow.ok
            assert "did not finish" in slow.content
            # None of these broke the connection.
            assert (await registry.run("add", '{"a": 1, "b": 1}')).content == "2"
        finally:
            await servers.aclose()
        assert registry.get("add") is None
        assert _state(servers, "test") == "down"

    _run(scenario)


def test_a_crashed_server_is_reported_down_and_restarted_while_the_other_works() -> None:
    async def scenario() -> None:
        registry = Registry()
        servers = McpServers([("one", COMMAND), ("two", COMMAND + " --prefix two_")], registry)
        await servers.start()
        try:
            assert [_state(servers, name) for name in ("one", "two")] == ["up", "up"]
            assert "two_add" in servers.status()[1]["tools"]
            processes = {child.pid for child in _children()}

            died = await registry.run("die", "{}")
            assert not died.ok
            await _until(lambda: _state(servers, "one") != "up", 5)
            assert registry.get("add") is None
            down = registry.listing()["down"]
            assert [entry["source"] for entry in down] == ["mcp:one"]
            assert down[0]["why"]
            gone = await registry.run("add", '{"a": 1, "b": 1}')
            assert not gone.ok
            # The other server kept its process and its session: its tools answer meanwhile.
            assert _state(servers, "two") == "up"
            outcome = await registry.run("two_add", '{"a": 2, "b": 3}')
            assert (outcome.ok, outcome.content) == (True, "5")

            await _until(lambda: _state(servers, "one") == "up", 10)
            assert registry.listing()["down"] == []
            assert (await registry.run("shout", '{"text": "back"}')).content == "BACK"
            assert (await registry.run("two_shout", '{"text": "still"}')).content == "STILL"
            # One process replaced, the other untouched.
            assert len({child.pid for child in _children()} & processes) == len(processes) - 1
        finally:
            await servers.aclose()

    _run(scenario)


def test_a_server_that_cannot_start_is_down_and_does_not_stop_the_others() -> None:
    async def scenario() -> None:
        registry = Registry()
        servers = McpServers([("missing", "/nonexistent/inkstream-mcp --flag"), ("test", COMMAND)], registry)
        started = time.monotonic()
        await servers.start()
        assert time.monotonic() - started < 8
        try:
            missing = servers.status()[0]
            assert missing["state"] in ("down", "starting")  # it may be between two attempts
            assert "not found" in registry.listing()["down"][0]["why"]
            assert registry.listing()["down"][0]["source"] == "mcp:missing"
            assert (await registry.run("add", '{"a": 2, "b": 3}')).content == "5"
        finally:
            await servers.aclose()

    _run(scenario)


def test_a_server_that_never_answers_is_given_up_on_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Reads its stdin and never writes: the handshake hangs until the connect timeout.
    monkeypatch.setattr(mcp, "CONNECT_TIMEOUT", 0.5)

    async def scenario() -> None:
        registry = Registry()
        servers = McpServers([("mute", "sh -c 'cat > /dev/null'")], registry)
        started = time.monotonic()
        await servers.start()
        assert time.monotonic() - started < 5
        try:
            assert _state(servers, "mute") == "down"
            assert "did not list its tools within 0.5 s" in registry.listing()["down"][0]["why"]
        finally:
            await servers.aclose()

    _run(scenario)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def http_server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.mcp_server", "--http", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the streamable HTTP test server did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(5)


def test_a_streamable_http_server_is_listed_and_called(http_server: str) -> None:
    async def scenario() -> None:
        registry = Registry()
        servers = McpServers([("web", http_server)], registry)
        await servers.start()
        try:
            assert _state(servers, "web") == "up"
            outcome = await registry.run("add", '{"a": 2, "b": 3}')
            assert (outcome.ok, outcome.content) == (True, "5")
            assert not (await registry.run("fail", '{"why": "x"}')).ok
        finally:
            await servers.aclose()

    asyncio.run(scenario())
