"""The demo model's HTTP endpoint: an OpenAI-compatible server inside Inkstream (edge).

The main app mounts it at ``/demo``, and the bridge calls it over real HTTP like any other
upstream, so the demo exercises the same code path as production: connection, status codes,
SSE parsing, keep-alives, usage, errors. Everything that decides *what* to send is pure and
lives in ``scripts``, ``tokens``, ``wire`` and ``pace``; this module only reads the request,
keeps time and writes bytes.

When the client goes away, Starlette cancels the response (uvicorn speaks ASGI 2.3, so
``StreamingResponse`` races the body against ``http.disconnect``). The stream generator only
ever awaits ``asyncio.sleep`` and starts no tasks, so cancelling it stops everything at once.
Should a server deliver disconnects as send errors instead (ASGI 2.4), the keep-alive written
after a second of silence bounds how long a stream can outlive its client.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import ConfigError
from .pace import UNPACED_TOKENS_PER_SECOND, Pace
from .resume import rest_chunks
from .scripts import Answers, Kind, Script, choose
from .tokens import tokenize
from .tools import Piece, Plan, plan
from .wire import (
    DONE,
    KEEP_ALIVE,
    ChatRequest,
    ChunkEncoder,
    Rejection,
    Usage,
    completion,
    error_body,
    error_event,
    parse_request,
)

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "inkstream-demo"
FAST_MODEL = "inkstream-demo-fast"  # no wait, no pace: for load tests and quick checks

# A fixed date (2025-01-01), so that the model list is the same on every run.
_CREATED = 1_735_689_600
# The bridge sends whole conversations, and a conversation can hold a few `huge` answers;
# anything far beyond that is not a chat request.
_MAX_BODY_BYTES = 16 * 1024 * 1024
# Events per write when chunks fall due together (unpaced, or catching up after a stall):
# big enough to be cheap, small enough to let other streams run in between.
_BATCH = 64
_KEEP_ALIVE_AFTER = 1.0  # seconds of silence before a `: keep-alive` comment


def create_demo_app(*, ttft: float, tokens_per_second: float) -> Starlette:
    """The demo model as an ASGI app serving ``/v1/models`` and ``/v1/chat/completions``.

    ``ttft`` is the wait before the first token of every answer, in seconds;
    ``tokens_per_second`` the pace after it (10,000 or more means as fast as possible).
    """
    try:
        pace = Pace(ttft=ttft, tokens_per_second=tokens_per_second)
    except ValueError as exc:
        raise ConfigError(f"demo model: {exc}") from None
    demo = _DemoModel(pace)
    return Starlette(
        routes=[
            Route("/v1/models", demo.models, methods=["GET"]),
            Route("/v1/chat/completions", demo.chat_completions, methods=["POST"]),
        ],
        exception_handlers={HTTPException: _http_exception},
    )


@dataclass(frozen=True, kw_only=True)
class _Reply:
    """Everything one streamed reply needs, decided before the first byte."""

    id: str
    script: Script
    chunks: tuple[Piece, ...]
    finish_reason: str  # when the script ends normally and max_tokens did not cut it
    truncated: bool  # max_tokens cut the answer short
    pace: Pace
    encoder: ChunkEncoder
    usage: Usage | None  # set when the client asked for the usage chunk


class _DemoModel:
    """The routes, with what they share for the app's lifetime."""

    def __init__(self, pace: Pace) -> None:
        self._paces = {
            DEFAULT_MODEL: pace,
            FAST_MODEL: Pace(ttft=0.0, tokens_per_second=UNPACED_TOKENS_PER_SECOND),
        }
        self._answers = Answers.load()
        # Scripted texts never change, and cutting `huge` takes tens of milliseconds: each
        # is cut once per app, on first use.
        self._chunks: dict[str, tuple[str, ...]] = {}
        self._ids = itertools.count(1)

    async def models(self, request: Request) -> Response:
        data = [
            {"id": model, "object": "model", "created": _CREATED, "owned_by": "inkstream"}
            for model in self._paces
        ]
        return JSONResponse({"object": "list", "data": data})

    async def chat_completions(self, request: Request) -> Response:
        body = await _read_body(request)
        if body is None:
            return JSONResponse(
                error_body(
                    f"The request body is larger than {_MAX_BODY_BYTES // (1024 * 1024)} MiB.",
                    code="request_too_large",
                ),
                status_code=413,
            )
        parsed = parse_request(body, models=self._paces.keys())
        if isinstance(parsed, Rejection):
            return JSONResponse(parsed.to_wire(), status_code=parsed.status)

        script = choose(parsed.prompt, self._answers)
        failure = script.failure
        if script.kind is Kind.HTTP_ERROR and failure is not None:
            headers: dict[str, str] = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            return JSONResponse(failure.to_wire(), status_code=failure.status, headers=headers)

        planned: Plan | None = None
        chunks: tuple[Piece, ...]
        if script.kind is Kind.SCENARIO:
            planned = plan(script.name, tools=parsed.tools, rounds=parsed.rounds)
            chunks = planned.pieces()
            if parsed.continues is not None and planned.text and not planned.calls:
                chunks = rest_chunks(tokenize(planned.text), parsed.continues)
        else:
            chunks = self._chunks_of(script)
            if parsed.continues is not None and script.text:
                chunks = rest_chunks(self._chunks_of(script), parsed.continues)
        finish_reason = planned.finish_reason if planned is not None else "stop"
        truncated = parsed.max_tokens is not None and len(chunks) > parsed.max_tokens
        if truncated:
            chunks = chunks[: parsed.max_tokens]
        pace = self._paces[parsed.model]
        if script.tokens_per_second is not None and not pace.unpaced:
            pace = Pace(ttft=pace.ttft, tokens_per_second=script.tokens_per_second)
        reply_id = f"chatcmpl-demo-{next(self._ids)}"
        created = int(time.time())
        usage = Usage(prompt_tokens=parsed.prompt_tokens, completion_tokens=len(chunks))

        if not parsed.stream:
            return await _whole_reply(parsed, script, planned, chunks, truncated, pace, reply_id, usage)

        encoder = ChunkEncoder(
            id=reply_id, created=created, model=parsed.model, include_usage=parsed.include_usage
        )
        reply = _Reply(
            id=reply_id,
            script=script,
            chunks=chunks,
            finish_reason=finish_reason,
            truncated=truncated,
            pace=pace,
            encoder=encoder,
            usage=usage if parsed.include_usage else None,
        )
        return StreamingResponse(
            _stream(reply),
            media_type="text/event-stream",
            # no-transform and X-Accel-Buffering stop proxies from holding events back.
            headers={"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"},
        )

    def _chunks_of(self, script: Script) -> tuple[str, ...]:
        if script.name == "echo":
            return tuple(tokenize(script.text))
        chunks = self._chunks.get(script.name)
        if chunks is None:
            chunks = self._chunks[script.name] = tuple(tokenize(script.text))
        return chunks


