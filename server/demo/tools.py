"""The demo model's tool-calling scenarios and its reasoning one (pure).

Which round a scenario is in comes from the request alone, never from state kept between
requests: each assistant message with ``tool_calls`` after the last user message is a round the
demo has already played, and the ``tool`` messages after it carry the results it asked for. So
a follow-up request, whoever sends it, gets the next round, and the last round quotes the
results it was given (never values of its own).

A reply is a sequence of pieces the endpoint paces like tokens: a ``str`` is content, a
``Reasoning`` a piece of DeepSeek-style ``reasoning_content``, a ``CallFragment`` a fragment of
a tool call. Parallel calls stream interleaved, as real servers send them: each call's first
fragment names its index, id and function, the later ones carry a few characters of its
arguments each, in turn with the other call's.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import zip_longest

from .tokens import tokenize

TOOLS = "tools"
TOOLS_FAIL = "tools fail"
THINK = "think"
SCENARIOS = frozenset({TOOLS, TOOLS_FAIL})

_ARGUMENT_PIECE = 4  # characters of arguments per fragment


@dataclass(frozen=True, kw_only=True)
class Exchange:
    """One tool call the demo made in an earlier round, with the result the request gives."""

    id: str
    name: str
    arguments: str
    result: str | None  # None: the request has no tool message for this call


Round = tuple[Exchange, ...]


@dataclass(frozen=True)
class Reasoning:
    text: str


@dataclass(frozen=True, kw_only=True)
class CallFragment:
    index: int
    id: str | None = None  # the first fragment's id, type and name
    name: str | None = None
    arguments: str = ""


Piece = str | Reasoning | CallFragment


@dataclass(frozen=True, kw_only=True)
class PlannedCall:
    id: str
    name: str
    arguments: str  # JSON text


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What one reply of a scenario says: reasoning, then text or calls."""

    text: str = ""
    reasoning: str = ""
    calls: tuple[PlannedCall, ...] = ()

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.calls else "stop"

    def pieces(self) -> tuple[Piece, ...]:
        pieces: list[Piece] = [Reasoning(text) for text in tokenize(self.reasoning)]
        pieces.extend(tokenize(self.text))
        pieces.extend(call_fragments(self.calls))
        return tuple(pieces)


def new_call_id() -> str:
    return "call_" + secrets.token_hex(12)


def plan(
    name: str,
    *,
    tools: frozenset[str] | None,
    rounds: Sequence[Round],
    new_id: Callable[[], str] = new_call_id,
) -> Plan:
    """The reply of scenario ``name`` to a request offering ``tools`` (None: no ``tools``)
    after the demo's earlier ``rounds`` of this turn."""
    if name == THINK:
        return Plan(reasoning=THINK_REASONING, text=THINK_ANSWER)
    wanted = _WANTED[name]
    if tools is None:
        return Plan(text=_SWITCHED_OFF)
    if len(rounds) < len(wanted):
        asked = wanted[len(rounds)]
        missing = sorted({tool for tool, _ in asked if tool not in tools})
        if missing:
            return Plan(text=_missing(missing))
        calls = tuple(
            PlannedCall(id=new_id(), name=tool, arguments=json.dumps(arguments)) for tool, arguments in asked
        )
        return Plan(calls=calls)
    if name == TOOLS_FAIL:
        return Plan(text=_failure_answer(rounds))
    return Plan(text=_tools_answer(rounds))


def call_fragments(calls: Sequence[PlannedCall]) -> list[CallFragment]:
    """The calls as a server streams them: heads first, then argument pieces in turn."""
    fragments = [CallFragment(index=i, id=call.id, name=call.name) for i, call in enumerate(calls)]
    pieces = [
        [call.arguments[at : at + _ARGUMENT_PIECE] for at in range(0, len(call.arguments), _ARGUMENT_PIECE)]
        for call in calls
    ]
    for row in zip_longest(*pieces):
        fragments.extend(CallFragment(index=i, arguments=piece) for i, piece in enumerate(row) if piece)
    return fragments


