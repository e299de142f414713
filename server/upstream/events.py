"""One OpenAI ``chat.completion.chunk`` (the data of one SSE event) -> typed upstream events.

Pure: no I/O. Tolerant where real servers differ (usage chunks with ``choices`` empty, null or
missing; ``content: null``; unknown fields such as ``obfuscation``), strict where continuing
would show the user something wrong (an ``error`` object, data that is not JSON).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..errors import UpstreamProtocolError, UpstreamStreamError
from ..text import clean_text, shorten

MAX_SHOWN = 200  # characters of a bad event quoted back in an error message


@dataclass(frozen=True, slots=True)
class RoleDelta:
    role: str


@dataclass(frozen=True, slots=True)
class ContentDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """The model's thinking, apart from its answer (``reasoning_content``: DeepSeek, Qwen,
    vLLM; ``reasoning``: OpenRouter, Ollama)."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call; ``arguments`` pieces are joined in order per ``index``."""

    index: int
    id: str | None
    name: str | None
    arguments: str


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None

    def to_wire(self) -> dict[str, int]:
        wire = {}
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            value = getattr(self, name)
            if value is not None:
                wire[name] = value
        return wire


@dataclass(frozen=True, slots=True)
class Done:
    """``data: [DONE]``: the upstream says the stream is complete."""


UpstreamEvent = RoleDelta | ContentDelta | ReasoningDelta | ToolCallDelta | Finish | Usage | Done


def parse_event(data: str) -> list[UpstreamEvent]:
    """Events carried by one SSE data payload, in wire order."""
    if data.startswith("[DONE]"):
        return [Done()]
    try:
        chunk = json.loads(data)
    except (ValueError, RecursionError):
        raise UpstreamProtocolError(
            f"The upstream sent an event that is not JSON: {shorten(data, MAX_SHOWN)}"
        ) from None
    if not isinstance(chunk, dict):
        raise UpstreamProtocolError(
            f"The upstream sent an event that is not an object: {shorten(data, MAX_SHOWN)}"
        )
    error = chunk.get("error")
    if error:
        raise _stream_error(error)
    events: list[UpstreamEvent] = []
    choices = chunk.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            # n > 1 is not something a chat UI shows; the first choice is the answer.
            if isinstance(choice, dict) and _int(choice.get("index", 0)) == 0:
                _choice_events(choice, events)
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        events.append(
            Usage(
                prompt_tokens=_int(usage.get("prompt_tokens")),
                completion_tokens=_int(usage.get("completion_tokens")),
                total_tokens=_int(usage.get("total_tokens")),
            )
        )
    return events


def _choice_events(choice: dict[str, Any], out: list[UpstreamEvent]) -> None:
    delta = choice.get("delta")
    if isinstance(delta, dict):
        role = delta.get("role")
        if isinstance(role, str) and role:
            out.append(RoleDelta(role))
        for key in ("reasoning_content", "reasoning"):
            reasoning = delta.get(key)
            if isinstance(reasoning, str) and reasoning:
                out.append(ReasoningDelta(reasoning))
                break  # a server that sends both sends the same text twice
        content = delta.get("content")
        if isinstance(content, str) and content:
            out.append(ContentDelta(content))
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            out.append(ContentDelta(refusal))
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for position, call in enumerate(tool_calls):
                if isinstance(call, dict):
                    out.append(_tool_call(call, position))
        function_call = delta.get("function_call")
        if isinstance(function_call, dict):
            out.append(_tool_call({"index": 0, "function": function_call}, 0))
    reason = choice.get("finish_reason")
    if isinstance(reason, str) and reason:
        out.append(Finish(reason))


def _tool_call(call: dict[str, Any], position: int) -> ToolCallDelta:
    function = call.get("function")
    function = function if isinstance(function, dict) else {}
    index = call.get("index")
    name = function.get("name")
    arguments = function.get("arguments")
    call_id = call.get("id")
    return ToolCallDelta(
        # Old Ollama left out ``index``; the position in the list is the best stand-in.
        index=index if _int(index) is not None else position,  # type: ignore[arg-type]
        id=call_id if isinstance(call_id, str) else None,
        name=name if isinstance(name, str) else None,
        arguments=arguments if isinstance(arguments, str) else "",
    )


def _stream_error(error: object) -> UpstreamStreamError:
    if isinstance(error, dict):
        message = error.get("message")
        code = error.get("code")
        status = _int(code)
        upstream_code = code if isinstance(code, str) else error.get("type")
        return UpstreamStreamError(
            clean_text(message)
            if isinstance(message, str) and message
            else "The upstream reported an error.",
            status=status,
            upstream_code=upstream_code if isinstance(upstream_code, str) else None,
        )
    return UpstreamStreamError(f"The upstream reported an error: {shorten(str(error), MAX_SHOWN)}")


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
