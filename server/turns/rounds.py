"""An answer's rounds of tool calls, as a state machine (pure: the runner does the calling).

A round is one upstream stream. Its calls (calls.py) each start the moment their own arguments
are complete (``startable``), so a slow second call's arguments do not hold up the first;
results come back in any order (``finished``). Once the stream has ended and every call of the
round has its result, ``decide`` says what comes next: the answer is done (the round made no
calls), another round (the assistant message with its ``tool_calls`` and one ``tool`` message
per call, in call order, go back upstream: ``follow_up``), or the limit of rounds is reached
(the round's calls are not run; each is answered "not run" so the record stays whole).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..upstream.events import ToolCallDelta
from .calls import Call, Calls

NOT_RUN = "Not run: this answer reached its limit of {limit} rounds of tool calls."


class CallState(enum.Enum):
    STREAMING = "streaming"  # arguments arriving
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Result:
    ok: bool
    content: str
    ms: float = 0.0


Next = Literal["answer", "round", "limit"]


class Rounds:
    def __init__(self, max_rounds: int, make_id: Callable[[int], str]) -> None:
        self.max_rounds = max_rounds
        self._make_id = make_id
        self.round = 0
        self.calls = Calls(0, 0, make_id)
        self.states: dict[int, CallState] = {}
        self.results: dict[int, Result] = {}
        self._ended = False  # this round's stream

    @property
    def limited(self) -> bool:
        """This round's calls may not run: the rounds allowed are used up."""
        return self.round >= self.max_rounds

    def feed(self, delta: ToolCallDelta) -> Call:
        call = self.calls.feed(delta)
        self.states.setdefault(call.number, CallState.STREAMING)
        return call

    def startable(self) -> list[Call]:
        """Calls to start now (each returned once, then ``running``). Over the limit, none:
        the stream's end answers them (``stream_ended``)."""
        if self.limited:
            return []
        out = []
        for call in self.calls.ready():
            if self.states[call.number] is CallState.STREAMING:
                self.states[call.number] = CallState.RUNNING
                out.append(call)
        return out

    def stream_ended(self) -> list[Call]:
        """The round's stream is over: every call is complete, whatever it holds. The calls to
        start now; over the limit each call gets its "not run" result instead."""
        self._ended = True
        self.calls.close()
        if not self.limited:
            for call in self.calls.calls:
                if not call.name:
                    call.name = "unnamed"  # a call whose name never came fails as unknown
            return self.startable()
        for call in self.calls.calls:
            if self.states[call.number] is CallState.STREAMING:
                self.finished(call.number, Result(False, NOT_RUN.format(limit=self.max_rounds)))
        return []

    def finished(self, number: int, result: Result) -> None:
        self.states[number] = CallState.DONE if result.ok else CallState.FAILED
        self.results[number] = result

    @property
    def settled(self) -> bool:
        """The stream has ended and every call of the round has its result."""
        return self._ended and all(c.number in self.results for c in self.calls.calls)

    def decide(self) -> Next:
        assert self.settled, "decided only once the round is settled"
        if not self.calls.calls:
            return "answer"
        return "limit" if self.limited else "round"

    def follow_up(self, text: str) -> list[dict[str, Any]]:
        """What goes back upstream after this round: the assistant's message (its text and
        calls) and each call's result, in call order, paired by id."""
        calls = self.calls.calls
        assistant: dict[str, Any] = {
            "role": "assistant",
            "content": text or None,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments or "{}"},
                }
                for c in calls
            ],
        }
        tools = [
            {"role": "tool", "tool_call_id": c.id, "content": self.results[c.number].content} for c in calls
        ]
        return [assistant, *tools]

    def next_round(self) -> None:
        assert self.settled
        assert self.decide() == "round"
        self.round += 1
        self.calls = Calls(self.round, self.calls.next_number, self._make_id)
        self._ended = False
