"""The OpenAI Chat Completions wire format as the demo model speaks it (pure).

Requests are checked the way api.openai.com checks them, with the same error shapes, so the
bridge's error handling meets realistic input when it talks to the demo. Fields the demo does
not use (temperature, tool_choice, ...) are accepted and ignored, as a real server would; of
``tools`` it reads the function names, and of the messages after the last user message the
assistant's ``tool_calls`` and the ``tool`` results that answer them (``tools.py``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from .resume import given_text
from .tokens import tokenize
from .tools import CallFragment, Exchange, Piece, PlannedCall, Reasoning, Round

DONE: Final = b"data: [DONE]\n\n"
KEEP_ALIVE: Final = b": keep-alive\n\n"

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})

# What OpenAI counts around each message and before the reply: the usage numbers then look
# like the real thing for short prompts.
_TOKENS_PER_MESSAGE = 3
_TOKENS_PER_REPLY = 3


@dataclass(frozen=True, kw_only=True)
class ChatRequest:
    model: str
    prompt: str  # the text of the last user message; "" if there is none
    continues: str | None = None  # the answer's text it asks to continue (resume.py)
    prompt_tokens: int
    stream: bool
    include_usage: bool
    max_tokens: int | None
    tools: frozenset[str] | None = None  # the functions offered; None when ``tools`` is absent
    rounds: tuple[Round, ...] = ()  # assistant tool calls after the last user message


@dataclass(frozen=True, kw_only=True)
class Rejection:
    """A request refused before any work, with OpenAI's status and error body."""

    status: int
    message: str
    param: str | None = None
    code: str | None = None

    def to_wire(self) -> dict[str, object]:
        return error_body(self.message, param=self.param, code=self.code)


@dataclass(frozen=True, kw_only=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    def to_wire(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, object]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def parse_request(body: bytes, *, models: Collection[str]) -> ChatRequest | Rejection:
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return Rejection(status=400, message=f"We could not parse the JSON body of your request: {exc}.")
    if not isinstance(data, dict):
        return Rejection(status=400, message="The request body must be a JSON object.")

    model = data.get("model")
    if model is None:
        return Rejection(status=400, message="You must provide a model parameter.")
    if not isinstance(model, str):
        return _invalid_type("model", "a string", model)

    messages = data.get("messages")
    if messages is None:
        return Rejection(
            status=400,
            message="Missing required parameter: 'messages'.",
            param="messages",
            code="missing_required_parameter",
        )
    if not isinstance(messages, list):
        return _invalid_type("messages", "an array of objects", messages)
    if not messages:
        return Rejection(
            status=400,
            message="Invalid 'messages': empty array. Expected an array with minimum length 1.",
            param="messages",
            code="empty_array",
        )
    texts = _message_texts(messages)
    if isinstance(texts, Rejection):
        return texts

    stream = data.get("stream")
    if stream is not None and not isinstance(stream, bool):
        return _invalid_type("stream", "a boolean", stream)
    options = data.get("stream_options")
    include_usage = False
    if options is not None:
        if not stream:
            return Rejection(
                status=400,
                message="The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        if not isinstance(options, dict):
            return _invalid_type("stream_options", "an object", options)
        flag = options.get("include_usage")
        if flag is not None and not isinstance(flag, bool):
            return _invalid_type("stream_options.include_usage", "a boolean", flag)
        include_usage = bool(flag)

    max_tokens = _max_tokens(data)
    if isinstance(max_tokens, Rejection):
        return max_tokens
    tools = _tool_names(data.get("tools"))
    if isinstance(tools, Rejection):
        return tools
    rounds = _tool_rounds(messages)
    if isinstance(rounds, Rejection):
        return rounds

    # Checked last, as OpenAI does: a malformed request is a 400 whatever model it names.
    if model not in models:
        return Rejection(
            status=404,
            message=f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )

    continues = given_text(texts)
    # Asked to continue, the question is the user's message before the answer it continues.
    asked = texts[: len(texts) - 2] if continues is not None and texts[-1][0] == "user" else texts
    prompt = next((text for role, text in reversed(asked) if role == "user"), "")
    prompt_tokens = _TOKENS_PER_REPLY + sum(_TOKENS_PER_MESSAGE + len(tokenize(text)) for _, text in texts)
    return ChatRequest(
        model=model,
        prompt=prompt,
        continues=continues,
        prompt_tokens=prompt_tokens,
        stream=bool(stream),
        include_usage=include_usage,
        max_tokens=max_tokens,
        tools=tools,
        rounds=rounds,
    )


def _tool_names(tools: object) -> frozenset[str] | Rejection | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return _invalid_type("tools", "an array", tools)
    names: set[str] = set()
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict):
            return _invalid_type(f"tools[{index}]", "an object", tool)
        function = tool.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str) or not name:
            return Rejection(
                status=400,
                message=f"Missing required parameter: 'tools[{index}].function.name'.",
                param=f"tools[{index}].function.name",
                code="missing_required_parameter",
            )
        names.add(name)
    return frozenset(names) if names else None


