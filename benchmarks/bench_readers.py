"""``--client``: upstream client stacks, each reading N streams of the benchmark's upstream in a
process of its own, so that the CPU a stack costs per network read can be told apart.

Every stack does the same work per read, the server's own: the body bytes go to Inkstream's SSE
decoder (server/upstream/sse.py) and each event to its chunk parser (events.py), and each
content delta to the recorder, which checks token order and takes the delay. Only what brings
the bytes from the socket differs:

* ``httpx``: ``httpx.AsyncClient`` on its default transport (httpcore, h11, anyio), ``aiter_bytes()``;
* ``httpx-aiohttp``: the same client on ``httpx_aiohttp.AiohttpTransport``, ``aiter_bytes()``;
* ``aiohttp``: a plain ``aiohttp.ClientSession``, ``content.iter_any()``;
* ``transport``: the client on Inkstream's transport (server/upstream/transport.py), ``aiter_bytes()``;
* ``pump``: the same, through ``ResponseStream.pump()``: the path the server takes;
* ``protocol``: the floor, a bare ``asyncio.Protocol`` with llhttp (httptools), no client at all.

A *read* is one piece of body handed to the consumer: an item of the iterator, a call of the
pump's sink, the body parts of one ``data_received``. The upstream writes one HTTP chunk per
token, 1/rate apart on each stream, so in the steady state a read is one token.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httptools
import httpx
import psutil  # type: ignore[import-untyped]
from bench_clients import Recorder, Stream, now_us
from bench_processes import Processes, cpu_seconds, free_port, tail, wait_port
from bench_runtime import HOST, MODEL
from bench_upstream import CHUNK_HEAD, CHUNK_TAIL, upstream_argv

from server.upstream.events import ContentDelta, Done, parse_event
from server.upstream.sse import EventDecoder
from server.upstream.transport import PUMP, ResponseStream, StreamingTransport

STACKS = ("httpx", "httpx-aiohttp", "aiohttp", "transport", "pump", "protocol")
NEEDS = {"httpx-aiohttp": ("httpx_aiohttp", "aiohttp"), "aiohttp": ("aiohttp",)}
INSTALL = "INKSTREAM_EXTRAS=test,bench sh .ci/setup   (or: .venv/bin/pip install -e '.[test,bench]')"
# As server/upstream/client.py sets them; the read timeout is per read.
TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
DISTURBED = 25.0  # % of a CPU used by other processes over a window: its figures are not trusted
HEADERS = {"Accept": "text/event-stream", "Accept-Encoding": "identity"}


def missing_packages(clients: list[str]) -> list[str]:
    needed = {name for client in clients for name in NEEDS.get(client, ())}
    return sorted(name for name in needed if importlib.util.find_spec(name) is None)


@dataclass
class Reads:
    total: int = 0
    in_window: int = 0


class Consumer:
    """One stream's per-read work, the same for every stack: the server's own."""

    def __init__(self, rec: Recorder, reads: Reads, stream: Stream) -> None:
        self.rec = rec
        self.reads = reads
        self.stream = stream
        self.decoder = EventDecoder()
        self.done = False

    def feed(self, data: bytes) -> bool:
        """One read's body bytes; True once ``[DONE]`` came (stop reading)."""
        received = now_us()
        reads = self.reads
        reads.total += 1
        if self.rec.win_start <= received < self.rec.win_end:
            reads.in_window += 1
        for sse in self.decoder.feed(data):
            for event in parse_event(sse.data):
                if isinstance(event, ContentDelta):
                    self.rec.text(self.stream, event.text, received)
                elif isinstance(event, Done):
                    self.done = True
        return self.done


