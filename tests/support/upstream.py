"""A real, deliberately misbehaving OpenAI-compatible upstream for tests.

`FakeUpstream` is an HTTP/1.1 server on 127.0.0.1 written on raw asyncio streams, so a test
decides every byte and every write boundary. It runs its own event loop in a daemon thread, so
sync tests and tests that run their own servers can both use it:

    with FakeUpstream() as upstream:
        upstream.add("m", Scenario(steps=stream_text("Hello world")))
        ...  # point the code under test at upstream.base_url
        upstream.wait_for_disconnect("m")

A `Scenario` scripts each response: status, headers and steps (`Send`, `Sleep`, `Paced`, `Gate`,
`Stall`, `Drop`). Every response says `Connection: close`; the body is chunked (one HTTP chunk per
write) or, with `chunked=False`, ends when the connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from http import HTTPStatus
from itertools import pairwise
from typing import Any, TypeAlias, TypeVar

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
DONE = b"data: [DONE]\n\n"
BOM = b"\xef\xbb\xbf"

_INVALID = "invalid_request_error"
_T = TypeVar("_T")


# --- steps and scenarios ------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """One body write, drained before the next step; when chunked, exactly one HTTP chunk."""

    data: bytes


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Drop:
    """Abort the connection: no terminating chunk, and bytes not yet sent are lost.

    A plain FIN (the default) reads as an error only when the body is chunked ("incomplete chunked
    read"); with `chunked=False` it is a normal end of body. `reset=True` sends a TCP RST instead,
    which httpx reports as `ReadError` either way.
    """

    reset: bool = False


@dataclass(frozen=True)
class Stall:
    """Send nothing more; keep the connection open until the client leaves or the server stops."""


@dataclass(frozen=True)
class Paced:
    """Each item as its own write at a fixed rate, scheduled from the start so it doesn't drift."""

    events: list[bytes]
    per_second: float


class Gate:
    """A step that holds the response until the test calls `open()`, from any thread.

    It lets a test look at the state between two writes without sleeping and hoping. An opened
    gate stays open, so use one per response.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._opened = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def open(self) -> None:
        with self._lock:
            self._opened = True
            waiters, self._waiters = self._waiters, []
        for loop, opened in waiters:
            with contextlib.suppress(RuntimeError):  # that server already stopped
                loop.call_soon_threadsafe(opened.set)

    async def wait(self) -> None:
        opened = asyncio.Event()
        with self._lock:
            if self._opened:
                return
            self._waiters.append((asyncio.get_running_loop(), opened))
        await opened.wait()


Step: TypeAlias = Send | Sleep | Drop | Stall | Paced | Gate


def _sse_headers() -> dict[str, str]:
    return {"content-type": SSE_CONTENT_TYPE}


@dataclass
class Scenario:
    """How to answer a request. A `content-length` header turns chunking off: steps are the body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=_sse_headers)
    steps: list[Step] = field(default_factory=list)
    chunked: bool = True


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # the request target, query string included
    headers: dict[str, str]  # lower-cased names; repeated headers joined with ", "
    body: bytes
    json: Any | None  # None when the body is empty or not JSON
    received_at: float  # time.monotonic() once the whole request had arrived


# --- builders -----------------------------------------------------------------------------------


class Choices(Enum):
    """Special values for `chunk(choices=...)`; a list (even empty) or None is sent as given."""

    DEFAULT = "default"  # one choice built from the delta arguments
    MISSING = "missing"  # no "choices" key at all, as some vLLM builds send the usage chunk


def sse(data: str | dict[str, Any]) -> bytes:
    """One `data:` event; a multi-line string becomes several `data:` lines, as the spec says."""
    if not isinstance(data, str):
        data = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return "".join(f"data: {line}\n" for line in data.split("\n")).encode() + b"\n"


def event(name: str, data: str | None = None) -> bytes:
    """A named event; without data it is the `event: ping` that naive parsers dispatch empty."""
    return f"event: {name}\n".encode() + (b"\n" if data is None else sse(data))


def comment(text: str) -> bytes:
    """A comment plus blank line, like OpenRouter's `: OPENROUTER PROCESSING` keep-alive."""
    return f": {text}\n\n".encode()


def with_line_endings(data: bytes, eol: bytes) -> bytes:
    """LF line endings rewritten as CRLF or bare CR, both legal in SSE."""
    return data.replace(b"\n", eol)


