"""The benchmark's child processes: spawning them so they die with the orchestrator, stopping them,
waiting until they listen, and reading their logs and CPU time."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from bench_runtime import HOST

# Children run from the repository root, so that `python -m server` finds the package.
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Run in each child before exec: if this script dies, even by SIGKILL, the child goes too."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Processes:
    def __init__(self) -> None:
        self.all: list[subprocess.Popen[bytes]] = []

    def spawn(
        self,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        log: Path | None = None,
        stdin: int | None = subprocess.DEVNULL,
        stdout: Any = None,
    ) -> subprocess.Popen[bytes]:
        with open(log if log is not None else os.devnull, "ab") as out:  # the child keeps its own copy
            proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=env,
                stdin=stdin,
                stdout=stdout if stdout is not None else out,
                stderr=out,
                preexec_fn=_die_with_parent,
                start_new_session=True,
            )
        self.all.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    def stop_all(self) -> None:
        for proc in reversed(self.all):
            with contextlib.suppress(Exception):
                if proc.poll() is None:
                    proc.terminate()
        deadline = time.time() + 5
        for proc in reversed(self.all):
            with contextlib.suppress(Exception):
                proc.wait(max(0.1, deadline - time.time()))
        for proc in self.all:
            with contextlib.suppress(Exception):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(5)


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} at start; log:\n{tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on {port} within {timeout}s; log:\n{tail(log)}")


def wait_http(url: str, proc: subprocess.Popen[bytes], what: str, log: Path, timeout: float = 30) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode} at start; log:\n{tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} not ready at {url} within {timeout}s; log:\n{tail(log)}")


def tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def cpu_seconds(proc: Any) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)
