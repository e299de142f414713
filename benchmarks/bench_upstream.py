"""The fake upstream: an OpenAI-compatible ``POST /v1/chat/completions`` on raw uvloop, streaming
each answer as SSE at a fixed token rate, every token stamped with its write time."""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from pathlib import Path
from typing import cast

from bench_runtime import HOST, quiet_gc

CHUNK_HEAD = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"bench","system_fingerprint":"fp_bench","choices":[{"index":0,"delta":{"content":"'
)
CHUNK_TAIL = b'"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
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
                transport.write(_chunk(CHUNK_HEAD + word + CHUNK_TAIL))
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


def upstream_argv(script: Path, port: int, rate: float, paragraph: int, aligned: bool) -> list[str]:
    """How the orchestrators start this upstream: ``script`` (bridge.py) in its upstream role."""
    argv = [sys.executable, str(script), "--role", "upstream", "--port", str(port), "--rate", str(rate)]
    return [*argv, "--paragraph", str(paragraph), *(["--aligned"] if aligned else [])]