def chunk(
    content: str | None = None,
    *,
    role: str | None = None,
    finish_reason: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    delta_extra: dict[str, Any] | None = None,
    choices: list[dict[str, Any]] | Choices | None = Choices.DEFAULT,
) -> dict[str, Any]:
    """An OpenAI `chat.completion.chunk` whose delta holds only the keys given.

    `extra` is merged into the top-level object (e.g. `obfuscation`), `delta_extra` into the delta
    (e.g. `{"content": None}`, as llama.cpp starts). The usage-only chunk is
    `chunk(usage=..., choices=[])`; vLLM variants pass `choices=None` or `Choices.MISSING`.
    """
    obj: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "fake-model",
    }
    if choices is Choices.DEFAULT:
        given = {"role": role, "content": content, "tool_calls": tool_calls}
        delta = {k: v for k, v in given.items() if v is not None} | (delta_extra or {})
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        obj["choices"] = [choice]
    elif (content, role, finish_reason, tool_calls, delta_extra) != (None,) * 5:
        raise ValueError("delta arguments would be ignored when choices is given explicitly")
    elif choices is not Choices.MISSING:
        obj["choices"] = choices
    if usage is not None:
        obj["usage"] = usage
    return obj | (extra or {})


def tool_fragment(index: int, arguments: str, *, id: str | None = None, name: str | None = None) -> Send:
    """One fragment of a streamed tool call: a call's first names its ``id`` and ``name``, the
    rest carry pieces of its ``arguments`` text, as OpenAI streams them."""
    function: dict[str, Any] = {"arguments": arguments}
    call: dict[str, Any] = {"index": index, "function": function}
    if id is not None:
        call |= {"id": id, "type": "function"}
        function["name"] = name
    return Send(sse(chunk(tool_calls=[call])))


def stream_text(
    text: str,
    *,
    pieces: list[str] | None = None,
    finish_reason: str | None = "stop",
    usage: dict[str, Any] | None = None,
    done: bool = True,
) -> list[Step]:
    """A well-behaved stream: role chunk, content pieces, finish chunk, usage chunk, [DONE].

    `finish_reason=None` leaves the finish chunk out, `done=False` the [DONE] line.
    """
    if pieces is None:
        pieces = [text[i : i + 4] for i in range(0, len(text), 4)]
    elif "".join(pieces) != text:
        raise ValueError("pieces must join to text")
    events = [sse(chunk("", role="assistant")), *(sse(chunk(p)) for p in pieces)]
    if finish_reason is not None:
        events.append(sse(chunk(finish_reason=finish_reason)))
    if usage is not None:
        events.append(sse(chunk(usage=usage, choices=[])))
    if done:
        events.append(DONE)
    return [Send(e) for e in events]


def paced_answer(pieces: list[str], per_second: float) -> Scenario:
    """A well-behaved answer whose content pieces come ``per_second``, then stop and [DONE]."""
    return Scenario(
        steps=[
            Send(sse(chunk("", role="assistant"))),
            Paced([sse(chunk(p)) for p in pieces], per_second),
            Send(sse(chunk(finish_reason="stop"))),
            Send(DONE),
        ]
    )


def split_bytes(data: bytes, at: list[int]) -> list[Step]:
    """One payload as writes cut at exact byte offsets: inside a UTF-8 char, between CR and LF."""
    bounds = [0, *at, len(data)]
    if any(end <= start for start, end in pairwise(bounds)):
        raise ValueError(f"offsets {at} must increase strictly, within 1..{len(data) - 1}")
    return [Send(data[start:end]) for start, end in pairwise(bounds)]


