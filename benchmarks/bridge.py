"""What the Inkstream bridge adds: latency, CPU and memory, measured against reading the upstream directly.

    .venv/bin/python benchmarks/bridge.py [--streams 1,50,200,1000] [--rate 25] [--seconds 20]
                                          [--idle 1000] [--quick] [--json results.json]

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
import base64
import contextlib
import ctypes
import gc
import json
import math
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import psutil  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MODEL = "bench"
TOKEN = re.compile(r"w(\d+)n(\d+) ")
TARGET_P99_ADDED_MS = 5.0
TARGET_P99_AT = 200
TARGET_IDLE_KB = 64.0


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def now_us() -> int:
    return time.time_ns() // 1000


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


# ============================================================================ upstream


_CHUNK_HEAD = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":"'
)
_CHUNK_TAIL = b'"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
_ROLE = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench","choices":[{"index":0,"delta":{"role":"assistant","content":""},'
    b'"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
)
_FINISH = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],'
    b'"usage":null}\n\n'
)
_USAGE = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":%d,"total_tokens":%d}}\n\n'
)
_DONE = b"data: [DONE]\n\n"
_SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
)


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class UpstreamConnection(asyncio.Protocol):
    """One request, one paced SSE answer, then close (chunked, one HTTP chunk per event)."""

    def __init__(self, rate: float, paragraph: int, aligned: bool) -> None:
        self._rate = rate
        self._aligned = aligned
        self._paragraph = paragraph
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._started = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._started:
            return
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        method, path, _ = [*lines[0].split(" "), "", "", ""][:3]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        if len(self._buf) < end + 4 + length:
            return
        body = bytes(self._buf[end + 4 : end + 4 + length])
        self._started = True
        if method == "GET" and path.endswith("/models"):
            self._reply(200, b'{"object":"list","data":[{"id":"bench","object":"model"}]}')
        elif method == "POST" and path.endswith("/chat/completions"):
            try:
                request = json.loads(body)
                tokens = int(request.get("max_tokens") or 100)
            except (ValueError, TypeError, AttributeError):
                self._reply(400, b'{"error":{"message":"bad request body"}}')
                return
            self._stream(tokens)
        else:
            self._reply(404, b'{"error":{"message":"not found"}}')

    def _reply(self, status: int, body: bytes) -> None:
        assert self._transport is not None
        self._transport.write(
            b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (status, len(body), body)
        )
        self._transport.close()

    def _stream(self, tokens: int) -> None:
        assert self._transport is not None
        loop = asyncio.get_running_loop()
        self._transport.write(_SSE_HEAD + _chunk(_ROLE))
        period = 1.0 / self._rate
        start = loop.time()
        if self._aligned:
            # Every stream's tokens on one shared clock, as a batching model server emits them.
            start = math.ceil(start / period) * period
        transport = self._transport
        paragraph = self._paragraph

        def tick(k: int) -> None:
            if transport.is_closing():
                return
            if k < tokens:
                word = b"w%dn%d " % (k, time.time_ns() // 1000)
                if paragraph and k % paragraph == paragraph - 1:
                    word += b"\\n\\n"
                transport.write(_chunk(_CHUNK_HEAD + word + _CHUNK_TAIL))
                # Scheduled from the start, not from the last tick: a late tick does not slow the rate.
                self._timer = loop.call_at(start + (k + 1) * period, tick, k + 1)
            else:
                self._timer = None
                transport.write(
                    _chunk(_FINISH) + _chunk(_USAGE % (tokens, tokens + 1)) + _chunk(_DONE) + b"0\r\n\r\n"
                )
                transport.close()

        if self._aligned:
            self._timer = loop.call_at(start, tick, 0)
        else:
            tick(0)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def upstream_main(port: int, rate: float, paragraph: int, aligned: bool) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: UpstreamConnection(rate, paragraph, aligned), HOST, port, backlog=4096, reuse_address=True
    )
    quiet_gc()
    async with server:
        await server.serve_forever()


# ============================================================================ load clients


@dataclass
class Recorder:
    """What one client process saw; the window is in µs since the epoch, by token write time."""

    win_start: int
    win_end: int
    delays: array.array[int] = field(default_factory=lambda: array.array("q"))
    frames_in_window: int = 0  # by receive time, like tokens_in_window
    tokens_in_window: int = 0
    tokens_received: int = 0
    frames_received: int = 0
    bytes_received: int = 0
    completed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    end_states: Counter[str] = field(default_factory=Counter)
    last_end: float = 0.0
    worst: dict[int, int] = field(default_factory=dict)  # second of write time -> largest delay (µs)
    streams: int = 0

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] += 1
        if len(self.samples) < 20:
            self.samples.append(f"{kind}: {detail}"[:300])

    def text(self, stream: Stream, text: str, received: int) -> None:
        self.frames_received += 1
        stream.last_rx = received
        win_start, win_end = self.win_start, self.win_end
        in_window = win_start <= received < win_end
        if in_window:
            self.frames_in_window += 1
        for match in TOKEN.finditer(text):
            k = int(match.group(1))
            written = int(match.group(2))
            if k != stream.next_token:
                self.error(
                    "token_out_of_order", f"stream {stream.index}: got w{k}, expected w{stream.next_token}"
                )
            stream.next_token = k + 1
            stream.tokens += 1
            self.tokens_received += 1
            if in_window:
                self.tokens_in_window += 1
            if win_start <= written < win_end:
                delay = received - written
                self.delays.append(delay)
                second = written // 1_000_000
                if delay > self.worst.get(second, -1):
                    self.worst[second] = delay


@dataclass
class Stream:
    index: int
    expected: int
    done: asyncio.Future[None]
    next_token: int = 0
    tokens: int = 0
    last_rx: int = 0
    transport: asyncio.Transport | None = None

    def finish(self, rec: Recorder, *, ok: bool, why: str = "") -> None:
        if self.done.done():
            return
        rec.last_end = time.time()
        if ok and self.tokens != self.expected:
            rec.error("tokens_lost", f"stream {self.index}: {self.tokens} of {self.expected} tokens")
        elif not ok:
            rec.error("stream_failed", f"stream {self.index}: {why}")
        else:
            rec.completed += 1
        self.done.set_result(None)


class SSEReader(asyncio.Protocol):
    """A direct reader of the upstream: HTTP/1.1, chunked body, SSE events, JSON chunks."""

    def __init__(self, rec: Recorder, stream: Stream, port: int) -> None:
        self.rec = rec
        self.stream = stream
        self.port = port
        self.buf = bytearray()
        self.body = bytearray()
        self.head_done = False
        self.chunk_left = -1  # bytes of the current chunk still to read; -1: a size line is next
        self.got_done = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.stream.transport = transport
        body = json.dumps(
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
                "max_tokens": self.stream.expected,
            }
        ).encode()
        transport.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
            % (HOST.encode(), self.port, len(body), body)
        )

    def data_received(self, data: bytes) -> None:
        received = now_us()
        rec = self.rec
        rec.bytes_received += len(data)
        buf = self.buf
        buf += data
        if not self.head_done:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end]).lower()
            if not head.startswith(b"http/1.1 200") or b"transfer-encoding: chunked" not in head:
                self.stream.finish(rec, ok=False, why=f"upstream answered {head[:80]!r}")
                self.stream.transport.close()  # type: ignore[union-attr]
                return
            del buf[: end + 4]
            self.head_done = True
        pos, n = 0, len(buf)
        body = self.body
        while pos < n:
            if self.chunk_left < 0:
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = int(bytes(buf[pos:eol]).split(b";")[0], 16)
                pos = eol + 2
                if size == 0:
                    pos = n
                    break
                self.chunk_left = size + 2  # the data and its CRLF
            take = min(self.chunk_left, n - pos)
            body += buf[pos : pos + take]
            pos += take
            self.chunk_left -= take
            if self.chunk_left == 0:
                del body[-2:]
                self.chunk_left = -1
        del buf[:pos]
        cut = body.rfind(b"\n\n")
        if cut < 0:
            return
        events = bytes(body[:cut])
        del body[: cut + 2]
        stream = self.stream
        for event in events.split(b"\n\n"):
            for line in event.split(b"\n"):
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].lstrip(b" ")
                if data == b"[DONE]":
                    self.got_done = True
                    stream.finish(rec, ok=True)
                    rec.end_states["done"] += 1
                    continue
                chunk = json.loads(data)
                choices = chunk.get("choices")
                if choices:
                    content = choices[0]["delta"].get("content")
                    if content:
                        rec.text(stream, content, received)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.got_done:
            self.stream.finish(self.rec, ok=False, why=f"connection closed before [DONE] ({exc})")


class WSClient(asyncio.Protocol):
    """A WebSocket client of /ws (RFC 6455 by hand: the server's frames are unmasked, ours masked)."""

    def __init__(self, rec: Recorder, stream: Stream, port: int, *, turn: bool) -> None:
        self.rec = rec
        self.stream = stream
        self.port = port
        self.turn = turn  # False: stay idle after hello
        self.buf = bytearray()
        self.upgraded = False
        self.parts: list[bytes] | None = None
        self.next_seq = 0
        self.ended = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Failures are reported through the stream; only idle mode awaits this future.
        self.ready.add_done_callback(lambda f: f.cancelled() or f.exception())

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it
        self.transport = transport
        self.stream.transport = transport
        key = base64.b64encode(os.urandom(16))
        transport.write(
            b"GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: inkstream-bench\r\n\r\n"
            % (HOST.encode(), self.port, key)
        )

    def send(self, opcode: int, payload: bytes) -> None:
        length = len(payload)
        if length < 126:
            header = bytes((0x80 | opcode, 0x80 | length))
        elif length < 65536:
            header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
        mask = os.urandom(4)
        repeated = (mask * (length // 4 + 1))[:length]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(length, "big")
        self.transport.write(header + mask + masked)

    def data_received(self, data: bytes) -> None:
        received = now_us()
        self.rec.bytes_received += len(data)
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                self.fail(f"handshake refused: {bytes(buf[:80])!r}")
                return
            del buf[: end + 4]
            self.upgraded = True
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, start = b1 & 0x7F, pos + 2
            if length == 126:
                if n - pos < 4:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 4], "big"), pos + 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, start = int.from_bytes(buf[pos + 2 : pos + 10], "big"), pos + 10
            if b1 & 0x80:
                self.fail("the server sent a masked frame")
                return
            if n - start < length:
                break
            payload = bytes(buf[start : start + length])
            pos = start + length
            opcode = b0 & 0x0F
            if opcode in (0, 1):
                if not b0 & 0x80:
                    self.parts = (self.parts or []) + [payload]
                    continue
                if opcode == 0 and self.parts is not None:
                    payload = b"".join([*self.parts, payload])
                    self.parts = None
                self.message(payload, received)
            elif opcode == 9:  # uvicorn pings every 20 s and drops sockets that do not answer
                self.send(0xA, payload)
            elif opcode == 8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if not self.ended:
                    self.fail(f"server closed the socket: {code} {payload[2:].decode(errors='replace')}")
                self.transport.close()
                return
        del buf[:pos]

    def message(self, payload: bytes, received: int) -> None:
        rec = self.rec
        frame = json.loads(payload)
        kind = frame.get("type")
        if kind in ("start", "delta", "end"):
            seq = frame.get("seq")
            if seq != self.next_seq:
                rec.error(
                    "seq_gap", f"stream {self.stream.index}: {kind} seq {seq}, expected {self.next_seq}"
                )
            self.next_seq = (seq if isinstance(seq, int) else self.next_seq) + 1
        if kind == "delta":
            rec.text(self.stream, frame.get("text") or "", received)
        elif kind == "hello":
            if not self.ready.done():
                self.ready.set_result(None)
            if self.turn:
                start = {
                    "type": "start",
                    "ref": f"s{self.stream.index}",
                    "messages": [{"role": "user", "content": "hi"}],
                    "max_tokens": self.stream.expected,
                }
                self.send(0x1, json.dumps(start).encode())
        elif kind == "end":
            self.ended = True
            state = frame.get("state")
            rec.end_states[str(state)] += 1
            if state == "done":
                self.stream.finish(rec, ok=True)
            else:
                self.stream.finish(
                    rec, ok=False, why=f"end {state}: {frame.get('error') or frame.get('reason')}"
                )
            self.send(0x8, (1000).to_bytes(2, "big"))
        elif kind == "error":
            rec.error(
                "error_frame", f"stream {self.stream.index}: {frame.get('code')} {frame.get('message')}"
            )

    def fail(self, why: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(why))
        self.stream.finish(self.rec, ok=False, why=why)
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before hello ({exc})"))
        if not self.ended:
            self.stream.finish(self.rec, ok=False, why=f"connection lost before end ({exc})")
        elif not self.stream.done.done():
            self.stream.finish(self.rec, ok=True)


async def client_main(args: argparse.Namespace) -> Recorder | None:
    """Run one phase's share of streams; the recorder, or None in idle mode."""
    loop = asyncio.get_running_loop()
    rec = Recorder(win_start=int(args.win_start * 1e6), win_end=int(args.win_end * 1e6))
    total = int(args.streams)
    rng = random.Random(f"{args.mode}-{total}-{args.index}")
    mine = range(args.index, total, args.procs)
    loop_t0 = loop.time() + (args.t0 - time.time())
    streams: list[Stream] = []
    protocols: list[WSClient] = []

    async def open_one(stream: Stream) -> None:
        try:
            if args.mode == "sse":
                await loop.create_connection(lambda: SSEReader(rec, stream, args.port), HOST, args.port)
            else:
                proto = WSClient(rec, stream, args.port, turn=args.mode == "ws")
                protocols.append(proto)
                await loop.create_connection(lambda: proto, HOST, args.port)
        except OSError as error:
            stream.finish(rec, ok=False, why=f"connect: {error}")

    opening: set[asyncio.Task[None]] = set()  # the loop holds tasks weakly

    def launch(stream: Stream) -> None:
        task = loop.create_task(open_one(stream))
        opening.add(task)
        task.add_done_callback(opening.discard)

    for i in mine:
        stream = Stream(i, args.tokens, loop.create_future())
        streams.append(stream)
        # Random, not evenly spaced: ramp/N may be a multiple of the token period, which would put
        # every stream's tokens at the same instants (see --aligned for when that is wanted).
        offset = rng.uniform(0, args.ramp)
        loop.call_at(loop_t0 + offset, launch, stream)
    quiet_gc()

    if args.mode == "idle":
        await asyncio.sleep(max(0.0, loop_t0 + args.ramp - loop.time()))
        results = await asyncio.wait_for(
            asyncio.gather(*(p.ready for p in protocols), return_exceptions=True), timeout=60
        )
        failures = [str(r) for r in results if isinstance(r, BaseException)]
        missing = len(streams) - len(protocols)
        print(
            json.dumps(
                {
                    "ready": len(results) - len(failures),
                    "failed": len(failures) + missing,
                    "samples": failures[:5],
                }
            ),
            flush=True,
        )
        await loop.run_in_executor(None, sys.stdin.readline)
        for proto in protocols:
            if not proto.transport.is_closing():
                proto.send(0x8, (1000).to_bytes(2, "big"))
        await asyncio.sleep(0.5)
        for proto in protocols:
            proto.transport.close()
        return None

    if streams:
        await asyncio.wait([s.done for s in streams], timeout=max(1.0, args.deadline - time.time()))
    at = now_us()
    for stream in [s for s in streams if not s.done.done()]:
        # Still receiving: the server is behind (overload). Nothing for a while: a stall.
        quiet = (at - stream.last_rx) / 1e6 if stream.last_rx else None
        kind = "unfinished_at_deadline" if quiet is not None and quiet < 5 else "stalled"
        rec.error(
            kind,
            f"stream {stream.index}: {stream.tokens} of {stream.expected} tokens, "
            f"last data {'never' if quiet is None else f'{quiet:.1f} s ago'}",
        )
        stream.done.set_result(None)
        if stream.transport is not None:
            stream.transport.abort()
    await asyncio.sleep(0.2)
    rec.streams = len(streams)
    return rec


def write_results(rec: Recorder, out: str) -> None:
    with open(out + ".delays", "wb") as f:
        rec.delays.tofile(f)
    summary = {
        "streams": rec.streams,
        "completed": rec.completed,
        "tokens_received": rec.tokens_received,
        "frames_received": rec.frames_received,
        "frames_in_window": rec.frames_in_window,
        "tokens_in_window": rec.tokens_in_window,
        "bytes_received": rec.bytes_received,
        "end_states": dict(rec.end_states),
        "errors": dict(rec.errors),
        "error_samples": rec.samples,
        "last_finish": rec.last_end,
        "worst_by_second": {str(k): v for k, v in sorted(rec.worst.items())},
    }
    Path(out).write_text(json.dumps(summary))


# ============================================================================ orchestration


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


def tail(path: Path, lines: int = 40) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def cpu_seconds(proc: Any) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


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


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "—"
    return f"{a / b:.1f}×"


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def report(results: dict[str, Any]) -> str:
    config, machine, rows = results["config"], results["machine"], results["rows"]
    lines = [
        f"Inkstream bridge benchmark: {config['rate']:g} tokens/s per stream, "
        f"{config['seconds']:g} s streams, paragraph every {config['paragraph'] or '∞'} tokens, "
        f"{'aligned' if config['aligned'] else 'random'} "
        f"token phases; {machine['cpus']} CPUs, load before {machine['loadavg_before']}",
        "Delay per token = receive time - upstream write time (ms); added = bridge - baseline.",
        "",
    ]
    head = (
        f"{'N':>5} | {'baseline p50':>12} {'p99':>7} | {'bridge p50':>10} {'p99':>7} | "
        f"{'added p50':>9} {'p99':>7} | {'×baseline p50':>13} {'p99':>6} | {'tokens/s':>8} {'of':>6}"
    )
    lines += [head, "-" * len(head)]
    for row in rows:
        base, bridge = row["baseline"], row["bridge"]
        lines.append(
            f"{row['streams']:>5} | {fmt(base['p50_ms']):>12} {fmt(base['p99_ms']):>7} | "
            f"{fmt(bridge['p50_ms']):>10} {fmt(bridge['p99_ms']):>7} | "
            f"{fmt(diff(bridge['p50_ms'], base['p50_ms'])):>9} "
            f"{fmt(diff(bridge['p99_ms'], base['p99_ms'])):>7} | "
            f"{ratio(bridge['p50_ms'], base['p50_ms']):>13} {ratio(bridge['p99_ms'], base['p99_ms']):>6} | "
            f"{bridge['tokens_per_s']:>8.0f} {bridge['expected_tokens_per_s']:>6.0f}"
        )
    lines.append("")
    head = (
        f"{'N':>5} | {'frames/s':>8} {'tok/frame':>9} | {'server CPU':>10} {'µs/token':>8} {'RSS MB':>6} | "
        f"{'CPU upstream':>12} {'clients':>7} {'others':>6} | {'p99.9':>7} {'max':>7} | "
        f"{'undelivered':>11} {'errors':>6}"
    )
    lines += [head, "-" * len(head)]
    for row in rows:
        base, bridge = row["baseline"], row["bridge"]
        lost = sum(r["tokens_expected"] - r["tokens_received"] for r in (base, bridge))
        errors = sum(sum(r["errors"].values()) for r in (base, bridge))
        lines.append(
            f"{row['streams']:>5} | {bridge['frames_per_s']:>8.0f} {fmt(bridge['tokens_per_frame']):>9} | "
            f"{bridge['cpu_percent']['server']:>9.0f}% {fmt(bridge['server_cpu_us_per_token'], '.0f'):>8} "
            f"{bridge['server_rss_mb']:>6.0f} | {bridge['cpu_percent']['upstream']:>11.0f}% "
            f"{bridge['client_cpu_percent']:>6.0f}% {bridge['other_cpu_percent']:>5.0f}% | "
            f"{fmt(bridge['p999_ms']):>7} {fmt(bridge['max_ms']):>7} | {lost:>11} {errors:>6}"
        )
    lines.append(
        "(bridge phase; CPU in % of one core over the window; others = the rest of the machine; "
        "undelivered tokens and errors count both phases)"
    )
    notes = []
    for row in rows:
        base, bridge = row["baseline"], row["bridge"]
        if base["other_cpu_percent"] > 25 or bridge["other_cpu_percent"] > 25:
            notes.append(
                f"  N={row['streams']}: other processes used {base['other_cpu_percent']:.0f}% (baseline) and "
                f"{bridge['other_cpu_percent']:.0f}% (bridge) of a CPU: figures are disturbed"
            )
        if bridge["drain_s"] > 1:
            notes.append(
                f"  N={row['streams']}: the bridge fell behind; its last stream ended "
                f"{bridge['drain_s']:.1f} s after the upstream's"
            )
        spikes = {k: v for k, v in bridge["worst_ms_by_second"].items() if v > 50}
        if spikes:
            shown = ", ".join(f"{v:.0f} ms at {k} s" for k, v in list(spikes.items())[:6])
            notes.append(
                f"  N={row['streams']}: bridge delays over 50 ms in {len(spikes)} of "
                f"{len(bridge['worst_ms_by_second'])} s of the window: {shown}"
            )
    if notes:
        lines += ["", "Notes:", *notes]
    idle = results.get("idle")
    if idle:
        lines += [
            "",
            f"Idle sockets: {idle['ready']} of {idle['sockets']} open (handshake + hello); server RSS "
            f"{idle['rss_before_mb']:.1f} -> {idle['rss_with_mb']:.1f} MB, "
            f"{idle['rss_after_close_mb']:.1f} MB after closing: "
            f"{fmt(idle['kb_per_socket'], '.1f')} KB per idle socket",
        ]
    lines += ["", "Targets (from the issue; printed, not asserted):"]
    at = next((r for r in rows if r["streams"] == TARGET_P99_AT), None)
    if at is not None:
        added99 = diff(at["bridge"]["p99_ms"], at["baseline"]["p99_ms"])
        verdict = "—" if added99 is None else ("met" if added99 <= TARGET_P99_ADDED_MS else "NOT met")
        lines.append(
            f"  p99 added at {TARGET_P99_AT} streams ≤ {TARGET_P99_ADDED_MS:g} ms: "
            f"{fmt(added99)} ms, {verdict}"
        )
    else:
        lines.append(f"  p99 added at {TARGET_P99_AT} streams: not measured in this run")
    if idle and idle["kb_per_socket"] is not None:
        verdict = "met" if idle["kb_per_socket"] <= TARGET_IDLE_KB else "NOT met"
        lines.append(
            f"  memory per idle socket ≤ {TARGET_IDLE_KB:g} KB: {idle['kb_per_socket']:.1f} KB, {verdict}"
        )
    problems = []
    for row in rows:
        for side in ("baseline", "bridge"):
            r = row[side]
            if r["errors"] or r["tokens_received"] != r["tokens_expected"]:
                problems.append(
                    f"  N={row['streams']} {side}: {r['tokens_received']} of {r['tokens_expected']} tokens, "
                    f"end states {r['end_states']}, errors {r['errors']}"
                )
                problems += [f"    {sample}" for sample in r["error_samples"][:5]]
    if results.get("server_log_problems"):
        problems.append(f"  server log: {len(results['server_log_problems'])} warning/error lines, e.g.:")
        problems += [f"    {line}" for line in results["server_log_problems"][:5]]
    if problems:
        lines += ["", "Problems:", *problems]
    return "\n".join(lines)


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
        upstream = procs.spawn(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--role",
                "upstream",
                "--port",
                str(up_port),
                "--rate",
                str(args.rate),
                "--paragraph",
                str(args.paragraph),
            ]
            + (["--aligned"] if args.aligned else []),
            log=up_log,
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
        "--streams", default="1,50,200,1000", help="concurrent streams per run, comma-separated"
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
    # Internal: the same file runs the upstream and the clients.
    parser.add_argument(
        "--role",
        choices=["orchestrator", "upstream", "client"],
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
    if args.quick:
        args.streams, args.seconds, args.ramp, args.warmup = "1,50", 5.0, 1.0, 1.0
        args.idle = min(args.idle, 200)
    if args.role == "orchestrator" and args.seconds < args.ramp + args.warmup + 1.5:
        parser.error("--seconds must leave at least 1.5 s of window after --ramp and --warmup")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.role == "orchestrator":
        return orchestrate(args)
    raise_fd_limit()
    use_uvloop()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if args.role == "upstream":
            asyncio.run(upstream_main(args.port, args.rate, args.paragraph, args.aligned))
        else:
            rec = asyncio.run(client_main(args))
            if rec is not None:
                write_results(rec, args.out)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