def _tool_rounds(messages: Sequence[Any]) -> tuple[Round, ...] | Rejection:
    """The assistant's tool calls after the last user message, each with its result."""
    last_user = max((i for i, message in enumerate(messages) if message.get("role") == "user"), default=-1)
    results: dict[str, str] = {}
    for message in messages[last_user + 1 :]:
        call_id = message.get("tool_call_id")
        if message.get("role") == "tool" and isinstance(call_id, str):
            results[call_id] = _text(message.get("content"))
    rounds: list[Round] = []
    for offset, message in enumerate(messages[last_user + 1 :]):
        calls = message.get("tool_calls")
        if message.get("role") != "assistant" or calls is None:
            continue
        where = f"messages[{last_user + 1 + offset}].tool_calls"
        if not isinstance(calls, list):
            return _invalid_type(where, "an array", calls)
        exchanges: list[Exchange] = []
        for index, call in enumerate(calls):
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(call, dict) or not isinstance(function, dict):
                return _invalid_type(f"{where}[{index}]", "an object with a function", call)
            call_id, name, arguments = call.get("id"), function.get("name"), function.get("arguments")
            exchanges.append(
                Exchange(
                    id=call_id if isinstance(call_id, str) else "",
                    name=name if isinstance(name, str) else "",
                    arguments=arguments if isinstance(arguments, str) else "",
                    result=results.get(call_id) if isinstance(call_id, str) else None,
                )
            )
        if exchanges:
            rounds.append(tuple(exchanges))
    return tuple(rounds)


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    return ""


def _message_texts(messages: Sequence[Any]) -> list[tuple[str, str]] | Rejection:
    """Each message's role and text; the text parts of multi-part content are joined."""
    texts: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            return _invalid_type(where, "an object", message)
        role = message.get("role")
        if role not in _ROLES:
            return Rejection(
                status=400,
                message=f"Invalid value for '{where}.role': {role!r}. "
                f"Supported values are: {', '.join(sorted(_ROLES))}.",
                param=f"{where}.role",
                code="invalid_value",
            )
        content = message.get("content")
        if content is None or isinstance(content, str):
            text = content or ""
        elif isinstance(content, list):
            text = "\n".join(
                part["text"]
                for part in content
                if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
            )
        else:
            return _invalid_type(f"{where}.content", "a string or an array", content)
        texts.append((role, text))
    return texts


def _max_tokens(data: dict[str, Any]) -> int | Rejection | None:
    # max_completion_tokens replaced max_tokens; a client may send either.
    for name in ("max_completion_tokens", "max_tokens"):
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            return _invalid_type(name, "an integer", value)
        if value < 1:
            return Rejection(
                status=400,
                message=f"Invalid '{name}': integer below minimum value. "
                f"Expected a value >= 1, but got {value} instead.",
                param=name,
                code="integer_below_min_value",
            )
        return value
    return None


def _invalid_type(param: str, expected: str, value: object) -> Rejection:
    return Rejection(
        status=400,
        message=f"Invalid type for '{param}': expected {expected}, but got {_json_type(value)} instead.",
        param=param,
        code="invalid_type",
    )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class ChunkEncoder:
    """The ``data:`` events of one streamed reply.

    Everything but the delta is the same in every chunk, so it is rendered once: a content
    event then costs one ``json.dumps`` of a short string, which matters at 100k events.
    """

    def __init__(self, *, id: str, created: int, model: str, include_usage: bool) -> None:
        self._head = _dumps(
            {"id": id, "object": "chat.completion.chunk", "created": created, "model": model}
        )[:-1]
        # OpenAI sends "usage": null on every chunk only when the final usage chunk is coming.
        self._usage_null = ',"usage":null' if include_usage else ""
        self._open = (f'data: {self._head},"choices":[{{"index":0,"delta":{{"content":').encode()
        self._open_tail = (f'}},"finish_reason":null,"logprobs":null}}]{self._usage_null}}}\n\n').encode()

    def role(self) -> bytes:
        return self._choice('{"role":"assistant","content":""}', None)

    def content(self, text: str) -> bytes:
        return self._open + _dumps(text).encode() + self._open_tail

    def contents(self, texts: Sequence[str]) -> bytes:
        return b"".join(self.content(text) for text in texts)

    def pieces(self, pieces: Sequence[Piece]) -> bytes:
        """Content, reasoning and tool-call fragments (``tools.Piece``), one event each."""
        return b"".join(self.piece(piece) for piece in pieces)

    def piece(self, piece: Piece) -> bytes:
        if isinstance(piece, str):
            return self.content(piece)
        if isinstance(piece, Reasoning):
            return self._choice(_dumps({"reasoning_content": piece.text}), None)
        return self._choice(_dumps({"tool_calls": [_fragment(piece)]}), None)

    def finish(self, reason: str) -> bytes:
        return self._choice("{}", reason)

    def usage(self, usage: Usage) -> bytes:
        return f'data: {self._head},"choices":[],"usage":{_dumps(usage.to_wire())}}}\n\n'.encode()

    def _choice(self, delta: str, finish_reason: str | None) -> bytes:
        reason = _dumps(finish_reason)
        return (
            f'data: {self._head},"choices":[{{"index":0,"delta":{delta},'
            f'"finish_reason":{reason},"logprobs":null}}]{self._usage_null}}}\n\n'
        ).encode()


def _fragment(fragment: CallFragment) -> dict[str, object]:
    if fragment.id is None:
        return {"index": fragment.index, "function": {"arguments": fragment.arguments}}
    return {
        "index": fragment.index,
        "id": fragment.id,
        "type": "function",
        "function": {"name": fragment.name, "arguments": fragment.arguments},
    }


def error_event(error: dict[str, object]) -> bytes:
    """An error reported inside a stream that has already answered 200."""
    return f"data: {_dumps(error)}\n\n".encode()


def completion(
    *,
    id: str,
    created: int,
    model: str,
    content: str,
    finish_reason: str,
    usage: Usage,
    reasoning: str = "",
    tool_calls: Sequence[PlannedCall] = (),
) -> dict[str, object]:
    """A whole non-streamed reply."""
    message: dict[str, object] = {"role": "assistant", "content": content or None, "refusal": None}
    if not tool_calls:
        message["content"] = content
    if reasoning:
        message["reasoning_content"] = reasoning
    if tool_calls:
        message["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}
            for call in tool_calls
        ]
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage.to_wire(),
    }