def error_json(
    status: int,
    message: str,
    *,
    code: str | None = None,
    type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Scenario:
    """A JSON error, as upstreams answer before a stream starts; `headers` adds e.g. Retry-After."""
    return _json(status, {"error": {"message": message, "type": type, "code": code}}, headers)


def _json(status: int, obj: object, headers: dict[str, str] | None = None) -> Scenario:
    body = json.dumps(obj).encode()
    length = {"content-type": "application/json", "content-length": str(len(body))}
    return Scenario(status, length | (headers or {}), [Send(body)], chunked=False)


# --- the server ---------------------------------------------------------------------------------


@dataclass
class _Exchange:
    """A request and what became of its response; guarded by `FakeUpstream._cond`."""

    request: RecordedRequest
    writes: list[tuple[float, bytes]] = field(default_factory=list)
    disconnected_at: float | None = None


class FakeUpstream:
    """The server; see the module docstring. Public methods may be called from any thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._scenarios: dict[str, Scenario | list[Scenario]] = {}
        self._requests: list[RecordedRequest] = []
        self._latest: dict[str, _Exchange] = {}  # by model, chat completions with a scenario
        self._errors: list[Exception] = []
        self._handlers: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._listening = threading.Event()
        self._port: int | None = None

    def __enter__(self) -> FakeUpstream:
        if self._thread is not None:
            raise RuntimeError("a FakeUpstream can be started only once")
        self._thread = threading.Thread(target=self._run, name="fake-upstream", daemon=True)
        self._thread.start()
        self._listening.wait(10)
        if self._port is None:
            self._shut_down()
            raise RuntimeError("fake upstream failed to start") from self._first_error()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._shut_down()
        # A crashed handler means a broken scenario: fail the test, unless it already failed.
        if exc_info[0] is None and (error := self._first_error()) is not None:
            raise RuntimeError("fake upstream handler failed") from error

    def _shut_down(self) -> None:
        if self._loop is not None and self._stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                raise RuntimeError("fake upstream thread did not stop")

    def _first_error(self) -> Exception | None:
        with self._cond:
            return self._errors[0] if self._errors else None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the fake upstream is not running; use it as a context manager")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add(self, model: str, scenario: Scenario | list[Scenario]) -> None:
        """How ``model`` answers; a list answers its requests in turn (a tool round's follow-up
        gets the next), the last one from then on."""
        with self._cond:
            self._scenarios[model] = scenario

    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    def wait_for_request(self, model: str, timeout: float = 5.0) -> RecordedRequest:
        """The latest request naming `model` (any path, even a 404), waiting for one to arrive."""

        def latest() -> RecordedRequest | None:
            for request in reversed(self._requests):
                if isinstance(request.json, dict) and request.json.get("model") == model:
                    return request
            return None

        return self._wait(latest, timeout, f"no request for model {model!r}")

    def wait_for_disconnect(self, model: str, timeout: float = 5.0) -> float:
        """time.monotonic() at which the client closed the latest response for `model`.

        Only a close by the client while the steps still run counts: a scenario that ends or drops
        the connection by itself never reports one.
        """

        def disconnected_at() -> float | None:
            exchange = self._latest.get(model)
            return None if exchange is None else exchange.disconnected_at

        return self._wait(disconnected_at, timeout, f"the client did not leave {model!r}")

    def writes(self, model: str) -> list[tuple[float, bytes]]:
        """(time.monotonic(), payload) of each body write of the latest response for `model`.

        Payloads exclude chunk framing; each time is taken once the kernel had the bytes.
        """
        with self._cond:
            if model not in self._latest:
                raise KeyError(f"no chat completion request for model {model!r} yet")
            return list(self._latest[model].writes)

    def _wait(self, get: Callable[[], _T | None], timeout: float, failure: str) -> _T:
        with self._cond:
            if not self._cond.wait_for(lambda: get() is not None, timeout):
                raise TimeoutError(f"{failure} within {timeout}s")
            found = get()
            assert found is not None
            return found

    # --- in the server's thread ---

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:
            with self._cond:
                self._errors.append(exc)
        finally:
            self._listening.set()  # never leave __enter__ waiting on a server that died

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self._port = server.sockets[0].getsockname()[1]
        self._listening.set()
        try:
            await self._stop.wait()
        finally:
            server.close()
            # A connection accepted just now has a task that hasn't started; cancelled before its
            # first step, it would skip its cleanup and leak the socket. Let it register first.
            await asyncio.sleep(0)
            for task in self._handlers:
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()
            # Aborted transports close their sockets in callbacks already queued; run them before
            # the loop closes, or the sockets leak as ResourceWarnings.
            await asyncio.sleep(0)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        # asyncio sets TCP_NODELAY by default, but the latency tests depend on it: make it explicit.
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._serve(reader, writer)
            await _close(writer)
        except asyncio.CancelledError:
            # Only our shutdown cancels a handler, so end the task normally: 3.11's start_server
            # calls task.exception() on it, which raises for a cancelled task and logs an error.
            pass
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client left or sent garbage; nothing to answer
        except Exception as exc:
            with self._cond:
                self._errors.append(exc)
        finally:
            writer.transport.abort()  # a no-op after a clean close; else don't wait for the client
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await _read_request(reader)
        route = (request.method, request.path.split("?", 1)[0])
        model = request.json.get("model") if isinstance(request.json, dict) else None
        exchange = _Exchange(request)
        with self._cond:
            self._requests.append(request)
            given = self._scenarios.get(model) if isinstance(model, str) else None
            scenario = (given.pop(0) if len(given) > 1 else given[0]) if isinstance(given, list) else given
            if route == ("GET", "/v1/models"):
                data = [_model_entry(m) for m in self._scenarios]
                scenario = _json(200, {"object": "list", "data": data})
            elif route != ("POST", "/v1/chat/completions"):
                scenario = error_json(404, f"no route for {' '.join(route)}", type=_INVALID)
            elif not isinstance(model, str):
                scenario = error_json(400, "body is not a JSON object with a model", type=_INVALID)
            elif scenario is None:
                message = f"model '{model}' not found"
                scenario = error_json(404, message, code="model_not_found", type=_INVALID)
            else:
                self._latest[model] = exchange
            self._cond.notify_all()

        names = {name.lower() for name in scenario.headers}
        headers = list(scenario.headers.items())
        chunked = scenario.chunked and "content-length" not in names
        if chunked:
            headers.append(("transfer-encoding", "chunked"))
        if "connection" not in names:
            headers.append(("connection", "close"))
        writer.write(_head(scenario.status, headers))
        await writer.drain()

        # The client's close must be seen even while a step sleeps or stalls, so a second task
        # waits for EOF alongside the steps, and whichever finishes first decides.
        steps = asyncio.create_task(self._steps(writer, scenario.steps, exchange, chunked))
        watch = asyncio.create_task(_wait_for_eof(reader))
        try:
            done, _ = await asyncio.wait({steps, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            steps.cancel()
            watch.cancel()
            await asyncio.gather(steps, watch, return_exceptions=True)
        # The steps' verdict wins: after a Drop the watcher sees EOF too, but of our own making.
        lost_at = steps.result() if steps in done else watch.result()
        if lost_at is not None:
            if watch in done and not watch.cancelled():
                lost_at = min(lost_at, watch.result())
            with self._cond:
                exchange.disconnected_at = lost_at
                self._cond.notify_all()
            writer.transport.abort()

    async def _steps(
        self, writer: asyncio.StreamWriter, steps: list[Step], exchange: _Exchange, chunked: bool
    ) -> float | None:
        """Play the steps; return when the client was found gone, or None if the script ended."""
        try:
            for step in steps:
                match step:
                    case Send(data=data):
                        await self._send(writer, data, exchange, chunked)
                    case Sleep(seconds=seconds):
                        await asyncio.sleep(seconds)
                    case Paced(events=events, per_second=per_second):
                        loop = asyncio.get_running_loop()
                        start = loop.time()
                        for i, data in enumerate(events):
                            await asyncio.sleep(max(0.0, start + i / per_second - loop.time()))
                            await self._send(writer, data, exchange, chunked)
                    case Gate():
                        await step.wait()
                    case Stall():
                        await asyncio.get_running_loop().create_future()
                    case Drop(reset=reset):
                        if reset:  # zero linger: close() sends RST instead of FIN
                            linger = struct.pack("ii", 1, 0)
                            sock = writer.get_extra_info("socket")
                            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                        writer.transport.abort()
                        return None
                    case _:
                        raise TypeError(f"not a step: {step!r}")
            if chunked:
                writer.write(b"0\r\n\r\n")
                await writer.drain()
        except ConnectionError:
            return time.monotonic()
        return None

    async def _send(
        self, writer: asyncio.StreamWriter, data: bytes, exchange: _Exchange, chunked: bool
    ) -> None:
        if chunked and not data:
            return  # an empty chunk would end the body
        writer.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        with self._cond:
            exchange.writes.append((time.monotonic(), data))
        await writer.drain()


# --- HTTP plumbing ------------------------------------------------------------------------------


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest:
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _version = request_line.split(" ", 2)
    headers: dict[str, str] = {}
    for line in filter(None, lines):
        name, _, value = line.partition(":")
        key, value = name.strip().lower(), value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    return RecordedRequest(method, target, headers, body, parsed, time.monotonic())


async def _wait_for_eof(reader: asyncio.StreamReader) -> float:
    with contextlib.suppress(OSError):
        while await reader.read(65536):
            pass  # bytes after the request are ignored; only the close matters
    return time.monotonic()


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1")


def _model_entry(model: str) -> dict[str, object]:
    return {"id": model, "object": "model", "created": 0, "owned_by": "fake-upstream"}


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close and wait until the transport is gone, so no socket outlives the server's loop."""
    writer.close()
    try:
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
    except TimeoutError:
        # A client that stopped reading keeps our send buffer full; give up on flushing it.
        writer.transport.abort()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    except OSError:
        pass