def consumer_cost(reads: int = 20_000) -> float:
    """CPU µs of the consumer's own work per read (decoding, parsing, recording), fed the
    upstream's token events in a loop: what every stack's figure includes."""
    rec = Recorder(win_start=0, win_end=2**62)
    consumer = Consumer(rec, Reads(), Stream(0, 3 * reads, asyncio.get_running_loop().create_future()))
    events = [CHUNK_HEAD + b"w%dn%d " % (k, now_us()) + CHUNK_TAIL for k in range(3 * reads)]
    best = float("inf")
    for part in range(3):  # the least of three: a loop this short is easily disturbed
        started = time.process_time()
        for event in events[part * reads : (part + 1) * reads]:
            consumer.feed(event)
        best = min(best, time.process_time() - started)
    return best / reads * 1e6


def request_body(tokens: int) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": tokens,
    }


class FloorReader(asyncio.Protocol):
    """The floor: one request written by hand, the response parsed by llhttp, each read's body
    parts joined and fed (as the transport's take() joins them)."""

    def __init__(self, consumer: Consumer, port: int, done: asyncio.Future[None]) -> None:
        self.consumer = consumer
        self.port = port
        self.done = done
        self.parser = httptools.HttpResponseParser(self)
        self.parts: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        body = json.dumps(request_body(self.consumer.stream.expected)).encode()
        transport.write(  # type: ignore[attr-defined]
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
            b"Accept-Encoding: identity\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (HOST.encode(), self.port, len(body), body)
        )

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)
        parts = self.parts
        if parts:
            self.parts = []
            if self.consumer.feed(parts[0] if len(parts) == 1 else b"".join(parts)) and self.transport:
                self.transport.close()

    def on_headers_complete(self) -> None:
        if self.parser.get_status_code() != 200 and not self.done.done():
            self.done.set_exception(RuntimeError(f"upstream answered {self.parser.get_status_code()}"))

    def on_body(self, body: bytes) -> None:
        self.parts.append(body)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def open_stack(
    client: str, streams: int, port: int
) -> tuple[Callable[[Consumer], Awaitable[None]], Any]:
    """The stack's per-stream reader and the object to close at the end."""
    url = f"http://{HOST}:{port}/v1/chat/completions"
    limit = streams + 16
    if client == "protocol":
        loop = asyncio.get_running_loop()

        async def floor(consumer: Consumer) -> None:
            done = loop.create_future()
            await loop.create_connection(lambda: FloorReader(consumer, port, done), HOST, port)
            await done

        return floor, None
    if client == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10.0, sock_read=60.0),
        )

        async def plain(consumer: Consumer) -> None:
            body = request_body(consumer.stream.expected)
            async with session.post(url, json=body, headers=HEADERS) as response:
                if response.status != 200:
                    raise RuntimeError(f"upstream answered {response.status}")
                async for chunk in response.content.iter_any():
                    if consumer.feed(chunk):
                        break

        return plain, session
    limits = httpx.Limits(max_connections=limit, max_keepalive_connections=200)
    transport: httpx.AsyncBaseTransport | None = None
    if client == "httpx-aiohttp":
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=limits, trust_env=False)
    elif client in ("transport", "pump"):
        transport = StreamingTransport(max_connections=limit, max_keepalive=200)
    http = httpx.AsyncClient(transport=transport, limits=limits, timeout=TIMEOUT, trust_env=False)
    pump = client == "pump"

    async def through_httpx(consumer: Consumer) -> None:
        body = request_body(consumer.stream.expected)
        async with http.stream("POST", url, json=body, headers=HEADERS) as response:
            if response.status_code != 200:
                raise RuntimeError(f"upstream answered {response.status_code}")
            if pump:
                stream = response.extensions[PUMP]
                assert isinstance(stream, ResponseStream)
                await stream.pump(consumer.feed)
                return
            async for chunk in response.aiter_bytes():
                if consumer.feed(chunk):
                    break

    return through_httpx, http