async def _stream(reply: _Reply) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    chunks, pace, encoder = reply.chunks, reply.pace, reply.encoder
    total = len(chunks)
    sent = 0
    complete = False
    try:
        # The role goes out at once, so the client has a live stream during the first wait.
        yield encoder.role()
        last_write = loop.time()
        while sent < total:
            now = loop.time()
            ready = pace.ready(now - start, total)
            if ready > sent:
                end = min(ready, sent + _BATCH)
                yield encoder.pieces(chunks[sent:end])
                sent = end
                last_write = loop.time()
                if sent < ready:
                    # Still behind: give the rest of the server a turn between batches.
                    await asyncio.sleep(0)
                continue
            due = start + pace.due(sent)
            if due - last_write > _KEEP_ALIVE_AFTER:
                await asyncio.sleep(max(0.0, last_write + _KEEP_ALIVE_AFTER - now))
                yield KEEP_ALIVE
                last_write = loop.time()
            else:
                await asyncio.sleep(due - now)

        # max_tokens ends any script normally, before a scripted failure would have come.
        if reply.truncated or reply.script.kind in (Kind.ANSWER, Kind.SCENARIO):
            yield encoder.finish("length" if reply.truncated else reply.finish_reason)
            if reply.usage is not None:
                yield encoder.usage(reply.usage)
            yield DONE
        elif reply.script.kind is Kind.STREAM_ERROR and reply.script.failure is not None:
            yield error_event(reply.script.failure.to_wire())
        # Kind.INCOMPLETE: the body just ends, as when an upstream drops the connection.
        complete = True
    finally:
        if not complete:
            logger.debug("%s: client left after %d of %d chunks", reply.id, sent, total)


async def _whole_reply(
    request: ChatRequest,
    script: Script,
    planned: Plan | None,
    chunks: tuple[Piece, ...],
    truncated: bool,
    pace: Pace,
    reply_id: str,
    usage: Usage,
) -> Response:
    # A real server answers a non-streamed request once the whole answer is written; waiting
    # that long for `huge` would help nobody, so only the time to first token is kept.
    await asyncio.sleep(pace.ttft)
    if script.kind is Kind.STREAM_ERROR and script.failure is not None:
        # Without a stream, a failure mid-answer can only be an error status.
        return JSONResponse(script.failure.to_wire(), status_code=script.failure.status)
    # An answer the upstream never finished is reported as cut short.
    finish_reason = "stop" if script.kind is Kind.ANSWER and not truncated else "length"
    if planned is not None and not truncated:
        finish_reason = planned.finish_reason
    body = completion(
        id=reply_id,
        created=int(time.time()),
        model=request.model,
        content="".join(chunk for chunk in chunks if isinstance(chunk, str)),
        finish_reason=finish_reason,
        usage=usage,
        reasoning=planned.reasoning if planned is not None and not truncated else "",
        tool_calls=planned.calls if planned is not None and not truncated else (),
    )
    return JSONResponse(body)


async def _read_body(request: Request) -> bytes | None:
    """The request body, or None if it is over the size limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _MAX_BODY_BYTES:
        return None
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > _MAX_BODY_BYTES:
            return None
    return bytes(body)


async def _http_exception(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods answer in OpenAI's error shape, not Starlette's plain text."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    headers = exc.headers if isinstance(exc, HTTPException) else None
    message = f"Invalid URL ({request.method} {request.url.path})"
    if status == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}."
    return JSONResponse(error_body(message), status_code=status, headers=headers)
