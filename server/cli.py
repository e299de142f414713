"""``inkstream --host 127.0.0.1 --port 8000`` (and ``python -m server``)."""

from __future__ import annotations

import argparse
import gc
import logging
import socket
import sys

import uvicorn

from .errors import ConfigError
from .settings import Settings
from .web.app import create_app


def uvicorn_config(app: object, settings: Settings, **extra: object) -> uvicorn.Config:
    """The server options Inkstream relies on, shared by the CLI, tests and benchmarks."""
    options: dict[str, object] = {"log_level": settings.log_level, **extra}
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        # uvloop, accepting every pending connection per turn of the loop (listener.py).
        loop="server.web.listener:new_event_loop" if sys.platform != "win32" else "asyncio",
        http="httptools",
        ws="websockets-sansio",
        ws_max_size=settings.max_frame_bytes,
        # Compression doubles the memory of an idle socket and costs CPU on every frame.
        ws_per_message_deflate=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        **options,  # type: ignore[arg-type]
    )


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="inkstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_environ()
    except ConfigError as error:
        print(f"inkstream: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    sock = bind(args.host, args.port)
    # Bind first: the demo model is reached over HTTP at this very address.
    settings = settings.with_self_url(args.host, sock.getsockname()[1])
    where = "the built-in demo model" if settings.demo else settings.upstream_base_url
    print(f"Inkstream on http://{args.host}:{sock.getsockname()[1]} — answering with {where}", flush=True)
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings))
    # The modules and app built so far live as long as the process: keep them out of every
    # collection, and collect less often (a full collection over a busy server's objects
    # pauses every stream at once).
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    server.run(sockets=[sock])
    return 0
