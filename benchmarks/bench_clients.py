"""The load clients: direct SSE readers of the upstream and WebSocket clients of the bridge, both
raw asyncio protocols, and the recorder of what one client process saw."""

from __future__ import annotations

import argparse
import array
import asyncio
import base64
import json
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from bench_runtime import HOST, MODEL, quiet_gc

# Must match the words bench_upstream writes, or no delay is ever recorded.
TOKEN = re.compile(r"w(\d+)n(\d+) ")


def now_us() -> int:
    return time.time_ns() // 1000


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
                    "text": "hi",
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
