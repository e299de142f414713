"""What the conversation store costs and what it keeps: text lost to ``kill -9``, and database writes
per streaming answer.

    .venv/bin/python benchmarks/storage.py [--rates 60,400] [--runs 5] [--seconds 10]
                                           [--quick] [--json results.json]

Per token rate, one data directory and ``python -m server --port 0``, unmodified, answering with
its demo model (``INKSTREAM_DEMO_TTFT_MS=0``, ``INKSTREAM_DEMO_TOKENS_PER_SECOND=rate``), all on
127.0.0.1. One WebSocket client (the ``websockets`` library: one stream at a time costs nothing
worth measuring) with an owner cookie from ``/healthz``.

* **Writes**: one answer of about ``--seconds`` seconds (an ``echo`` of the start of the ``long``
  answer, cut to rate x seconds tokens) streams to its end, while a thread polls the SQLite file
  read-only every 50 ms (WAL: readers never wait on the writer) and counts the distinct
  (length of text, ``updated_ms``) states of the answer's row after its insert. Every state it
  sees must be a prefix of the text the client received. writes/s = states / stream time, next to
  the tokens/s of the ``end`` frame's stats: a store that writes per token shows up as a ratio
  near 1, the batching as about 1/(interval x tokens/s). Polling cannot tell apart two writes
  less than 50 ms apart, so the smallest gap between two writes while it streams is printed
  too (by ``updated_ms``): near the interval, none were missed.
* **kill -9**: the ``long`` answer streams; after a random 3-8 s of deltas the server gets SIGKILL.
  The client keeps what is still in its socket, then the server starts again on the same data
  and ``GET /api/conversations/<id>`` gives the saved answer, which must be ``incomplete`` with
  ``error.code == "interrupted"`` and a prefix of what the client received. Lost = received -
  saved, in characters and in seconds: the kill instant minus the moment the client received the
  last saved character. The restarted server serves the next run.

The target (docs: ``INKSTREAM_SAVE_INTERVAL_MS``, default 1000) is a loss of at most one save
interval; the ratio lost / interval is printed, not asserted. Anything else the store gets wrong
(a saved text that is not a prefix, a wrong state) is an error of the run, printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.demo.scripts import Answers
from server.demo.tokens import tokenize

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
POLL = 0.05  # seconds between reads of the database file
LONG_PROMPT = "long"  # the demo's 22 KB guide: 5,700 tokens, 14 s even at 400 tokens/s


# ---------------------------------------------------------------------------------- the server


class Server:
    """``python -m server --port 0`` on ``data``; its log goes to a file (printed on failure)."""

    def __init__(self, data: Path, env: dict[str, str]) -> None:
        self.data = data
        self.env = env
        self.log = data / "server.log"
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def http(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        env = {
            **os.environ,
            "INKSTREAM_DATA_DIR": str(self.data),
            "INKSTREAM_LOG_LEVEL": "warning",
            **self.env,
        }
        env.pop("OPENAI_BASE_URL", None)  # the built-in demo model answers
        env.pop("DATABASE_URL", None)
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server", "--host", HOST, "--port", "0"],
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
            )
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
        if match is None:
            self.proc.wait(10)
            raise RuntimeError(f"server did not start: {first}\n{self.tail()}")
        self.port = int(match.group(1))
        # Anything else it prints must not fill the pipe and block it.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def kill(self) -> float:
        """SIGKILL; the instant it was sent (monotonic)."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        instant = time.monotonic()
        self.proc.wait(10)
        return instant

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


def owner_cookie(http: str) -> str:
    with urllib.request.urlopen(http + "/healthz", timeout=10) as response:
        header = str(response.headers.get("set-cookie", ""))
    cookie = header.split(";", 1)[0]
    if not cookie.startswith("inkstream_owner="):
        raise RuntimeError(f"/healthz set no owner cookie: {header!r}")
    return cookie


def get_json(url: str, cookie: str) -> Any:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------------------------- the client


