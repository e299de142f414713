"""What the Inkstream bridge adds: latency, CPU and memory, measured against reading the upstream directly.

    .venv/bin/python benchmarks/bridge.py [--streams 1,50,200,1000] [--rate 25] [--seconds 20]
                                          [--idle 1000] [--quick] [--json results.json]
    .venv/bin/python benchmarks/bridge.py --client httpx,transport,pump [--streams 200] [--rounds 3]

With ``--client``, no Inkstream server: the upstream's streams are read through each client stack
in a process of its own, for the CPU each costs per read (bench_readers.py says how).

Three kinds of process, so CPU and memory are attributable (all on 127.0.0.1, all killed at exit):

* an **upstream**: OpenAI-compatible ``POST /v1/chat/completions`` on raw uvloop, streaming each
  answer at ``--rate`` tokens/s. Token ``k`` is the plain word ``w{k}n{µs} `` where ``µs`` is
  ``time.time_ns() // 1000`` taken just before the write, so whoever receives it knows how old it is.
  Words are letters and digits only (no ``.:@/``), so Inkstream's renderer takes its fast path
  (appending to the live paragraph); every ``--paragraph`` tokens a blank line starts a new paragraph,
  which costs a markdown parse, as in a real answer.
* the **Inkstream server**, unmodified: ``python -m server --port P`` pointed at the upstream.
* **clients**, one process per phase (``--client-procs`` to split a phase over more):
  - *baseline*: N direct SSE readers of the upstream;
  - *bridge*: N WebSocket clients of ``/ws``, one turn each.
  Both are raw asyncio protocols on uvloop that do the same per-message work (``json.loads`` of
  each SSE event or WebSocket frame, then a regex over the text), so the client's own cost cancels
  out of ``added = bridge - baseline``. The ``websockets`` library is not used for the load: on a
  2-core machine its per-frame cost would starve the very server being measured.

For each N the baseline runs, then the bridge, with the same upstream. Streams start spread over a
ramp (so their token clocks have random phase, as real traffic does), and only tokens *written* inside
the steady-state window (after ramp + warm-up, before the streams end) are counted; server CPU is
sampled over the same window. Memory per idle socket: K sockets that completed the handshake and got
``hello``, server RSS delta / K, measured first, on the fresh server.

Machines here are shared and noisy: read the figures relative to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from bench_clients import client_main, write_results
from bench_processes import ROOT, Processes, cpu_seconds, free_port, tail, wait_http, wait_port
from bench_report import fmt, report
from bench_runtime import HOST, MODEL, raise_fd_limit, use_uvloop
from bench_upstream import upstream_argv, upstream_main


def code_version() -> dict[str, Any]:
    """Which server code was measured: the tree may hold uncommitted changes."""

    def git(*argv: str) -> str:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            return subprocess.run(
                ["git", "-C", str(ROOT), *argv], capture_output=True, text=True, timeout=10
            ).stdout.rstrip()
        return ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", "server").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD"), "server_files_changed": changed}


def percentile(sorted_values: array.array[int] | list[int], q: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * (len(sorted_values) - 1))))
    return sorted_values[index] / 1000.0  # µs -> ms


@dataclass
class Bench:
    args: argparse.Namespace
    procs: Processes
    workdir: Path
    upstream_port: int
    server_port: int
    upstream: subprocess.Popen[bytes]
    server: subprocess.Popen[bytes]
    server_log: Path

    def client_argv(
        self,
        mode: str,
        port: int,
        streams: int,
        index: int,
        procs: int,
        *,
        tokens: int,
        t0: float,
        ramp: float,
        win: tuple[float, float],
        deadline: float,
        out: Path,
    ) -> list[str]:
        return [
            sys.executable,
            str(Path(__file__).resolve()),
            "--role",
            "client",
            "--mode",
            mode,
            "--port",
            str(port),
            "--streams",
            str(streams),
            "--index",
            str(index),
            "--procs",
            str(procs),
            "--tokens",
            str(tokens),
            "--t0",
            repr(t0),
            "--ramp",
            repr(ramp),
            "--win-start",
            repr(win[0]),
            "--win-end",
            repr(win[1]),
            "--deadline",
            repr(deadline),
            "--out",
            str(out),
        ]

    def idle_memory(self, count: int) -> dict[str, Any]:
        server = psutil.Process(self.server.pid)
        # Touch every code path once first so imports and caches are not counted per socket.
        self._idle_round(10, lambda ready: None)
        time.sleep(1.0)
        gc_settle = server.memory_info().rss
        measured: dict[str, Any] = {}

        def at_ready(ready: dict[str, Any]) -> None:
            samples = []
            for _ in range(4):
                time.sleep(0.4)
                samples.append(server.memory_info().rss)
            measured.update(ready)
            measured["rss_with"] = max(samples)

        self._idle_round(count, at_ready)
        time.sleep(1.0)
        after = server.memory_info().rss
        ready = measured.get("ready", 0)
        per = (measured["rss_with"] - gc_settle) / ready / 1024 if ready else None
        return {
            "sockets": count,
            "ready": ready,
            "failed": measured.get("failed"),
            "samples": measured.get("samples"),
            "rss_before_mb": gc_settle / 2**20,
            "rss_with_mb": measured.get("rss_with", 0) / 2**20,
            "rss_after_close_mb": after / 2**20,
            "kb_per_socket": per,
        }

    def _idle_round(self, count: int, at_ready: Any) -> None:
        out = self.workdir / f"idle-{count}.json"
        t0 = time.time() + 0.7
        ramp = min(2.0, count / 1000)
        proc = self.procs.spawn(
            self.client_argv(
                "idle",
                self.server_port,
                count,
                0,
                1,
                tokens=0,
                t0=t0,
                ramp=ramp,
                win=(0, 0),
                deadline=t0 + 60,
                out=out,
            ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            log=self.workdir / "client.log",
        )
        assert proc.stdout is not None
        assert proc.stdin is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"idle client died; log:\n{tail(self.workdir / 'client.log')}")
        at_ready(json.loads(line))
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            self.procs.stop(proc)

    def phase(self, mode: str, streams: int) -> dict[str, Any]:
        args = self.args
        tokens = round(args.seconds * args.rate)
        ramp = 0.0 if streams == 1 else args.ramp
        clients = args.client_procs or (2 if streams >= 500 else 1)
        clients = max(1, min(clients, streams))
        t0 = time.time() + 1.0  # time for the client processes to start
        win = (t0 + ramp + args.warmup, t0 + args.seconds - 0.5)
        deadline = t0 + ramp + args.seconds + max(30.0, args.seconds * 2.5)
        port = self.upstream_port if mode == "sse" else self.server_port
        outs = [self.workdir / f"{mode}-{streams}-{j}.json" for j in range(clients)]
        kids = [
            self.procs.spawn(
                self.client_argv(
                    mode,
                    port,
                    streams,
                    j,
                    clients,
                    tokens=tokens,
                    t0=t0,
                    ramp=ramp,
                    win=win,
                    deadline=deadline,
                    out=outs[j],
                ),
                log=self.workdir / "client.log",
            )
            for j in range(clients)
        ]
        watched = {"server": psutil.Process(self.server.pid), "upstream": psutil.Process(self.upstream.pid)}
        for j, kid in enumerate(kids):
            watched[f"client{j}"] = psutil.Process(kid.pid)
        time.sleep(max(0.0, win[0] - time.time()))
        before = {name: cpu_seconds(p) for name, p in watched.items()}
        machine0 = psutil.cpu_times()
        wall0 = time.time()
        time.sleep(max(0.0, win[1] - time.time()))
        after = {name: cpu_seconds(p) for name, p in watched.items()}
        machine1 = psutil.cpu_times()
        wall = time.time() - wall0
        server_rss = watched["server"].memory_info().rss
        for kid in kids:
            try:
                kid.wait(max(1.0, deadline + 15 - time.time()))
            except subprocess.TimeoutExpired:
                self.procs.stop(kid)
        cpu = {name: 100.0 * (after[name] - before[name]) / wall for name in before}
        client_cpu = sum(v for k, v in cpu.items() if k.startswith("client"))
        busy = (
            sum(machine1)
            - machine1.idle
            - getattr(machine1, "iowait", 0.0)
            - (sum(machine0) - machine0.idle - getattr(machine0, "iowait", 0.0))
        )
        # Everything else on the machine (other sessions' tests, browsers): the noise to beware of.
        other_cpu = max(0.0, 100.0 * busy / wall - sum(cpu.values()))

        delays = array.array("q")
        summary: dict[str, Any] = {"end_states": Counter(), "errors": Counter(), "error_samples": []}
        for j, out in enumerate(outs):
            if not out.exists():
                summary["errors"]["client_crashed"] += 1
                summary["error_samples"].append(
                    f"client {j} wrote no result; log:\n{tail(self.workdir / 'client.log')}"
                )
                continue
            part = json.loads(out.read_text())
            raw = Path(str(out) + ".delays")
            delays.frombytes(raw.read_bytes())
            raw.unlink()
            for key in (
                "streams",
                "completed",
                "tokens_received",
                "frames_received",
                "frames_in_window",
                "tokens_in_window",
                "bytes_received",
            ):
                summary[key] = summary.get(key, 0) + part[key]
            summary["end_states"].update(part["end_states"])
            summary["errors"].update(part["errors"])
            summary["error_samples"] += part["error_samples"]
            summary["last_finish"] = max(summary.get("last_finish", 0), part["last_finish"])
            for second, worst in part["worst_by_second"].items():
                key = str(int(second) - int(win[0]))
                summary.setdefault("worst", {})[key] = max(summary.get("worst", {}).get(key, 0), worst)
        ordered = array.array("q", sorted(delays))
        window = win[1] - win[0]
        tokens_in_window = len(ordered)
        frames_in_window = summary.get("frames_in_window", 0)
        delivered = summary.get("tokens_in_window", 0)  # by receive time: throughput, CPU per token
        server_cpu_s = after["server"] - before["server"]
        result = {
            "mode": "baseline" if mode == "sse" else "bridge",
            "streams": streams,
            "client_processes": clients,
            "tokens_per_stream": tokens,
            "window_s": round(window, 2),
            "samples": tokens_in_window,
            "p50_ms": percentile(ordered, 50),
            "p90_ms": percentile(ordered, 90),
            "p99_ms": percentile(ordered, 99),
            "p999_ms": percentile(ordered, 99.9),
            "max_ms": ordered[-1] / 1000 if ordered else None,
            "tokens_per_s": delivered / window,
            "expected_tokens_per_s": streams * args.rate,
            "frames_per_s": frames_in_window / window,
            "tokens_per_frame": delivered / frames_in_window if frames_in_window else None,
            "cpu_percent": {k: round(v, 1) for k, v in cpu.items()},
            "client_cpu_percent": round(client_cpu, 1),
            "other_cpu_percent": round(other_cpu, 1),
            # Largest delay (ms) among tokens written in each second of the window: spikes show here.
            "worst_ms_by_second": {
                k: round(v / 1000, 1)
                for k, v in sorted(summary.get("worst", {}).items(), key=lambda kv: int(kv[0]))
            },
            "server_cpu_us_per_token": (server_cpu_s / delivered * 1e6) if delivered else None,
            "server_rss_mb": server_rss / 2**20,
            "drain_s": round(summary.get("last_finish", 0) - (t0 + ramp + args.seconds), 2),
            "streams_completed": summary.get("completed", 0),
            "tokens_received": summary.get("tokens_received", 0),
            "tokens_expected": streams * tokens,
            "end_states": dict(summary["end_states"]),
            "errors": dict(summary["errors"]),
            "error_samples": summary["error_samples"][:10],
        }
        return result


def orchestrate(args: argparse.Namespace) -> int:
    raise_fd_limit()
    streams = [int(s) for s in args.streams.split(",") if s.strip()]
    need = max([*streams, args.idle]) * 2 + 200
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit < need:
        print(f"warning: file descriptor limit {limit} is below the ~{need} this run needs", file=sys.stderr)
    busy = psutil.cpu_percent(interval=1.0) * (os.cpu_count() or 1)
    if busy > 30:
        print(
            f"warning: the machine is already busy ({busy:.0f}% of a CPU); latency figures will suffer",
            file=sys.stderr,
        )
    procs = Processes()
    workdir = Path(tempfile.mkdtemp(prefix="inkstream-bench-"))
    started = time.time()

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Started in the background by a shell, SIGINT arrives ignored; Ctrl-C must still clean up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        up_port, srv_port = free_port(), free_port()
        up_log, srv_log = workdir / "upstream.log", workdir / "server.log"
        script = Path(__file__).resolve()
        upstream = procs.spawn(
            upstream_argv(script, up_port, args.rate, args.paragraph, args.aligned), log=up_log
        )
        env = dict(os.environ)
        env.update(
            OPENAI_BASE_URL=f"http://{HOST}:{up_port}/v1",
            INKSTREAM_MODEL=MODEL,
            INKSTREAM_LOG_LEVEL="warning",
            INKSTREAM_MAX_UPSTREAM_CONNECTIONS=str(max(2000, 2 * max(streams))),
        )
        env.pop("OPENAI_API_KEY", None)
        for item in args.server_env:
            name, _, value = item.partition("=")
            env[name] = value
        server = procs.spawn(
            [sys.executable, "-m", "server", "--host", HOST, "--port", str(srv_port)], env=env, log=srv_log
        )
        wait_port(up_port, upstream, "upstream", up_log)
        wait_http(f"http://{HOST}:{srv_port}/healthz", server, "inkstream server", srv_log)
        bench = Bench(args, procs, workdir, up_port, srv_port, upstream, server, srv_log)
        results: dict[str, Any] = {
            "config": {
                "streams": streams,
                "rate": args.rate,
                "seconds": args.seconds,
                "ramp": args.ramp,
                "warmup": args.warmup,
                "idle": args.idle,
                "paragraph": args.paragraph,
                "aligned": args.aligned,
                "client_procs": args.client_procs or "auto",
                "server_env": args.server_env,
            },
            "machine": {
                "cpus": os.cpu_count(),
                "loadavg_before": [round(x, 2) for x in os.getloadavg()],
                "python": sys.version.split()[0],
            },
            "code": code_version(),
            "rows": [],
        }
        print(
            f"upstream :{up_port} (pid {upstream.pid}), inkstream :{srv_port} (pid {server.pid}); "
            f"logs in {workdir}",
            flush=True,
        )
        results["server_rss_fresh_mb"] = psutil.Process(server.pid).memory_info().rss / 2**20
        if args.idle:
            print(f"idle memory: {args.idle} sockets ...", flush=True)
            results["idle"] = bench.idle_memory(args.idle)
            print(f"  {fmt(results['idle']['kb_per_socket'], '.1f')} KB per idle socket", flush=True)
        for n in streams:
            row: dict[str, Any] = {"streams": n}
            for mode in ("sse", "ws"):
                label = "baseline" if mode == "sse" else "bridge"
                print(f"N={n} {label} ...", flush=True)
                r = bench.phase(mode, n)
                row[label] = r
                print(
                    f"  p50 {fmt(r['p50_ms'])} ms, p99 {fmt(r['p99_ms'])} ms, {r['tokens_per_s']:.0f} tok/s, "
                    f"server CPU {r['cpu_percent']['server']:.0f}%, errors {r['errors'] or 'none'}",
                    flush=True,
                )
                time.sleep(1.0)
            results["rows"].append(row)
            if server.poll() is not None:
                print(
                    f"inkstream server exited with {server.returncode}; log:\n{tail(srv_log)}",
                    file=sys.stderr,
                )
                break
        results["server_rss_end_mb"] = (
            psutil.Process(server.pid).memory_info().rss / 2**20 if server.poll() is None else None
        )
        results["server_log_problems"] = [
            line
            for line in srv_log.read_text(errors="replace").splitlines()
            if line.startswith(("WARNING", "ERROR", "CRITICAL", "Traceback"))
        ]
        results["runtime_s"] = round(time.time() - started, 1)
        text = report(results)
        print()
        print(text)
        print(f"\n(total {results['runtime_s']} s; logs in {workdir})")
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
            print(f"results written to {args.json}")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; stopping every process", file=sys.stderr)
        return 130
    finally:
        procs.stop_all()


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--streams", help="concurrent streams per run, comma-separated (default 1,50,200,1000; --client: 200)"
    )
    parser.add_argument("--rate", type=float, default=25.0, help="tokens per second per stream")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each stream")
    parser.add_argument("--ramp", type=float, default=2.0, help="streams start spread over this many seconds")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds after the ramp before measuring")
    parser.add_argument("--idle", type=int, default=1000, help="idle sockets for the memory figure (0: skip)")
    parser.add_argument(
        "--paragraph",
        type=int,
        default=60,
        help="end a paragraph every N tokens (0: never: one paragraph as long as the answer)",
    )
    parser.add_argument(
        "--client-procs", type=int, default=0, help="client processes per phase (0: 2 from 500 streams)"
    )
    parser.add_argument(
        "--aligned",
        action="store_true",
        help="all streams emit tokens at the same instants (a batching model server); "
        "default: each stream's own phase",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the Inkstream server, e.g. INKSTREAM_MAX_FPS=60 (repeatable)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: N=1,50, 5 s streams, 200 idle sockets"
    )
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument(
        "--client",
        help="instead of the bridge: read --streams upstream streams through each of these client stacks "
        "(comma-separated: httpx, httpx-aiohttp, aiohttp, transport, pump, protocol; all: every one) "
        "and print CPU per read (bench_readers.py)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --client: runs of each stack, interleaved"
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="with --client: run a stack again if others were busy"
    )
    # Internal: the same file runs the upstream and the clients.
    parser.add_argument(
        "--role",
        choices=["orchestrator", "upstream", "client", "reader"],
        default="orchestrator",
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--mode", choices=["sse", "ws", "idle"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--procs", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--win-start", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--win-end", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--deadline", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client == "all":
        args.client = "httpx,httpx-aiohttp,aiohttp,transport,pump,protocol"
    if args.streams is None:
        args.streams = "200" if args.client else "1,50,200,1000"
    if args.quick:
        args.seconds, args.ramp, args.warmup = 5.0, 1.0, 1.0
        if not args.client:
            args.streams = "1,50"
        args.idle = min(args.idle, 200)
    if args.role == "orchestrator" and args.seconds < args.ramp + args.warmup + 1.5:
        parser.error("--seconds must leave at least 1.5 s of window after --ramp and --warmup")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.role == "orchestrator" and args.client:
        from bench_readers import run_readers  # imports the server's upstream package

        return run_readers(args, Path(__file__).resolve())
    if args.role == "orchestrator":
        return orchestrate(args)
    raise_fd_limit()
    use_uvloop()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if args.role == "upstream":
            asyncio.run(upstream_main(args.port, args.rate, args.paragraph, args.aligned))
        elif args.role == "reader":
            from bench_readers import reader_main

            Path(args.out).write_text(json.dumps(asyncio.run(reader_main(args))))
        else:
            rec = asyncio.run(client_main(args))
            if rec is not None:
                write_results(rec, args.out)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
