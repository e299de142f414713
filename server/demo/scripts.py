"""What the demo model says: a script chosen from the last user message (pure).

The answers live in ``answers/*.md`` (and ``longform.py`` for ``huge``). In those files ``¦``
marks a chunk boundary placed by hand and ``‿`` glues two pieces into one chunk: they become
``tokens.SPLIT`` and ``tokens.JOIN`` when the files are loaded, so the markdown can show a
boundary where an invisible character would hide it. ``MENU`` is the one list of prompts: the
help answer's table is built from it, and the tests check every row against ``choose``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from .longform import huge_answer
from .tokens import JOIN, SPLIT

SLOW_TOKENS_PER_SECOND = 8.0

_PACKAGE = __name__.rpartition(".")[0]
_MENU_MARK = "<!-- menu -->"


class Kind(enum.Enum):
    ANSWER = "answer"
    STREAM_ERROR = "stream_error"  # the text, then an error event: no finish_reason, no [DONE]
    INCOMPLETE = "incomplete"  # the text, then the body just ends
    HTTP_ERROR = "http_error"  # an error status and JSON body, before any event
    SCENARIO = "scenario"  # planned from the whole request: tool calls, reasoning (tools.py)


@dataclass(frozen=True, kw_only=True)
class Failure:
    status: int
    message: str
    type: str
    code: str
    retry_after: int | None = None

    def to_wire(self) -> dict[str, object]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code}}


@dataclass(frozen=True, kw_only=True)
class Script:
    name: str
    kind: Kind
    text: str = ""
    failure: Failure | None = None  # the error for STREAM_ERROR and HTTP_ERROR
    tokens_per_second: float | None = None  # overrides the app's pace


@dataclass(frozen=True)
class MenuItem:
    prompt: str  # what to type
    script: str  # the script it picks
    shows: str  # what the help answer says it shows


MENU: tuple[MenuItem, ...] = (
    MenuItem(
        "tour",
        "tour",
        "The full tour: headings, emphasis, nested lists, a task list, a quote, a table, code"
        " in three languages and a footnote. Also `markdown`, `demo`, and anything not listed"
        " here",
    ),
    MenuItem(
        "code",
        "code",
        "Code blocks in Python, SQL, JavaScript and Bash, with explanations",
    ),
    MenuItem(
        "table",
        "table",
        "A wide table, and one with column alignment and formatting in its cells",
    ),
    MenuItem(
        "list",
        "list",
        "Ordered, unordered, nested, tight and loose lists, a task list, and code inside a list item",
    ),
    MenuItem(
        "long",
        "long",
        "A guide to streaming of over 20 KB, with tables, lists and code along the way",
    ),
    MenuItem(
        "huge",
        "huge",
        "A reference manual of over 200 KB, for load and rendering tests",
    ),
    MenuItem(
        "slow",
        "tour",
        "The tour at 8 tokens a second, to try **Stop**; add it to any prompt, as in `slow table`",
    ),
    MenuItem(
        "echo <text>",
        "echo",
        "Streams `<text>` back exactly as written, to test your own markdown",
    ),
    MenuItem(
        "tools",
        "tools",
        "Live tool calls: two at once, streamed interleaved, then a third in a second round,"
        " then an answer quoting their results",
    ),
    MenuItem(
        "tools fail",
        "tools fail",
        "A tool call that fails (`1/0` in the calculator), then an answer explaining the error",
    ),
    MenuItem(
        "think",
        "think",
        "Reasoning first (`reasoning_content`, as DeepSeek streams it), then the answer",
    ),
    MenuItem(
        "error",
        "error",
        "Two sentences, then an error inside the stream: no finish reason, no `[DONE]`",
    ),
    MenuItem(
        "incomplete",
        "incomplete",
        "Stops mid-sentence: the stream just ends, without a finish reason or `[DONE]`",
    ),
    MenuItem(
        "error 401",
        "error 401",
        "HTTP 401 before the stream: invalid API key",
    ),
    MenuItem(
        "error 429",
        "error 429",
        "HTTP 429 with `Retry-After: 7`; `rate limit` works too",
    ),
    MenuItem(
        "error 500",
        "error 500",
        "HTTP 500 before the stream: server error",
    ),
    MenuItem(
        "error 503",
        "error 503",
        "HTTP 503 with `Retry-After: 3`: overloaded",
    ),
    MenuItem(
        "help",
        "help",
        "This answer; `?` and `what can you do` work too",
    ),
)

STREAM_ERROR = Failure(
    status=500,
    message="The demo model failed on purpose (you asked for an error).",
    type="server_error",
    code="demo_error",
)

HTTP_FAILURES: Mapping[int, Failure] = MappingProxyType(
    {
        401: Failure(
            status=401,
            message="Incorrect API key provided. (The demo model needs no key: "
            "it refused this request because you asked for error 401.)",
            type="invalid_request_error",
            code="invalid_api_key",
        ),
        429: Failure(
            status=429,
            message="Rate limit reached for demo model (you asked for it). Try again in 7s.",
            type="rate_limit_error",
            code="rate_limit_exceeded",
            retry_after=7,
        ),
        500: Failure(
            status=500,
            message="The demo model had an internal error (you asked for error 500).",
            type="server_error",
            code="server_error",
        ),
        503: Failure(
            status=503,
            message="The demo model is overloaded (you asked for error 503). Try again in 3s.",
            type="server_error",
            code="service_unavailable",
            retry_after=3,
        ),
    }
)

# Whole words only, so "belong" is not "long" and "playlist" is not "list".
_ECHO = re.compile(r"\s*echo(?:[ \t]|\r?\n|$)", re.IGNORECASE)
_STATUS = re.compile(r"\berror[\s:_-]*(\d{3})\b", re.IGNORECASE)
_RATE_LIMIT = re.compile(r"\brate[\s_-]*limit", re.IGNORECASE)
_SLOW = re.compile(r"\bslow\b", re.IGNORECASE)
# In priority order: the failures first, so that "error in this code" fails as asked, then
# the more specific answers before the general ones.
_KEYWORDS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\berror\b", re.IGNORECASE), "error"),
    (re.compile(r"\btools?[\s_-]*fail(?:s|ed|ing|ure)?\b", re.IGNORECASE), "tools fail"),
    (re.compile(r"\btools?\b", re.IGNORECASE), "tools"),
    (re.compile(r"\bthink(?:s|ing)?\b", re.IGNORECASE), "think"),
    (re.compile(r"\bincomplete\b", re.IGNORECASE), "incomplete"),
    (re.compile(r"\bhuge\b", re.IGNORECASE), "huge"),
    (re.compile(r"\blong\b", re.IGNORECASE), "long"),
    (re.compile(r"\bcode\b", re.IGNORECASE), "code"),
    (re.compile(r"\btables?\b", re.IGNORECASE), "table"),
    (re.compile(r"\blists?\b", re.IGNORECASE), "list"),
    (re.compile(r"\bhelp\b|\bwhat can you do\b|^\s*\?\s*$", re.IGNORECASE), "help"),
)
_SCENARIOS = frozenset({"tools", "tools fail", "think"})
_FILES = ("tour", "code", "table", "list", "long", "help", "error", "incomplete")


@dataclass(frozen=True)
class Answers:
    """Every scripted text, by script name, read once when the demo app is built."""

    texts: Mapping[str, str]

    @classmethod
    def load(cls) -> Answers:
        folder = resources.files(_PACKAGE).joinpath("answers")
        texts = {
            name: _from_source(folder.joinpath(f"{name}.md").read_text(encoding="utf-8")) for name in _FILES
        }
        texts["help"] = texts["help"].replace(_MENU_MARK, menu_table())
        texts["huge"] = huge_answer()
        return cls(MappingProxyType(texts))


def choose(prompt: str, answers: Answers) -> Script:
    """The script for the last user message ``prompt``."""
    echo = _ECHO.match(prompt)
    if echo:
        return Script(name="echo", kind=Kind.ANSWER, text=prompt[echo.end() :])

    status = _STATUS.search(prompt)
    if status and int(status.group(1)) in HTTP_FAILURES:
        code = int(status.group(1))
        return Script(name=f"error {code}", kind=Kind.HTTP_ERROR, failure=HTTP_FAILURES[code])
    if _RATE_LIMIT.search(prompt):
        return Script(name="error 429", kind=Kind.HTTP_ERROR, failure=HTTP_FAILURES[429])

    name = next((name for pattern, name in _KEYWORDS if pattern.search(prompt)), "tour")
    slow = SLOW_TOKENS_PER_SECOND if _SLOW.search(prompt) else None
    if name in _SCENARIOS:
        return Script(name=name, kind=Kind.SCENARIO, tokens_per_second=slow)
    kind = {"error": Kind.STREAM_ERROR, "incomplete": Kind.INCOMPLETE}.get(name, Kind.ANSWER)
    return Script(
        name=name,
        kind=kind,
        text=answers.texts[name],
        failure=STREAM_ERROR if kind is Kind.STREAM_ERROR else None,
        tokens_per_second=slow,
    )


def menu_table() -> str:
    rows = ["| Type | To see |", "| :--- | :--- |"]
    rows.extend(f"| `{item.prompt}` | {item.shows} |" for item in MENU)
    return "\n".join(rows)


def _from_source(text: str) -> str:
    # Files end with a newline; a model's answer usually does not.
    return text.replace("¦", SPLIT).replace("‿", JOIN).rstrip("\n")