async def reader_main(args: argparse.Namespace) -> dict[str, Any]:
    """One reader process: its share of streams through one stack; what it saw."""
    loop = asyncio.get_running_loop()
    rec = Recorder(win_start=int(args.win_start * 1e6), win_end=int(args.win_end * 1e6))
    reads = Reads()
    count = int(args.streams)
    read_one, closer = await open_stack(args.client, count, args.port)
    rng = random.Random(f"reader-{count}")  # the same start phases for every stack
    loop_t0 = loop.time() + (args.t0 - time.time())
    streams = [Stream(i, args.tokens, loop.create_future()) for i in range(count)]
    tasks: set[asyncio.Task[None]] = set()

    async def one(stream: Stream) -> None:
        consumer = Consumer(rec, reads, stream)
        try:
            await read_one(consumer)
        except Exception as error:
            stream.finish(rec, ok=False, why=f"{type(error).__name__}: {error}")
            return
        stream.finish(rec, ok=consumer.done, why="ended before [DONE]")

    def launch(stream: Stream) -> None:
        task = loop.create_task(one(stream))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    for stream in streams:
        loop.call_at(loop_t0 + rng.uniform(0, args.ramp), launch, stream)
    # As the server's own process does (server/cli.py): what the stacks allocate is collected
    # as it would be there.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    await asyncio.wait([s.done for s in streams], timeout=max(1.0, args.deadline - time.time()))
    unfinished = [s for s in streams if not s.done.done()]
    for stream in unfinished:
        rec.error("unfinished_at_deadline", f"stream {stream.index}: {stream.tokens} of {stream.expected}")
    for task in list(tasks):
        task.cancel()
    with contextlib.suppress(Exception):
        if closer is not None:
            await closer.aclose() if hasattr(closer, "aclose") else await closer.close()
    consumer_us = consumer_cost()
    delays = sorted(rec.delays)

    def pct(q: float) -> float | None:
        return delays[min(len(delays) - 1, round(q / 100 * (len(delays) - 1)))] / 1000 if delays else None

    return {
        "reads": reads.total,
        "reads_in_window": reads.in_window,
        "tokens_in_window": rec.tokens_in_window,
        "tokens_received": rec.tokens_received,
        "completed": rec.completed,
        "errors": dict(rec.errors),
        "error_samples": rec.samples[:5],
        "consumer_us": consumer_us,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
    }


def run_readers(args: argparse.Namespace, script: Path) -> int:
    """The orchestrator of ``--client``: one upstream, then one reader process per stack."""
    clients = [c.strip() for c in args.client.split(",") if c.strip()]
    unknown = [c for c in clients if c not in STACKS]
    if unknown:
        print(f"unknown --client {', '.join(unknown)}; choose from {', '.join(STACKS)}", file=sys.stderr)
        return 2
    missing = missing_packages(clients)
    if missing:
        print(
            f"--client {args.client} needs {', '.join(m.replace('_', '-') for m in missing)} "
            f"(not installed). Install the bench extra:\n  {INSTALL}",
            file=sys.stderr,
        )
        return 2
    counts = [int(s) for s in args.streams.split(",") if s.strip()]
    procs = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="inkstream-readers-"))
    results: dict[str, Any] = {
        "config": {
            k: getattr(args, k)
            for k in ("rate", "seconds", "ramp", "warmup", "paragraph", "rounds", "retries")
        },
        "clients": clients,
        "machine": {"cpus": os.cpu_count(), "loadavg_before": [round(x, 2) for x in os.getloadavg()]},
        "runs": [],
    }
    try:
        port = free_port()
        log = workdir / "upstream.log"
        upstream = procs.spawn(upstream_argv(script, port, args.rate, args.paragraph, args.aligned), log=log)
        wait_port(port, upstream, "upstream", log)
        print(f"upstream :{port} (pid {upstream.pid}); logs in {workdir}", flush=True)
        for n in counts:
            for round_ in range(args.rounds):
                order = clients[round_ % len(clients) :] + clients[: round_ % len(clients)]
                for client in order:
                    run = read_phase(args, procs, script, workdir, upstream, port, client, n)
                    others = run["cpu_others"]
                    for attempt in range(args.retries):
                        if others <= DISTURBED:
                            break
                        print(f"  {client}: others used {others:.0f}% of a CPU: again", flush=True)
                        time.sleep(3.0)
                        again = read_phase(args, procs, script, workdir, upstream, port, client, n)
                        again["reruns"] = attempt + 1
                        others = again["cpu_others"]
                        run = min(run, again, key=lambda r: r["cpu_others"])  # the least disturbed
                    run["round"] = round_ + 1
                    results["runs"].append(run)
                    print(
                        f"N={n} round {round_ + 1} {client}: {fmt(run['us_per_read'], '.1f')} µs/read, "
                        f"reader CPU {run['cpu_reader']:.0f}%, others {run['cpu_others']:.0f}%, "
                        f"errors {run['errors'] or 'none'}",
                        flush=True,
                    )
                    time.sleep(1.0)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping every process", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()
    print()
    print(report(results, counts))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
        print(f"results written to {args.json}")
    return 0