# --- the scripts -----------------------------------------------------------------------------

_WANTED: dict[str, tuple[tuple[tuple[str, dict[str, object]], ...], ...]] = {
    TOOLS: (
        (
            ("calculator", {"expression": "(1234 * 5678) / 3"}),
            (
                "convert_time",
                {"time": "2026-12-07 09:00", "from_zone": "Europe/Paris", "to_zone": "Asia/Tokyo"},
            ),
        ),
        (("search_docs", {"query": "tool calls"}),),
    ),
    TOOLS_FAIL: ((("calculator", {"expression": "1/0"}),),),
}

_SWITCHED_OFF = (
    "I would call tools for this, but this request offers me none: the tools are switched off. "
    "Set `INKSTREAM_TOOLS` (to `all`, or to the names of the tools you want) and restart "
    "Inkstream to see live tool calls."
)

THINK_REASONING = (
    "The user wants to see how a reasoning model streams. Such models think out loud first, "
    "in a separate `reasoning_content` field, before they write the answer. "
    "I should keep this short: a few sentences of thought, paced like any other tokens. "
    "Then the answer itself, which should say what just happened."
)

THINK_ANSWER = (
    "## Thinking first\n\n"
    "Before this answer, I streamed my **reasoning** as `reasoning_content` deltas, the way "
    "DeepSeek's reasoning models and many servers that host open models do. "
    "Inkstream shows it apart from the answer, so you can read *how* a model got somewhere "
    "without it crowding *what* it says.\n\n"
    "- The reasoning came first, token by token.\n"
    "- This answer followed, as plain `content`.\n"
    "- Both were paced like every other demo answer."
)


def _missing(names: Sequence[str]) -> str:
    listed = ", ".join(f"`{name}`" for name in names)
    return (
        f"I need {listed} for this, but the request does not offer {'it' if len(names) == 1 else 'them'}: "
        "those tools are switched off. Add them to `INKSTREAM_TOOLS` (or set it to `all`) and "
        "restart Inkstream."
    )


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    marks = "`" * max(3, longest + 1)
    return f"{marks}text\n{text}\n{marks}"


def _result(exchange: Exchange) -> str:
    return exchange.result if exchange.result is not None else "(no result came back)"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return line.replace("`", "'")


def _tools_answer(rounds: Sequence[Round]) -> str:
    exchanges = [exchange for round in rounds for exchange in round]
    parts = [
        f"I called **{len(exchanges)} tools** over {len(rounds)} rounds, "
        f"{len(rounds[0])} of them at once in the first. Here is what each one returned:"
    ]
    for number, exchange in enumerate(exchanges, 1):
        head = f"**{number}.** `{exchange.name}` with `{_first_line(exchange.arguments)}` returned:"
        parts.append(head + "\n\n" + _fence(_result(exchange)))
    by_name = {exchange.name: _result(exchange) for exchange in exchanges}
    summary = []
    if "calculator" in by_name:
        summary.append(f"**(1234 × 5678) / 3** comes to `{_first_line(by_name['calculator'])}`")
    if "convert_time" in by_name:
        summary.append(
            f"9:00 in Paris on 7 December 2026 is `{_first_line(by_name['convert_time'])}` in Tokyo"
        )
    if summary:
        parts.append("## In short\n\n" + "; ".join(summary) + ".")
    parts.append(
        "The first two calls streamed *interleaved*, as real servers send parallel calls; "
        "Inkstream ran each one as soon as its arguments were complete."
    )
    return "\n\n".join(parts)


def _failure_answer(rounds: Sequence[Round]) -> str:
    exchange = rounds[0][0]
    result = _result(exchange)
    return (
        f"The `{exchange.name}` tool refused `{_first_line(exchange.arguments)}`, and said:\n\n"
        f"{_fence(result)}\n\n"
        "That is the right call: **dividing by zero has no answer**, so there is no number to "
        "give. A tool that fails tells the model why, and the model explains it, as here, "
        "instead of making a number up."
    )
