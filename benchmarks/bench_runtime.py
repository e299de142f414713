"""What every process of the bridge benchmark shares: the address and model name they agree on,
and how each process is set up (file descriptors, event loop, garbage collector)."""

from __future__ import annotations

import asyncio
import gc
import resource
import sys

HOST = "127.0.0.1"
MODEL = "bench"


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - the venv has it
        print("warning: uvloop missing, using asyncio's loop", file=sys.stderr)
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def quiet_gc() -> None:
    """Short-lived helper processes: keep the collector from adding pauses that are not the bridge's."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(200_000, 50, 50)