def read_phase(
    args: argparse.Namespace,
    procs: Processes,
    script: Path,
    workdir: Path,
    upstream: subprocess.Popen[bytes],
    port: int,
    client: str,
    streams: int,
) -> dict[str, Any]:
    tokens = round(args.seconds * args.rate)
    t0 = time.time() + 1.5  # imports (aiohttp, httpx) and the event loop, before the first stream
    win = (t0 + args.ramp + args.warmup, t0 + args.seconds - 0.5)
    deadline = t0 + args.ramp + args.seconds + max(30.0, args.seconds * 2.5)
    out = workdir / f"reader-{client}-{streams}.json"
    argv = [sys.executable, str(script), "--role", "reader", "--client", client, "--port", str(port)]
    argv += ["--streams", str(streams), "--tokens", str(tokens), "--t0", repr(t0), "--ramp", repr(args.ramp)]
    argv += ["--win-start", repr(win[0]), "--win-end", repr(win[1]), "--deadline", repr(deadline)]
    argv += ["--out", str(out)]
    reader = procs.spawn(argv, log=workdir / "reader.log")
    watched = {"reader": psutil.Process(reader.pid), "upstream": psutil.Process(upstream.pid)}
    time.sleep(max(0.0, win[0] - time.time()))
    before = {name: cpu_seconds(p) for name, p in watched.items()}
    machine0, wall0 = psutil.cpu_times(), time.time()
    time.sleep(max(0.0, win[1] - time.time()))
    after = {name: cpu_seconds(p) for name, p in watched.items()}
    machine1, wall = psutil.cpu_times(), time.time() - wall0
    try:
        reader.wait(max(1.0, deadline + 15 - time.time()))
    except subprocess.TimeoutExpired:
        procs.stop(reader)
    if not out.exists():
        raise SystemExit(f"the {client} reader wrote no result; log:\n{tail(workdir / 'reader.log')}")
    seen = json.loads(out.read_text())

    def busy(t: Any) -> float:
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    cpu = {name: after[name] - before[name] for name in before}
    reads, tokens_in = seen["reads_in_window"], seen["tokens_in_window"]
    return {
        "client": client,
        "streams": streams,
        "window_s": round(wall, 2),
        "reads_per_s": reads / wall,
        "tokens_per_s": tokens_in / wall,
        "expected_tokens_per_s": streams * args.rate,
        "us_per_read": cpu["reader"] / reads * 1e6 if reads else None,
        "us_per_token": cpu["reader"] / tokens_in * 1e6 if tokens_in else None,
        "cpu_reader": 100 * cpu["reader"] / wall,
        "cpu_upstream": 100 * cpu["upstream"] / wall,
        "cpu_others": max(0.0, 100 * (busy(machine1) - busy(machine0) - sum(cpu.values())) / wall),
        **{k: seen[k] for k in ("consumer_us", "p50_ms", "p99_ms", "completed", "errors", "error_samples")},
        "tokens_lost": streams * tokens - seen["tokens_received"],
    }


