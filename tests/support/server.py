"""A real uvicorn server running our app on a free loopback port, in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from server.cli import bind, uvicorn_config
from server.settings import Settings
from server.web.app import create_app


@dataclass
class Running:
    settings: Settings
    port: int
    log: list[str]
    cookie: str = ""  # an owner's cookie ("inkstream_owner=…"), as the page gets on its first visit

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


class _Collect(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__()
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(self.format(record))


@contextlib.contextmanager
def serve(settings: Settings | None = None, **overrides: object) -> Iterator[Running]:
    """Start the app; on failure the collected server log is part of the test output."""
    base = settings if settings is not None else Settings()
    scratch = None
    if "data_dir" not in overrides and base.data_dir == Settings.model_fields["data_dir"].default:
        # Each test server stores in a directory of its own, gone afterwards, unless the test
        # names one (to restart on the same data).
        scratch = tempfile.TemporaryDirectory(prefix="inkstream-data-")
        overrides["data_dir"] = scratch.name
    base = base.replace(**overrides)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    final = base.with_self_url("127.0.0.1", port)
    server = uvicorn.Server(uvicorn_config(create_app(final), final, log_level="warning"))
    server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
    log: list[str] = []
    handler = _Collect(log)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    loggers = [logging.getLogger(n) for n in ("inkstream", "uvicorn", "uvicorn.error", "server")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
    logging.getLogger("inkstream").setLevel(logging.INFO)
    failure: list[BaseException] = []

    def run() -> None:
        import uvloop

        try:
            uvloop.run(server.serve(sockets=[sock]))
        except BaseException as error:  # pragma: no cover - surfaced below
            failure.append(error)

    thread = threading.Thread(target=run, name=f"inkstream-{port}", daemon=True)
    thread.start()
    try:
        while not server.started:
            if failure or not thread.is_alive():
                raise RuntimeError(f"server did not start: {failure!r}\n" + "\n".join(log))
            threading.Event().wait(0.01)
        yield Running(final, port, log, owner_cookie(f"http://127.0.0.1:{port}"))
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
        if scratch is not None:
            scratch.cleanup()
        if thread.is_alive():  # pragma: no cover
            raise RuntimeError("server thread did not stop")


def owner_cookie(http: str) -> str:
    """What a first visit to the page sets: the ``Cookie`` header value of a new owner."""
    try:
        with urllib.request.urlopen(http + "/healthz", timeout=10) as response:
            header = response.headers.get("set-cookie", "")
    except urllib.error.HTTPError:
        return ""  # a server set to refuse this Host (its tests need no owner)
    return str(header).split(";", 1)[0]


def run_coroutine(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


@dataclass
class Process:
    port: int
    popen: subprocess.Popen[str]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def serve_process(*, nice: int = 0, cwd: str | None = None, **env: str) -> Iterator[Process]:
    """``python -m server`` as its own process; ``env`` adds INKSTREAM_* settings. ``nice``
    lowers its priority, for tests of the browser that must not measure the server's share of
    this machine's two cores (in production the server is not on the reader's machine).
    ``cwd``: another checkout whose ``server`` package (and static files) to run."""
    scratch = None
    if "INKSTREAM_DATA_DIR" not in env and "DATABASE_URL" not in env:
        scratch = tempfile.TemporaryDirectory(prefix="inkstream-data-")
        env = {**env, "INKSTREAM_DATA_DIR": scratch.name}
    popen = subprocess.Popen(
        [*(["nice", "-n", str(nice)] if nice else []), sys.executable, "-m", "server", "--port", "0"],
        env={**os.environ, "INKSTREAM_LOG_LEVEL": "warning", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
    )
    try:
        assert popen.stdout is not None
        first = popen.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
        if match is None:
            raise RuntimeError(f"server did not start: {first}{popen.stdout.read()}")
        yield Process(int(match.group(1)), popen)
    finally:
        popen.terminate()
        popen.wait(10)
        if popen.stdout is not None:
            popen.stdout.close()
        if scratch is not None:
            scratch.cleanup()
