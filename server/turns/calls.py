"""A round's tool calls, assembled from the upstream's fragments (pure).

Servers stream a call as fragments: the first names its ``index``, ``id`` and ``name``, the rest
carry pieces of the ``arguments`` JSON text, and several calls' fragments may interleave. Most
servers give each call its own index; some (Gemini's and Mistral's compatible endpoints, old
Ollama) send every call with index 0 and tell them apart by ``id`` alone, so a fragment whose id
differs from the one its index holds is a new call. A call without any id gets one made up: the
follow-up request must pair each ``tool`` message with its call.

A call's arguments are complete the moment they parse as one JSON object (nothing can follow a
closed object), so it can run before the model has finished the others; a call still open when
the round ends is complete then, whatever it holds (its arguments then fail to validate and the
model is told). While they stream, ``preview`` parses them partially with pydantic-core's
partial mode (jiter), for the page to show readable arguments as they grow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import from_json

from ..upstream.events import ToolCallDelta

# Arguments beyond this are not parsed for the preview on every fragment (each parse reads the
# whole text): the page shows the raw text of a call that large.
MAX_PREVIEW = 64 * 1024


@dataclass
class Call:
    number: int  # in the turn, in the order calls first appeared (the page's key)
    round: int
    index: int  # the upstream's
    id: str
    name: str = ""
    pieces: list[str] = field(default_factory=list)
    complete: bool = False
    given: bool = False  # the id is the upstream's (not made up here)

    @property
    def arguments(self) -> str:
        if len(self.pieces) > 1:
            self.pieces[:] = ["".join(self.pieces)]
        return self.pieces[0] if self.pieces else ""

    def preview(self) -> Any:
        return preview(self.arguments)


class Calls:
    """One round's calls. ``first``: the turn-wide number of its first call; ``make_id`` gives an
    id to a call the upstream sent none for."""

    def __init__(self, round: int, first: int, make_id: Callable[[int], str]) -> None:
        self.round = round
        self._next = first
        self._make_id = make_id
        self.calls: list[Call] = []
        self._by_index: dict[int, Call] = {}  # the latest call at each upstream index

    def feed(self, delta: ToolCallDelta) -> Call:
        """The call this fragment belongs to, with the fragment added."""
        call = self._by_index.get(delta.index)
        if (
            call is None
            or (delta.id and call.given and delta.id != call.id)
            # No ids at all and every call at index 0, each whole in one fragment: a name
            # after a finished call starts the next.
            or (delta.name and call.name and call.complete and not delta.id)
        ):
            call = self._open(delta)
        elif delta.id and not call.given:
            call.id, call.given = delta.id, True  # its id came after its first fragment
        if delta.name and not call.name:
            call.name = delta.name
        if delta.arguments and not call.complete:
            call.pieces.append(delta.arguments)
            if delta.arguments.rstrip().endswith("}"):
                call.complete = _object(call.arguments)
        return call

    def ready(self) -> list[Call]:
        """Calls whose arguments are complete and whose name is known, in the order they came."""
        return [call for call in self.calls if call.complete and call.name]

    def close(self) -> list[Call]:
        """The round's stream ended: every call is as complete as it will get."""
        for call in self.calls:
            call.complete = True
        return list(self.calls)

    @property
    def next_number(self) -> int:
        return self._next

    def _open(self, delta: ToolCallDelta) -> Call:
        number = self._next
        self._next += 1
        call = Call(number, self.round, delta.index, delta.id or self._make_id(number), given=bool(delta.id))
        self.calls.append(call)
        self._by_index[delta.index] = call
        return call


def preview(text: str) -> Any:
    """Arguments as far as they parse (a dict growing key by key), or None when nothing
    parses yet or they are too large to parse on every fragment."""
    if not text.strip() or len(text) > MAX_PREVIEW:
        return None
    try:
        return from_json(text, allow_partial="trailing-strings")
    except ValueError:
        return None


def _object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