@dataclass
class Stream:
    """One answer as the client saw it: (receive time, text) per delta frame."""

    start: dict[str, Any] = field(default_factory=dict)
    started_at: float = 0.0
    deltas: list[tuple[float, str]] = field(default_factory=list)
    end: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return "".join(text for _, text in self.deltas)

    def received_at(self, chars: int) -> float:
        """When the client had the first ``chars`` characters."""
        total = 0
        for at, text in self.deltas:
            total += len(text)
            if total >= chars:
                return at
        return self.started_at if chars <= 0 else float("nan")


async def open_socket(server: Server, cookie: str) -> ClientConnection:
    return await connect(
        f"ws://{HOST}:{server.port}/ws",
        origin=server.http,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        max_size=None,
    )


async def begin(socket: ClientConnection, text: str, stream: Stream) -> None:
    """Send the turn and wait for its ``start`` frame."""
    # A ref of its own: the server answers a repeated (owner, ref) with the first turn again.
    ref = "bench-" + os.urandom(6).hex()
    await socket.send(json.dumps({"type": "start", "ref": ref, "text": text}))
    while True:
        frame = json.loads(await socket.recv())
        if frame.get("type") == "start":
            stream.start, stream.started_at = frame, time.monotonic()
            return
        if frame.get("type") == "error":
            raise RuntimeError(f"the server refused the turn: {frame}")


async def read(socket: ClientConnection, stream: Stream, *, until: float | None = None) -> None:
    """Deltas until the ``end`` frame, the socket closes, or ``until`` (monotonic) passes."""
    while stream.end is None:
        timeout = None if until is None else until - time.monotonic()
        if timeout is not None and timeout <= 0:
            return
        try:
            raw = await asyncio.wait_for(socket.recv(), timeout)
        except (TimeoutError, ConnectionClosed):
            return
        at = time.monotonic()
        frame = json.loads(raw)
        if frame.get("type") == "delta":
            stream.deltas.append((at, frame.get("text", "")))
        elif frame.get("type") == "end":
            stream.end = frame


# ---------------------------------------------------------------------------------- writes


@dataclass
class Poller:
    """Reads the answer's row from the SQLite file every POLL seconds, in a thread of its own."""

    database: Path
    message: str
    seen: list[tuple[float, int, int, str, str]] = field(default_factory=list)  # at, len, ms, state, text
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Poller:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(5)

    def _run(self) -> None:
        db = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=2)
        try:
            last: tuple[int, int] | None = None
            while True:
                stopping = self._stop.is_set()  # one more read after the stop, for the last write
                row = db.execute(
                    "SELECT text, updated_ms, state FROM messages WHERE id = ?", (self.message,)
                ).fetchone()
                if row is not None and (len(row[0]), row[1]) != last:
                    last = (len(row[0]), row[1])
                    self.seen.append((time.monotonic(), len(row[0]), row[1], row[2], row[0]))
                if stopping:
                    return
                self._stop.wait(POLL)
        finally:
            db.close()


@dataclass
class WritesResult:
    rate: float
    stream_s: float
    tokens: int
    tokens_per_s: float
    writes: int
    writes_per_s: float
    writes_per_token: float
    min_gap_s: float | None
    final_state: str
    problems: list[str]


def echo_prompt(tokens: int) -> str:
    pieces = tokenize(Answers.load().texts["long"])
    while len(pieces) < tokens:
        pieces = pieces + pieces
    return "echo " + "".join(pieces[:tokens])


