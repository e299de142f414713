"""The demo model's wire format (OpenAI's request and chunk shapes) and its ASGI app.

The app is driven through httpx's ASGITransport, which is enough for status codes, bodies and
event order; it collects the whole body, so pacing and disconnects belong to the integration
tests. (Starlette 1.10's TestClient warns unless ``httpx2`` is installed, and warnings are
errors here.)
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from server.demo import create_demo_app
from server.demo.pace import UNPACED_TOKENS_PER_SECOND
from server.demo.scripts import (
    HTTP_FAILURES,
    Answers,
)
from server.demo.tokens import SPLIT, strip_marks, tokenize
from server.demo.wire import ChatRequest, ChunkEncoder, Rejection, Usage, parse_request

MODELS = ("inkstream-demo", "inkstream-demo-fast")


# --- the wire format -----------------------------------------------------------------------


def _parse(body: object) -> ChatRequest | Rejection:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_request(raw, models=MODELS)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _body(**fields: object) -> dict[str, object]:
    return {"model": "inkstream-demo", "messages": _user("x"), **fields}


@pytest.mark.parametrize(
    ("body", "status", "param", "code"),
    [
        (b"{nope", 400, None, None),
        (b"\xff\xfe", 400, None, None),
        ([1, 2], 400, None, None),
        ({"messages": _user("x")}, 400, None, None),
        (_body(model=3), 400, "model", "invalid_type"),
        ({"model": "inkstream-demo"}, 400, "messages", "missing_required_parameter"),
        (_body(messages=[]), 400, "messages", "empty_array"),
        (_body(messages="hi"), 400, "messages", "invalid_type"),
        (_body(messages=["hi"]), 400, "messages[0]", "invalid_type"),
        (_body(messages=[{"role": "robot"}]), 400, "messages[0].role", "invalid_value"),
        (
            _body(messages=[{"role": "user", "content": 5}]),
            400,
            "messages[0].content",
            "invalid_type",
        ),
        (_body(stream="yes"), 400, "stream", "invalid_type"),
        (_body(stream_options={}), 400, "stream_options", None),
        (_body(stream=True, stream_options=[]), 400, "stream_options", "invalid_type"),
        (_body(max_tokens=0), 400, "max_tokens", "integer_below_min_value"),
        (_body(max_tokens=True), 400, "max_tokens", "invalid_type"),
        (_body(max_completion_tokens=1.5), 400, "max_completion_tokens", "invalid_type"),
        (_body(model="gpt-4o"), 404, None, "model_not_found"),
    ],
)
def test_bad_requests_are_refused_like_openai(
    body: object, status: int, param: str | None, code: str | None
) -> None:
    rejection = _parse(body)
    assert isinstance(rejection, Rejection)
    assert (rejection.status, rejection.param, rejection.code) == (status, param, code)
    error = rejection.to_wire()["error"]
    assert isinstance(error, dict)
    assert error["type"] == "invalid_request_error"
    assert error["message"]


def test_a_good_request_and_its_prompt() -> None:
    request = _parse(
        {
            "model": "inkstream-demo",
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_completion_tokens": 12,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": None},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "table"},
                        {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
                        {"type": "text", "text": "please"},
                    ],
                },
            ],
        }
    )
    assert isinstance(request, ChatRequest)
    assert request.prompt == "table\nplease"
    assert request.stream
    assert request.include_usage
    assert request.max_tokens == 12
    assert request.prompt_tokens > 4 * 3


def test_chunks_are_valid_openai_json() -> None:
    encoder = ChunkEncoder(id="chatcmpl-demo-7", created=1, model="m", include_usage=True)
    events = [
        encoder.role(),
        encoder.content('a "quoted" \\ line\n and ünïcode ✓'),
        encoder.finish("stop"),
        encoder.usage(Usage(prompt_tokens=3, completion_tokens=2)),
    ]
    chunks = []
    for event in events:
        assert event.startswith(b"data: ")
        assert event.endswith(b"\n\n")
        chunks.append(json.loads(event[6:]))
    for chunk in chunks:
        assert chunk["id"] == "chatcmpl-demo-7"
        assert chunk["object"] == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert chunks[1]["choices"][0]["delta"] == {"content": 'a "quoted" \\ line\n and ünïcode ✓'}
    assert chunks[1]["choices"][0]["finish_reason"] is None
    assert chunks[1]["choices"][0]["logprobs"] is None
    assert chunks[2]["choices"][0] == {
        "index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None,
    }  # fmt: skip
    assert [chunk["usage"] for chunk in chunks[:3]] == [None, None, None]
    assert chunks[3]["choices"] == []
    assert chunks[3]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}

    quiet = ChunkEncoder(id="x", created=1, model="m", include_usage=False)
    assert "usage" not in json.loads(quiet.content("hi")[6:])


# --- the ASGI app --------------------------------------------------------------------------


class _Client:
    """Plain synchronous calls into the ASGI app, one short-lived event loop per request."""

    def __init__(self, app: Starlette) -> None:
        self._app = app

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(call())

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


@pytest.fixture(scope="module")
def client() -> _Client:
    # Unpaced and without a first-token wait, so the tests never sleep.
    return _Client(create_demo_app(ttft=0.0, tokens_per_second=UNPACED_TOKENS_PER_SECOND))


def _post(client: _Client, prompt: str, **extra: Any) -> httpx.Response:
    body = {"model": "inkstream-demo", "messages": _user(prompt), **extra}
    return client.post("/v1/chat/completions", json=body)


def _events(body: str) -> list[str]:
    return [event for event in body.split("\n\n") if event]


def _content(events: list[str]) -> str:
    text = []
    for event in events:
        if event.startswith("data: {"):
            for choice in json.loads(event[6:]).get("choices") or []:
                text.append(choice["delta"].get("content") or "")
    return "".join(text)


def test_models(client: _Client) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == list(MODELS)
    assert body["data"][0] == {
        "id": "inkstream-demo",
        "object": "model",
        "created": 1_735_689_600,
        "owned_by": "inkstream",
    }


def test_whole_reply(client: _Client, answers: Answers) -> None:
    response = _post(client, "table")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-demo-")
    choice = body["choices"][0]
    assert choice["message"]["content"] == strip_marks(answers.texts["table"])
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["completion_tokens"] == len(tokenize(answers.texts["table"]))
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_whole_reply_cut_by_max_tokens(client: _Client) -> None:
    body = _post(client, "echo one two three four", max_tokens=2).json()
    assert body["choices"][0]["message"]["content"] == "one two"
    assert body["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize("status", sorted(HTTP_FAILURES))
def test_error_statuses(client: _Client, status: int) -> None:
    for stream in (False, True):
        response = _post(client, f"error {status}", stream=stream)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert response.json() == HTTP_FAILURES[status].to_wire()
        retry_after = HTTP_FAILURES[status].retry_after
        assert response.headers.get("retry-after") == (None if retry_after is None else str(retry_after))


def test_rate_limit_body_is_exactly_openais(client: _Client) -> None:
    response = _post(client, "rate limit", stream=True)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json() == {
        "error": {
            "message": "Rate limit reached for demo model (you asked for it). Try again in 7s.",
            "type": "rate_limit_error",
            "code": "rate_limit_exceeded",
        }
    }


def test_http_errors_use_openais_shape(client: _Client) -> None:
    bad = client.post("/v1/chat/completions", content=b"{nope")
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"
    unknown = _post(client, "hi", model="nope")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert client.get("/v1/nothing").status_code == 404
    assert client.get("/v1/nothing").json()["error"]["message"]
    wrong_method = client.get("/v1/chat/completions")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()


def test_stream(client: _Client, answers: Answers) -> None:
    response = _post(client, "tour", stream=True, stream_options={"include_usage": True})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    events = _events(response.text)
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(event[6:]) for event in events[:-1]]
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert len({chunk["created"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    contents = [chunk["choices"][0]["delta"]["content"] for chunk in chunks[1:-2]]
    assert contents == tokenize(answers.texts["tour"])
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks[:-2])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-2]["choices"][0]["delta"] == {}
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == len(contents)
    assert all(chunk["usage"] is None for chunk in chunks[:-1])


def test_stream_is_deterministic_and_cut_by_max_tokens(client: _Client) -> None:
    first = _events(_post(client, "list", stream=True).text)
    second = _events(_post(client, "list", stream=True).text)
    assert _content(first) == _content(second)
    cut = _events(_post(client, "list", stream=True, max_tokens=5).text)
    assert len(cut) == 1 + 5 + 2  # role, five chunks, finish, [DONE]
    assert json.loads(cut[-2][6:])["choices"][0]["finish_reason"] == "length"
    assert "usage" not in json.loads(cut[1][6:])


def test_stream_error_ends_without_done(client: _Client, answers: Answers) -> None:
    events = _events(_post(client, "error", stream=True).text)
    assert _content(events) == strip_marks(answers.texts["error"])
    assert events[-1] == (
        'data: {"error":{"message":"The demo model failed on purpose (you asked for an error).",'
        '"type":"server_error","code":"demo_error"}}'
    )
    assert "data: [DONE]" not in events
    for event in events[:-1]:
        assert json.loads(event[6:])["choices"][0]["finish_reason"] is None


def test_incomplete_stream_just_ends(client: _Client, answers: Answers) -> None:
    events = _events(_post(client, "incomplete", stream=True).text)
    assert _content(events) == strip_marks(answers.texts["incomplete"])
    assert "data: [DONE]" not in events
    for event in events:
        assert json.loads(event[6:])["choices"][0]["finish_reason"] is None


def test_echo_streams_any_markdown_back(client: _Client) -> None:
    rng = random.Random(7)
    alphabet = 'ab *_`|#>-[]()\n!~\\"é✓'
    for _ in range(20):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 60)))
        events = _events(_post(client, f"echo {text}", stream=True).text)
        assert _content(events) == text


def test_echo_keeps_hand_placed_boundaries(client: _Client) -> None:
    events = _events(_post(client, f"echo **bo{SPLIT}ld**", stream=True).text)
    contents = [json.loads(e[6:])["choices"][0]["delta"].get("content") for e in events[1:-2]]
    assert contents == ["**", "bo", "ld", "**"]


def test_huge_streams_whole(client: _Client, answers: Answers) -> None:
    response = _post(client, "huge", model="inkstream-demo-fast", stream=True)
    assert _content(_events(response.text)) == answers.texts["huge"]
