"""Continuing an answer from its text as it stands (pure): what goes upstream, and the seam.

A stopped, cut-off or edited answer can be continued: the model carries on from the text as
it now is, edits included, streaming into the same message. Upstreams take that in one of
three ways, configurable per model (docs/configuration.md, ``INKSTREAM_CONTINUE``):

* ``assistant``: the text as a final assistant message, which the server continues rather
  than answers (assistant prefill: llama.cpp's server, Ollama, LM Studio, Anthropic's
  OpenAI-compatible endpoint, the demo model);
* ``continue_final_message``: the same, plus ``continue_final_message: true`` and
  ``add_generation_prompt: false``, the flags vLLM (and Hugging Face's chat templates) need;
* ``user``: for upstreams that answer a final assistant message instead of continuing it
  (OpenAI's own API): the text goes as an assistant message, then a user message asking to
  continue it exactly from where it stops.

The continuation is joined to the text by ``Seam``: a model continuing a prefill may repeat
the whitespace the text ended with, and one asked in a user message tends to start on a new
word without its space, or to echo the text's last words first.
"""

from __future__ import annotations

import re
from typing import Any

from ..settings import ContinueMode
from ..upstream.messages import Message

Mode = ContinueMode

# The user message of the ``user`` mode: a model reads it as words (the demo model too,
# server/demo/resume.py); docs/protocol.md shows it.
INSTRUCTION = (
    "Continue your previous answer exactly from where it stops, as if you had never stopped. "
    "Do not repeat any of it, do not comment: reply with the continuation only."
)

HOLD = 160  # characters of the continuation held back, at most, while the seam is decided
ECHO_LEAST = 12  # characters an echo of the text's end must have to be dropped


def request_of(
    history: tuple[Message, ...], text: str, mode: Mode
) -> tuple[tuple[Message, ...], dict[str, Any]]:
    """The messages (the branch up to the user's message, then the answer's text) and the
    extra request fields that ask the upstream to continue ``text``."""
    messages = (*history, Message("assistant", text))
    if mode == "user":
        return (*messages, Message("user", INSTRUCTION)), {}
    if mode == "continue_final_message":
        return messages, {"continue_final_message": True, "add_generation_prompt": False}
    return messages, {}


_WORD = re.compile(r"\w", re.UNICODE)
_SENTENCE_END = ".!?:;,)"


class Seam:
    """The join of a continuation to the text it continues: what of the continuation's first
    characters goes out, once enough of them are in to decide (pure, fed piece by piece).

    * whitespace the text ends with is not doubled: the continuation's leading spaces are
      dropped after a space, its leading newlines count with the text's (at most as many as
      the larger of the two);
    * asked in a user message (``user``), a continuation starting on a word right after a
      word or a sentence's punctuation gets its space: such a model starts afresh. A prefill
      continues the text's own tokens and sends its space itself when one belongs there
      (``3.`` then ``14``, a word cut in the middle), so there the seam adds none;
    * asked in a user message, a continuation that starts by echoing the text's end (at least
      ECHO_LEAST characters of it) loses the echo.
    """

    def __init__(self, text: str, mode: Mode) -> None:
        self._tail = text[-HOLD:]
        self._mode = mode
        self._held: list[str] = []
        self._size = 0
        self.joined = not text  # nothing to join to: everything passes

    def feed(self, piece: str) -> str:
        """What of ``piece`` (and of what was held) goes out now."""
        if self.joined:
            return piece
        self._held.append(piece)
        self._size += len(piece)
        held = "".join(self._held)
        if not held.strip():
            return ""  # all whitespace so far: how much of it stays depends on what follows
        if self._mode == "user" and self._size < HOLD and self._could_echo(held):
            return ""
        return self._join(held)

    def flush(self) -> str:
        """The end of the continuation: what is held goes, joined."""
        if self.joined:
            return ""
        return self._join("".join(self._held))

    def _could_echo(self, held: str) -> bool:
        """``held`` may still turn out to begin with an echo of the text's end (it is found in
        the text's end, so more of it may yet match)."""
        start = held.lstrip()
        return bool(start) and start in self._tail

    def _join(self, held: str) -> str:
        self.joined = True
        self._held = []
        tail = self._tail
        if self._mode == "user":
            held = self._without_echo(held)
        lead = len(held) - len(held.lstrip())
        space, body = held[:lead], held[lead:]
        ends_newlines = len(tail) - len(tail.rstrip("\n"))
        if ends_newlines:
            newlines = space.count("\n")
            # The text's newlines stand; the continuation adds only those beyond them.
            return "\n" * max(0, newlines - ends_newlines) + body
        if tail.endswith((" ", "\t")):
            return space.lstrip(" \t") + body if "\n" in space else body
        if space or not body:
            return space + body
        before = tail[-1]
        if self._mode == "user" and _WORD.match(body[0]) and (before in _SENTENCE_END or _WORD.match(before)):
            return " " + body
        return body

    def _without_echo(self, held: str) -> str:
        start = held.lstrip()
        tail = self._tail.rstrip()
        for size in range(min(len(start), len(tail)), ECHO_LEAST - 1, -1):
            if tail.endswith(start[:size]):
                return start[size:]
        return held
