"""A turn's frames as the page gets them (docs/protocol.md, "Server → client"), and their one
JSON encoding (pure). Frames are the projection of a turn's log (projection.py); each is
encoded once and the same text goes to every socket that follows the turn."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

from ..markdown.ops import Op


class _UserMessage(TypedDict):
    id: str
    text: str


class _Resumed(TypedDict):
    text: str
    v: int
    original: str | None


class StartFrame(TypedDict):
    type: Literal["start"]
    turn: str
    seq: int
    model: str
    ref: str | None
    conversation: NotRequired[str]
    title: NotRequired[str]
    message: NotRequired[str]
    user: NotRequired[_UserMessage]
    regenerate: NotRequired[str | None]
    replaces: NotRequired[str]
    resumed: NotRequired[_Resumed]
    ops: NotRequired[list[Op]]
    shown: NotRequired[int]


class ToolFragment(TypedDict):
    call: int  # the call's number in the turn: the page's key
    round: int
    index: int  # the upstream's
    arguments: str  # the arguments' text since the previous fragment
    id: NotRequired[str]
    name: NotRequired[str]
    args: NotRequired[Any]  # the arguments so far, partially parsed (calls.py), when they parse


class StepFrame(TypedDict):
    """A tool call's state changed: it runs (``running``), or has its result (``done``,
    ``failed``: ``result`` is what the model is given, ``ms`` how long it ran)."""

    type: Literal["step"]
    turn: str
    seq: int
    call: int
    state: Literal["running", "done", "failed"]
    result: NotRequired[str]
    ms: NotRequired[float]


class DeltaFrame(TypedDict):
    type: Literal["delta"]
    turn: str
    seq: int
    text: str  # the answer's markdown since the previous frame
    n: int  # upstream deltas folded in
    ops: list[Op]
    shown: int  # characters of the text the page shows once it applied ``ops``
    v: NotRequired[int]  # the text's version once ``text`` is added (frames with text)
    tools: NotRequired[list[ToolFragment]]
    reasoning: NotRequired[str]  # the model's thinking since the previous frame (not the text)
    thought_ms: NotRequired[float]  # the thinking has ended, after this long


class EditFrame(TypedDict):
    """A page's edit, merged: every page on the answer applies ``edits`` (descending range
    replacements) to its copy of the text, which is then at version ``v``; the page whose edit
    it is (``origin``) takes it as its acknowledgement."""

    type: Literal["edit"]
    turn: str
    seq: int
    v: int
    edits: list[tuple[int, int, str]]
    origin: str
    ref: str | None
    ops: list[Op]
    shown: int


class Stats(TypedDict):
    ttft_ms: float | None
    duration_ms: float
    deltas: int
    chars: int
    frames: int
    reconciled: int
    rewrites: int


class EndFrame(TypedDict):
    type: Literal["end"]
    turn: str
    seq: int
    state: str
    finish_reason: str | None
    ops: list[Op]
    shown: int
    stats: NotRequired[Stats]
    usage: NotRequired[dict[str, int]]
    error: NotRequired[dict[str, Any]]
    reason: NotRequired[str]


Frame = StartFrame | DeltaFrame | EditFrame | StepFrame | EndFrame


def encode(frame: Mapping[str, Any]) -> str:
    text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate slipped through: escaped, it is still valid JSON and UTF-8.
            text = json.dumps(frame, separators=(",", ":"))
    return text