async def measure_writes(server: Server, cookie: str, rate: float, seconds: float) -> WritesResult:
    stream = Stream()
    problems: list[str] = []
    socket = await open_socket(server, cookie)
    try:
        await begin(socket, echo_prompt(round(rate * seconds)), stream)
        with Poller(server.data / "inkstream.db", stream.start["message"]) as poller:
            await read(socket, stream, until=time.monotonic() + seconds * 3 + 30)
            await asyncio.sleep(POLL * 4)  # the final write lands after the end frame
    finally:
        await socket.close()
    if stream.end is None:
        raise RuntimeError(f"no end frame within {seconds * 3 + 30:.0f} s at {rate} tokens/s")
    text = stream.text
    # The row as begin() inserted it (empty, streaming) is not a write of the answer.
    states = [s for s in poller.seen if not (s[1] == 0 and s[3] == "streaming")]
    for at, length, _ms, state, saved in states:
        if not text.startswith(saved):
            problems.append(
                f"writes {rate:g}/s: saved text at +{at - stream.started_at:.2f} s ({length} chars, "
                f"state {state}) is not a prefix of the received text"
            )
    final = states[-1] if states else None
    if final is None or final[3] != "done" or final[4] != text:
        problems.append(
            f"writes {rate:g}/s: final row state={final[3] if final else None!r}, "
            f"{final[1] if final else 0} chars saved of {len(text)} received (want done, all)"
        )
    stats = stream.end.get("stats", {})
    deltas = int(stats.get("deltas", 0))
    duration = float(stats.get("duration_ms", 0.0)) / 1000
    streaming = duration - float(stats.get("ttft_ms") or 0.0) / 1000
    # The last write goes at once when the answer ends: only the ones while it streams are paced.
    gaps = [b[2] - a[2] for a, b in itertools.pairwise(states) if b[3] == "streaming"]
    return WritesResult(
        rate=rate,
        stream_s=round(duration, 3),
        tokens=deltas,
        tokens_per_s=round(deltas / streaming, 1) if streaming > 0 else 0.0,
        writes=len(states),
        writes_per_s=round(len(states) / duration, 3) if duration > 0 else 0.0,
        writes_per_token=round(len(states) / deltas, 5) if deltas else 0.0,
        min_gap_s=min(gaps) / 1000 if gaps else None,
        final_state=final[3] if final else "",
        problems=problems,
    )


# ---------------------------------------------------------------------------------- kill -9


@dataclass
class KillResult:
    rate: float
    killed_after_s: float
    received_at_kill: int
    received: int
    saved: int
    lost_chars: int
    lost_s: float
    state: str
    error_code: str | None
    problems: list[str]


async def kill_once(server: Server, cookie: str, rate: float, after: float) -> KillResult:
    stream = Stream()
    socket = await open_socket(server, cookie)
    try:
        await begin(socket, LONG_PROMPT, stream)
        deadline = time.monotonic() + 30
        while not stream.deltas and stream.end is None and time.monotonic() < deadline:
            await read(socket, stream, until=time.monotonic() + 0.01)
        first = stream.deltas[0][0] if stream.deltas else time.monotonic()
        await read(socket, stream, until=first + after)
        if stream.end is not None:
            raise RuntimeError(f"the answer ended before the kill at {rate:g} tokens/s: {stream.end}")
        at_kill = len(stream.text)
        killed = server.kill()
        await read(socket, stream, until=time.monotonic() + 5)  # what was already on its way
    finally:
        with contextlib.suppress(Exception):
            await socket.close()
    server.start()
    body = get_json(f"{server.http}/api/conversations/{stream.start['conversation']}", cookie)
    wanted = stream.start["message"]
    message = next((m for m in body.get("messages", []) if m.get("id") == wanted), None)
    problems: list[str] = []
    if message is None:
        raise RuntimeError(f"the answer {wanted} is not in its conversation after the restart: {body}")
    text, saved = stream.text, str(message.get("text", ""))
    error = message.get("error") or {}
    label = f"kill {rate:g}/s after {after:.2f} s"
    if not text.startswith(saved):
        cut = next((i for i, (a, b) in enumerate(zip(text, saved, strict=False)) if a != b), len(text))
        problems.append(
            f"{label}: saved text ({len(saved)} chars) is not a prefix of the received text "
            f"({len(text)} chars); they differ from character {cut}: "
            f"received {text[cut : cut + 40]!r}, saved {saved[cut : cut + 40]!r}"
        )
    if message.get("state") != "incomplete" or error.get("code") != "interrupted":
        problems.append(
            f"{label}: state {message.get('state')!r}, error {error.get('code')!r} "
            "(want incomplete, interrupted)"
        )
    return KillResult(
        rate=rate,
        killed_after_s=round(killed - first, 3),
        received_at_kill=at_kill,
        received=len(text),
        saved=len(saved),
        lost_chars=len(text) - len(saved),
        lost_s=round(killed - stream.received_at(len(saved)), 3),
        state=str(message.get("state")),
        error_code=error.get("code"),
        problems=problems,
    )


# ---------------------------------------------------------------------------------- the run


