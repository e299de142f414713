"""The demo model: scripts, chunking, pacing and the wire format.

Everything but the last section is pure and runs without an event loop. The last section
drives the ASGI app through httpx's ASGITransport, which is enough for status codes, bodies and
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
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin
from starlette.applications import Starlette

from server.demo import create_demo_app
from server.demo.pace import UNPACED_TOKENS_PER_SECOND, Pace
from server.demo.scripts import (
    HTTP_FAILURES,
    MENU,
    SLOW_TOKENS_PER_SECOND,
    STREAM_ERROR,
    Answers,
    Kind,
    choose,
)
from server.demo.tokens import JOIN, SPLIT, strip_marks, tokenize
from server.demo.wire import ChatRequest, ChunkEncoder, Rejection, Usage, parse_request
from server.errors import ConfigError

MODELS = ("inkstream-demo", "inkstream-demo-fast")


@pytest.fixture(scope="module")
def answers() -> Answers:
    return Answers.load()


def _markdown(text: str) -> list[Token]:
    md = MarkdownIt("gfm-like").use(footnote_plugin).use(tasklists_plugin)
    return md.parse(strip_marks(text))


def _fences(text: str) -> list[tuple[str, int]]:
    return [
        (token.info.strip(), token.content.count("\n")) for token in _markdown(text) if token.type == "fence"
    ]


# --- chunking ------------------------------------------------------------------------------


def test_every_answer_chunks_losslessly_and_the_same_way_twice(answers: Answers) -> None:
    again = Answers.load()
    for name, text in answers.texts.items():
        chunks = tokenize(text)
        assert "".join(chunks) == strip_marks(text), name
        assert all(chunks), name
        assert not any(SPLIT in chunk or JOIN in chunk for chunk in chunks), name
        assert tokenize(again.texts[name]) == chunks, name


def test_answer_sources_leave_no_visible_marks(answers: Answers) -> None:
    for name, text in answers.texts.items():
        assert "¦" not in text, name
        assert "‿" not in text, name


@given(st.text())
def test_tokenize_is_lossless_for_any_text(text: str) -> None:
    assert "".join(tokenize(text)) == strip_marks(text)


@given(st.lists(st.text(alphabet="ab *`|\n_#-", min_size=1), min_size=1))
def test_split_always_makes_a_boundary(parts: list[str]) -> None:
    chunks = tokenize(SPLIT.join(parts))
    boundaries = {0}
    offset = 0
    for chunk in chunks:
        offset += len(chunk)
        boundaries.add(offset)
    offset = 0
    for part in parts:
        offset += len(part)
        assert offset in boundaries


def test_tokens_look_like_a_real_models() -> None:
    assert tokenize("Hello, **bold** and `code`.") == [
        "Hello", ",", " **", "bold", "**", " and", " `", "code", "`.",
    ]  # fmt: skip
    assert tokenize("```python\nx = 1\n```") == [
        "```", "python", "\n", "x", " =", " ", "1", "\n", "```",
    ]  # fmt: skip
    assert tokenize("    return") == ["   ", " return"]


def test_long_words_are_cut_into_short_pieces() -> None:
    chunks = tokenize("internationalization")
    assert "".join(chunks) == "internationalization"
    assert max(len(chunk) for chunk in chunks) <= 4
    assert tokenize("            ") == ["            "]  # indentation stays whole


def test_marks_split_and_join_by_hand() -> None:
    text = f"a *{SPLIT}*bo{SPLIT}ld{JOIN}** b"
    assert tokenize(text) == ["a", " *", "*bo", "ld**", " b"]
    assert tokenize(f"``{SPLIT}`python{JOIN}\n") == ["``", "`python\n"]


def test_the_tour_splits_markdown_where_renderers_struggle(answers: Answers) -> None:
    chunks = tokenize(answers.texts["tour"])

    def has_run(*run: str) -> bool:
        return any(tuple(chunks[i : i + len(run)]) == run for i in range(len(chunks)))

    assert has_run("*", "*bo", "ld**")  # bold opened in two halves, closed glued to a word
    assert has_run("``", "`python\n")  # a fence in two pieces
    assert has_run(" `", "inline", " code", "`,")  # backticks apart from their content
    assert has_run("#", "#", " Why")  # "#" alone could still be a level-1 heading
    assert has_run(" bl", "ock", " only")  # a table cell split mid-word
    assert has_run("](", "https")  # a link split between text and URL


# --- the scripts ---------------------------------------------------------------------------


@pytest.mark.parametrize("item", MENU, ids=lambda item: item.prompt)
def test_every_menu_prompt_picks_its_script(item: Any, answers: Answers) -> None:
    assert choose(item.prompt, answers).name == item.script


@pytest.mark.parametrize(
    ("prompt", "name"),
    [
        ("", "tour"),
        ("Show me a TOUR", "tour"),
        ("markdown", "tour"),
        ("demo", "tour"),
        ("Hello there", "tour"),
        ("it doesn't belong", "tour"),
        ("my playlist", "tour"),
        ("write some Code", "code"),
        ("tables please", "table"),
        ("a list of lists", "list"),
        ("something long", "long"),
        ("HUGE", "huge"),
        ("long or huge?", "huge"),
        ("HELP", "help"),
        ("?", "help"),
        ("  ?  ", "help"),
        ("What can you do?", "help"),
        ("is this a question?", "tour"),
        ("help me with this table", "table"),
        ("Error", "error"),
        ("an error in my code", "error"),
        ("error 404", "error"),
        ("incomplete", "incomplete"),
        ("Error 401", "error 401"),
        ("error:429", "error 429"),
        ("error-500", "error 500"),
        ("error503", "error 503"),
        ("Rate limit me", "error 429"),
        ("rate-limited", "error 429"),
        ("echo error 500", "echo"),
    ],
)
def test_keywords(prompt: str, name: str, answers: Answers) -> None:
    assert choose(prompt, answers).name == name


def test_keyword_priority_is_the_one_help_states(answers: Answers) -> None:
    order = ["incomplete", "huge", "long", "code", "table", "list", "help"]
    stated = ", ".join(f"`{name}`" for name in order[:-1]) + f" and `{order[-1]}`, in that order"
    assert stated in answers.texts["help"]
    for index, name in enumerate(order):
        assert choose(" ".join(reversed(order[index:])), answers).name == name
    assert choose("echo error 429 " + " ".join(order), answers).name == "echo"
    assert choose("code error 429", answers).name == "error 429"
    assert choose("code error", answers).name == "error"


def test_script_kinds_and_failures(answers: Answers) -> None:
    assert choose("tour", answers).kind is Kind.ANSWER
    error = choose("error", answers)
    assert error.kind is Kind.STREAM_ERROR
    assert error.failure == STREAM_ERROR
    assert error.text.strip()
    assert choose("incomplete", answers).kind is Kind.INCOMPLETE
    for status, failure in HTTP_FAILURES.items():
        script = choose(f"error {status}", answers)
        assert script.kind is Kind.HTTP_ERROR
        assert script.failure is failure
        assert failure.status == status
    assert HTTP_FAILURES[429].retry_after == 7
    assert HTTP_FAILURES[503].retry_after is not None
    assert HTTP_FAILURES[401].code == "invalid_api_key"


def test_echo_returns_the_rest_verbatim(answers: Answers) -> None:
    assert choose("echo **hi**  there", answers).text == "**hi**  there"
    assert choose("Echo\n| a |\n|---|\n", answers).text == "| a |\n|---|\n"
    assert choose("echo", answers).text == ""
    assert choose("echoes", answers).name == "tour"


def test_slow_slows_down_any_answer(answers: Answers) -> None:
    slow = choose("slow", answers)
    assert slow.name == "tour"
    assert slow.tokens_per_second == SLOW_TOKENS_PER_SECOND
    assert choose("slow table", answers).name == "table"
    assert choose("slow table", answers).tokens_per_second == SLOW_TOKENS_PER_SECOND
    assert choose("table", answers).tokens_per_second is None


def test_help_names_every_prompt_and_how_to_connect(answers: Answers) -> None:
    text = answers.texts["help"]
    for item in MENU:
        assert f"`{item.prompt}`" in text
    for extra in ("`?`", "`what can you do`", "`rate limit`", "`markdown`", "`demo`"):
        assert extra in text
    for variable in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "INKSTREAM_MODEL"):
        assert variable in text
    assert "no API key" in text
    assert "<!--" not in text


def test_the_tour_shows_every_kind_of_markdown(answers: Answers) -> None:
    text = strip_marks(answers.texts["tour"])
    tokens = _markdown(text)
    kinds = {token.type for token in tokens}
    assert {"h1", "h2", "h3"} <= {token.tag for token in tokens if token.type == "heading_open"}
    inline = {child.type for token in tokens for child in token.children or []}
    assert {"strong_open", "em_open", "code_inline", "s_open", "link_open"} <= inline
    assert "footnote_ref" in inline
    assert "footnote_block_open" in kinds
    assert "***both at once***" in text
    assert "blockquote_open" in kinds
    assert "- [x]" in text
    assert "- [ ]" in text
    assert max(token.level for token in tokens if token.type == "bullet_list_open") >= 4
    assert "ordered_list_open" in kinds
    rows = [token for token in tokens if token.type == "tr_open"]
    cells = [token for token in tokens if token.type == "th_open"]
    assert len(rows) >= 6
    assert len(cells) >= 4
    styles = {str(token.attrs.get("style")) for token in cells}
    assert {"text-align:center", "text-align:right"} <= styles
    fences = dict(_fences(text))
    assert set(fences) == {"python", "javascript", "sql"}
    assert all(10 <= lines <= 25 for lines in fences.values()), fences


def test_the_focused_answers(answers: Answers) -> None:
    code = {language for language, _ in _fences(answers.texts["code"])}
    assert {"python", "javascript", "sql", "bash"} <= code
    tables = [t for t in _markdown(answers.texts["table"]) if t.type == "table_open"]
    assert len(tables) >= 2
    lists = _markdown(answers.texts["list"])
    assert {"bullet_list_open", "ordered_list_open", "fence"} <= {t.type for t in lists}
    assert any(t.type == "fence" and t.level > 0 for t in lists)  # code inside a list item


def test_long_and_huge_are_big_and_varied(answers: Answers) -> None:
    long = answers.texts["long"]
    assert len(long.encode()) >= 20 * 1024
    assert len(_fences(long)) >= 5
    assert {"table_open", "bullet_list_open", "ordered_list_open"} <= {
        token.type for token in _markdown(long)
    }

    huge = answers.texts["huge"]
    assert len(huge.encode()) >= 200 * 1024
    tokens = _markdown(huge)
    rows_per_table: list[int] = []
    for token in tokens:
        if token.type == "table_open":
            rows_per_table.append(0)
        elif token.type == "tr_open":
            rows_per_table[-1] += 1
    assert max(rows_per_table) >= 100
    big_fences = [lines for _, lines in _fences(huge) if lines >= 40]
    assert len(big_fences) >= 30
    assert "bullet_list_open" in {token.type for token in tokens}


def test_huge_is_the_same_every_time() -> None:
    assert Answers.load().texts["huge"] == Answers.load().texts["huge"]


# --- pacing --------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.3, 7.0, 8.0, 60.0, 333.3, 9_999.0])
@pytest.mark.parametrize("ttft", [0.0, 0.35, 2.0])
def test_ready_agrees_with_due(rate: float, ttft: float) -> None:
    pace = Pace(ttft=ttft, tokens_per_second=rate)
    total = 500
    assert pace.ready(ttft - 1e-9, total) == 0
    for index in range(total):
        due = pace.due(index)
        assert pace.ready(due, total) >= index + 1
        assert pace.ready(due - 1e-9, total) <= index
    assert pace.ready(pace.due(total) + 100, total) == total


def test_unpaced_means_all_at_once_after_ttft() -> None:
    pace = Pace(ttft=0.5, tokens_per_second=UNPACED_TOKENS_PER_SECOND)
    assert pace.unpaced
    assert pace.due(0) == pace.due(10_000) == 0.5
    assert pace.ready(0.4, 1000) == 0
    assert pace.ready(0.5, 1000) == 1000


@pytest.mark.parametrize(("ttft", "rate"), [(-1.0, 10.0), (0.0, 0.0), (0.0, -5.0)])
def test_bad_pace_is_refused(ttft: float, rate: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        Pace(ttft=ttft, tokens_per_second=rate)
    with pytest.raises(ConfigError):
        create_demo_app(ttft=ttft, tokens_per_second=rate)


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