MEDIANS = ("us_per_read", "us_per_token", "consumer_us", "reads_per_s", "tokens_per_s", "p50_ms", "p99_ms")
MEDIANS += ("cpu_reader", "cpu_upstream", "cpu_others")


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def report(results: dict[str, Any], counts: list[int]) -> str:
    config, machine = results["config"], results["machine"]
    lines = [
        f"Upstream client stacks: {config['rate']:g} tokens/s per stream, {config['seconds']:g} s streams, "
        f"{config['rounds']} round(s), median µs over rounds (min-max); {machine['cpus']} CPUs, "
        f"load before {machine['loadavg_before']}",
        "CPU of the reader process over the window / reads (a read: one piece of body handed to the "
        "consumer) and / tokens; ×protocol and ×httpx compare medians of the same run.",
        "consumer: the decoding, parsing and recording every stack does per read, timed alone in the "
        "reader process; stack = µs/read - consumer.",
    ]
    head = (
        f"{'N':>5} {'client':>13} | {'µs/read':>8} {'(min-max)':>11} {'µs/token':>8} {'consumer':>8} "
        f"{'stack':>6} | {'×protocol':>9} "
        f"{'×httpx':>6} {'over floor':>10} | {'reads/s':>7} {'tok/s':>6} {'of':>6} | {'p50 ms':>6} "
        f"{'p99 ms':>6} | {'reader':>6} {'upstream':>8} {'others':>6} | {'errors':>6}"
    )
    notes = []
    for n in counts:
        runs = [r for r in results["runs"] if r["streams"] == n]
        lines += ["", head, "-" * len(head)]
        med: dict[str, dict[str, Any]] = {}
        for client in results["clients"]:
            mine = [r for r in runs if r["client"] == client and r["us_per_read"] is not None]
            if not mine:
                continue

            def m(key: str, rs: list[dict[str, Any]] = mine) -> float | None:
                values = [r[key] for r in rs if r[key] is not None]
                return statistics.median(values) if values else None

            med[client] = {k: m(k) for k in MEDIANS}
            med[client]["range"] = (min(r["us_per_read"] for r in mine), max(r["us_per_read"] for r in mine))
            med[client]["expected"] = mine[0]["expected_tokens_per_s"]
            med[client]["errors"] = sum(sum(r["errors"].values()) for r in mine)
            for r in mine:
                if r["cpu_others"] > DISTURBED:
                    notes.append(
                        f"  N={n} {client} round {r['round']}: others used {r['cpu_others']:.0f}% of a CPU: "
                        "disturbed, rerun"
                    )
                if r["errors"] or r["tokens_lost"]:
                    notes.append(
                        f"  N={n} {client}: {r['tokens_lost']} tokens lost, {r['error_samples'][:2]}"
                    )
        floor = med.get("protocol", {}).get("us_per_read")
        base = med.get("httpx", {}).get("us_per_read")
        for client, row in med.items():
            us = row["us_per_read"]
            lo, hi = row["range"]
            lines.append(
                f"{n:>5} {client:>13} | {fmt(us, '.1f'):>8} {f'({lo:.1f}-{hi:.1f})':>11} "
                f"{fmt(row['us_per_token'], '.1f'):>8} {fmt(row['consumer_us'], '.1f'):>8} "
                f"{fmt(us - row['consumer_us'] if row['consumer_us'] else None, '.1f'):>6} | "
                f"{fmt(us / floor if floor else None, '.2f') + '×':>9} "
                f"{fmt(us / base if base else None, '.2f') + '×':>6} "
                f"{fmt(us - floor if floor else None, '+.1f'):>10} | {row['reads_per_s']:>7.0f} "
                f"{row['tokens_per_s']:>6.0f} {row['expected']:>6.0f} | {fmt(row['p50_ms']):>6} "
                f"{fmt(row['p99_ms']):>6} | {row['cpu_reader']:>5.0f}% {row['cpu_upstream']:>7.0f}% "
                f"{row['cpu_others']:>5.0f}% | {row['errors']:>6}"
            )
    lines.append(
        "(CPU in % of one core over the window; others = the rest of the machine; p50/p99: token delay "
        "from the upstream's write to the consumer, ms)"
    )
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines)
