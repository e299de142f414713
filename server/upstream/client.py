"""The upstream model server, over the app's one shared ``httpx.AsyncClient`` (edge).

Every httpx failure is translated here, once, into our own ``UpstreamError`` tree, with a
message a user can act on and never the API key in it.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from ..errors import (
    UpstreamDisconnected,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
)
from ..settings import Settings
from ..text import clean_text, shorten
from .events import ContentDelta, Done, Finish, UpstreamEvent, parse_event
from .messages import Message
from .sse import EventDecoder
from .transport import PUMP, ResponseStream, StreamingTransport

MAX_ERROR_BODY = 64 * 1024
MAX_ERROR_TEXT = 500  # characters of an upstream's error message quoted to the user
_KEY_SHAPE = re.compile(r"\b(?:sk|rk|pk|key)[-_][A-Za-z0-9_\-*.]{6,}")


def create_client(settings: Settings) -> httpx.AsyncClient:
    """The shared client, on our own transport (transport.py says why). Its limits are explicit:
    httpx's default of 100 connections would silently cap the bridge at 100 concurrent answers."""
    return httpx.AsyncClient(
        transport=StreamingTransport(
            max_connections=settings.max_upstream_connections,
            max_keepalive=min(200, settings.max_upstream_connections),
        ),
        timeout=httpx.Timeout(
            connect=settings.connect_timeout,
            read=settings.idle_timeout,  # per read: a keep-alive comment resets it
            write=30.0,
            pool=settings.connect_timeout,
        ),
        follow_redirects=False,
        trust_env=False,
    )


class Upstream:
    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self._base = settings.upstream_base_url
        self._key = settings.openai_api_key
        self._idle = settings.idle_timeout
        self._client = client

    def _headers(self, accept: str) -> dict[str, str]:
        headers = {"Accept": accept}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        return headers

    async def models(self) -> list[dict[str, Any]]:
        """``GET /models``: the upstream's model list."""
        with self._translated():
            response = await self._client.get(
                f"{self._base}/models", headers=self._headers("application/json")
            )
            if response.status_code >= 400:
                raise self._status_error(response, response.content[:MAX_ERROR_BODY])
            try:
                data = response.json()
            except ValueError:
                raise UpstreamProtocolError("The upstream's model list is not JSON.") from None
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise UpstreamProtocolError("The upstream's model list has no 'data' list.")
        return [item for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]

    async def chat(
        self,
        *,
        model: str,
        messages: tuple[Message, ...],
        max_tokens: int | None = None,
        extra: Mapping[str, Any] | None = None,
        more: Sequence[Mapping[str, Any]] = (),
        tools: Sequence[Mapping[str, Any]] = (),
        on_events: Callable[[list[UpstreamEvent]], bool],
    ) -> None:
        """Stream one chat completion. ``on_events`` gets the events of each network read as
        it arrives and returns True to stop reading (``[DONE]``: some servers keep the
        connection open after it). ``extra``: more fields of the request body (a continuation's
        flags, turns/continuation.py); ``more``: messages after ``messages`` as the wire has
        them (a tool round's calls and results, turns/rounds.py); ``tools``: the tools offered.
        Returns when the stream has ended; cancel to hang up."""
        body: dict[str, Any] = {
            **(extra or {}),
            "model": model,
            "messages": [m.to_wire() for m in messages] + [dict(m) for m in more],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if tools:
            body["tools"] = [dict(tool) for tool in tools]
        headers = self._headers("text/event-stream")
        # Compressed event streams arrive in bursts (the compressor buffers), and decoding
        # them costs CPU per read: ask for the bytes as they are.
        headers["Accept-Encoding"] = "identity"
        with self._translated():
            async with self._client.stream(
                "POST", f"{self._base}/chat/completions", json=body, headers=headers
            ) as response:
                if response.status_code >= 300:
                    raw = await _read_limited(response, MAX_ERROR_BODY)
                    raise self._status_error(response, raw)
                media = response.headers.get("content-type", "").partition(";")[0].strip().lower()
                if media == "application/json":
                    # Some servers ignore stream: true; take the whole answer as one delta.
                    on_events(_whole_completion(await _read_limited(response, 64 * 1024 * 1024)))
                    return
                if media != "text/event-stream":
                    raise UpstreamProtocolError(
                        f"The upstream answered with {media or 'no content type'}, not an event stream."
                    )
                decoder = EventDecoder()

                def feed(chunk: bytes) -> bool:
                    return _deliver(decoder.feed(chunk), on_events)

                stream = response.extensions.get(PUMP)
                if isinstance(stream, ResponseStream) and not response.headers.get("content-encoding"):
                    stopped = await stream.pump(feed)
                else:
                    stopped = False
                    async for chunk in response.aiter_bytes():
                        if feed(chunk):
                            stopped = True
                            break
                if not stopped:
                    _deliver(decoder.close(), on_events)

    def _translated(self) -> _Translate:
        return _Translate(self._base, self._idle, self._key)

    def _status_error(self, response: httpx.Response, raw: bytes) -> UpstreamStatusError:
        status = response.status_code
        message, code = _error_detail(raw)
        reason = response.reason_phrase or ""
        text = f"The upstream answered {status}{' ' + reason if reason else ''}"
        if message:
            text += f": {message}"
        return UpstreamStatusError(
            _redact(text, self._key),
            status=status,
            upstream_code=code,
            retry_after=_retry_after(response.headers.get("retry-after")),
        )


class _Translate:
    """Context manager: httpx exceptions -> ours, with the key scrubbed from messages."""

    def __init__(self, base: str, idle: float, key: str | None) -> None:
        self._base = base
        self._idle = idle
        self._key = key

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> None:
        if error is None or isinstance(error, UpstreamError) or not isinstance(error, Exception):
            if isinstance(error, UpstreamError):
                error.message = _redact(error.message, self._key)
                error.args = (error.message,)
            return
        translated = self._translate(error)
        if translated is not None:
            raise translated from error

    def _translate(self, error: Exception) -> UpstreamError | None:
        if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout):
            return UpstreamTimeout(f"Could not connect to the upstream at {self._base} in time.")
        if isinstance(error, httpx.ReadTimeout):
            return UpstreamTimeout(f"The upstream sent nothing for {self._idle:g} s; giving up.")
        if isinstance(error, httpx.TimeoutException):
            return UpstreamTimeout("The upstream timed out.")
        if isinstance(error, httpx.ConnectError):
            return UpstreamDisconnected(f"Could not connect to the upstream at {self._base}.")
        if isinstance(error, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return UpstreamDisconnected("The upstream closed the connection in the middle of the answer.")
        if isinstance(error, httpx.HTTPError):
            return UpstreamDisconnected(_redact(f"Upstream request failed: {error}", self._key))
        return None


def _deliver(events: list[ServerSentEvent], on_events: Callable[[list[UpstreamEvent]], bool]) -> bool:
    """Parse one read's events and hand them over; what came before a bad event still goes."""
    parsed: list[UpstreamEvent] = []
    failure: UpstreamError | None = None
    for sse in events:
        try:
            parsed += parse_event(sse.data)
        except UpstreamError as error:
            failure = error
            break
    stop = on_events(parsed) if parsed else False
    if failure is not None:
        raise failure
    return stop


async def _read_limited(response: httpx.Response, limit: int) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])