@dataclass
class RateResult:
    rate: float
    writes: WritesResult
    kills: list[KillResult]

    @property
    def lost_s(self) -> list[float]:
        return [k.lost_s for k in self.kills]


@contextlib.contextmanager
def data_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="inkstream-bench-storage-") as name:
        yield Path(name)


async def run_rate(
    rate: float, args: argparse.Namespace, extra: dict[str, str], rng: random.Random
) -> RateResult:
    env = {"INKSTREAM_DEMO_TTFT_MS": "0", "INKSTREAM_DEMO_TOKENS_PER_SECOND": f"{rate:g}", **extra}
    with data_dir() as data:
        server = Server(data, env)
        try:
            server.start()
            cookie = owner_cookie(server.http)
            print(f"  {rate:g} tokens/s: writes over a {args.seconds:g} s answer …", flush=True)
            writes = await measure_writes(server, cookie, rate, args.seconds)
            kills = []
            for run in range(args.runs):
                after = rng.uniform(*args.kill_after)
                print(f"  {rate:g} tokens/s: kill -9 {run + 1}/{args.runs} after {after:.1f} s …", flush=True)
                kills.append(await kill_once(server, cookie, rate, after))
        except BaseException:
            print(f"server log (tail):\n{server.tail()}", file=sys.stderr)
            raise
        finally:
            server.stop()
    return RateResult(rate, writes, kills)


def table(results: list[RateResult], interval: float) -> str:
    rows = [
        ("tok/s", "kills", "lost ch max", "lost s med", "lost s max", "max/interval",
         "writes", "writes/s", "writes/tok", "min gap s", "stream s"),
    ]  # fmt: skip
    for r in results:
        w = r.writes
        lost = r.lost_s
        rows.append(
            (
                f"{w.tokens_per_s:g}",
                str(len(r.kills)),
                str(max((k.lost_chars for k in r.kills), default=0)),
                f"{statistics.median(lost):.3f}" if lost else "-",
                f"{max(lost):.3f}" if lost else "-",
                f"{max(lost) / interval:.2f}" if lost else "-",
                str(w.writes),
                f"{w.writes_per_s:.2f}",
                f"{w.writes_per_token:.4f}",
                f"{w.min_gap_s:.3f}" if w.min_gap_s is not None else "-",
                f"{w.stream_s:.1f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rates", default="60,400", help="demo model tokens/s, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="kill -9 runs per rate")
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="length of the answer the writes are counted on"
    )
    parser.add_argument("--kill-after", default="3,8", help="seconds of streaming before the kill: MIN,MAX")
    parser.add_argument("--seed", type=int, default=None, help="for the kill instants")
    parser.add_argument("--quick", action="store_true", help="2 kills per rate, 5 s answers: about 40 s")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a server setting for the run, e.g. INKSTREAM_SAVE_INTERVAL_MS=500")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="write every figure here")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.seconds = 2, 5.0
    low, high = (float(x) for x in args.kill_after.split(","))
    args.kill_after = (low, high)
    args.rates = [float(x) for x in args.rates.split(",") if x.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    extra = dict(item.split("=", 1) for item in args.server_env)
    interval = float(extra.get("INKSTREAM_SAVE_INTERVAL_MS", "1000")) / 1000
    rng = random.Random(args.seed)
    started = time.monotonic()
    results = [asyncio.run(run_rate(rate, args, extra, rng)) for rate in args.rates]
    print()
    print(f"save interval {interval:g} s; lost = received - saved after kill -9; target: lost ≤ interval")
    print(table(results, interval))
    problems = [p for r in results for p in (*r.writes.problems, *(x for k in r.kills for x in k.problems))]
    for r in results:
        print(
            f"  {r.rate:g} tok/s: lost s per run "
            + ", ".join(f"{k.lost_s:.3f} ({k.lost_chars} ch)" for k in r.kills)
        )
    print(f"took {time.monotonic() - started:.0f} s")
    if problems:
        print("\nPROBLEMS (the store got these wrong):")
        for problem in problems:
            print("  " + problem)
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    "interval_s": interval,
                    "server_env": extra,
                    "results": [asdict(r) for r in results],
                    "problems": problems,
                },
                indent=2,
            )
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