def _error_detail(raw: bytes) -> tuple[str, str | None]:
    """The message and code of an error body: OpenAI's shape, or the common other ones."""
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return _quote(text), None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail") or error.get("msg")
            code = error.get("code") or error.get("type")
            return _quote(str(message) if message else text), None if code is None else clean_text(str(code))
        if isinstance(error, str):
            return _quote(error), None
    return _quote(text), None


def _quote(text: str) -> str:
    """Part of an upstream's error body, fit to show the user."""
    return shorten(clean_text(text), MAX_ERROR_TEXT)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if parsed is None:
            return None
        seconds = parsed.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return max(0.0, round(seconds, 3))


def _whole_completion(raw: bytes) -> list[UpstreamEvent]:
    try:
        data = json.loads(raw)
        message = data["choices"][0]["message"]
        content = message.get("content") or ""
        reason = data["choices"][0].get("finish_reason") or "stop"
    except (ValueError, KeyError, IndexError, TypeError, AttributeError, RecursionError):
        raise UpstreamProtocolError("The upstream sent JSON that is not a chat completion.") from None
    events: list[UpstreamEvent] = []
    if isinstance(content, str) and content:
        events.append(ContentDelta(content))
    events += [Finish(str(reason)), Done()]
    return events


def _redact(text: str, key: str | None) -> str:
    """Take the key out of a message, and anything shaped like one: upstreams quote a masked
    key back ("Incorrect API key provided: sk-proj-****abcd")."""
    if key and len(key) >= 4:
        text = text.replace(key, "[redacted]")
    return _KEY_SHAPE.sub("[redacted]", text)
