"""server/turns/relay.py and projection.py: upstream events of one turn -> its log and its
frames, with the clock passed in: the start, coalescing, tool calls and the end.

The renderer is the real one (``Markdown()`` is pure), so the end-to-end check is that the
page, patched with every frame's ops, shows what a one-shot render of the text shows. The
tests look at the frames (``Driver`` keeps the relay's log beside them); test_relay_log.py has
any schedule, render pacing and the log's own tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from server.errors import AnswerTooLarge, InternalError, TurnError, UpstreamStreamError
from server.turns.log import TurnState as EndState
from server.upstream.events import (
    ContentDelta,
    Done,
    Finish,
    RoleDelta,
    ToolCallDelta,
    UpstreamEvent,
    Usage,
)
from tests.support.dom import canonical
from tests.unit.turns.relay_driver import BURST, FPS, Frame, deltas, make, markdown, page_html

# ------------------------------------------------------------------ start, first delta


def test_start_frame() -> None:
    relay = make(turn="t_abc", model="gpt-x", ref="r1")
    assert relay.start() == {"type": "start", "turn": "t_abc", "seq": 0, "model": "gpt-x", "ref": "r1"}


def test_nothing_to_send() -> None:
    relay = make()
    relay.start()
    assert not relay.pending
    assert relay.due(0.0) is None
    assert relay.flush(0.0) is None
    relay.feed(RoleDelta("assistant"), 0.0)
    relay.feed(Finish("stop"), 0.0)
    relay.feed(Usage(1, 2, 3), 0.0)
    relay.feed(Done(), 0.0)
    assert not relay.pending
    assert relay.due(0.0) is None
    assert relay.flush(0.0) is None


def test_first_delta_is_due_at_once() -> None:
    relay = make(10.0)
    relay.start()
    relay.feed(ContentDelta("Hel"), 12.5)
    relay.feed(ContentDelta("lo"), 12.5)
    assert relay.pending
    assert relay.due(12.5) == 12.5
    frame = relay.flush(12.5)
    assert frame is not None
    assert frame["type"] == "delta"
    assert frame["turn"] == "t_1"
    assert frame["seq"] == 1
    assert frame["text"] == "Hello"
    assert frame["n"] == 2
    assert isinstance(frame["ops"], list)
    assert frame["ops"]
    assert "tools" not in frame
    assert not relay.pending
    assert relay.flush(12.5) is None


def test_first_delta_after_a_long_wait_is_due_at_once_even_with_a_burst_of_one() -> None:
    relay = make(0.0, burst=1)
    relay.start()
    relay.feed(ContentDelta("a"), 30.0)
    assert relay.due(30.0) == 30.0
    assert relay.flush(30.0) is not None


# ------------------------------------------------------------------ coalescing


def test_burst_of_100_deltas_at_one_instant() -> None:
    relay = make(0.0)
    frames = [relay.start()]
    fed = []
    for i in range(100):
        text = f"w{i} "
        fed.append(text)
        relay.feed(ContentDelta(text), 0.0)
        frame = relay.flush(0.0)
        if frame is not None:
            frames.append(frame)
    assert len(deltas(frames)) == BURST
    assert relay.pending
    assert relay.due(0.0) == pytest.approx(1 / FPS)
    assert relay.flush(0.0) is None
    frames += relay.end(0.0)
    assert "".join(f["text"] for f in deltas(frames)) == "".join(fed)
    assert sum(f["n"] for f in deltas(frames)) == 100
    assert [f["seq"] for f in frames] == list(range(len(frames)))


def test_fast_model_is_held_to_max_fps_after_the_burst() -> None:
    relay = make(0.0)
    frames = [relay.start()]
    sent_at = []
    fed = []
    step = 0.001  # a delta every millisecond: 1000 a second
    for ms in range(3001):
        now = ms * step
        fed.append(f"{ms} ")
        relay.feed(ContentDelta(fed[-1]), now)
        frame = relay.flush(now)
        if frame is not None:
            frames.append(frame)
            sent_at.append(now)
    assert sent_at[:BURST] == pytest.approx([0.0, 0.001, 0.002, 0.003])  # the burst: no wait
    assert BURST + FPS - 2 <= len([t for t in sent_at if t <= 1.0]) <= BURST + FPS
    for second in (2, 3):
        in_second = [t for t in sent_at if second - 1 < t <= second]
        assert FPS - 2 <= len(in_second) <= FPS
    frames += relay.end(3.0, reason=None)
    assert "".join(f["text"] for f in deltas(frames)) == "".join(fed)
    assert sum(f["n"] for f in deltas(frames)) == len(fed)


def test_slow_model_gets_a_frame_per_delta() -> None:
    relay = make(0.0)
    relay.start()
    for i in range(50):
        now = 0.5 + i * 0.1  # 10 deltas a second, under max_fps
        relay.feed(ContentDelta(f"t{i} "), now)
        assert relay.due(now) == now
        frame = relay.flush(now)
        assert frame is not None
        assert frame["text"] == f"t{i} "
        assert frame["n"] == 1


def test_due_tracks_the_bucket() -> None:
    relay = make(0.0, burst=1)
    relay.start()
    relay.feed(ContentDelta("a"), 0.0)
    assert relay.flush(0.0) is not None
    relay.feed(ContentDelta("b"), 0.01)
    due = relay.due(0.01)
    assert due is not None
    assert due == pytest.approx(1 / FPS)
    assert relay.flush(0.02) is None
    frame = relay.flush(due + 1e-9)
    assert frame is not None
    assert (frame["type"], frame["seq"], frame["text"], frame["n"]) == ("delta", 2, "b", 1)


def test_flush_at_due_sends() -> None:
    relay = make(1000.0, burst=1)
    relay.start()
    relay.feed(ContentDelta("a"), 1000.0)
    assert relay.flush(1000.0) is not None
    relay.feed(ContentDelta("b"), 1000.0)
    due = relay.due(1000.0)
    assert due is not None
    assert relay.flush(due) is not None


def test_spacing_under_load_batches_tokens_but_never_the_first() -> None:
    relay = make(0.0)
    relay.start()
    sent_at = []
    for i in range(100):
        now = 0.5 + i * 0.04  # 25 tokens a second
        relay.feed(ContentDelta(f"t{i} "), now)
        due = relay.due(now, 0.2)
        assert due is not None
        frame = relay.flush(now, 0.2)
        if frame is not None:
            sent_at.append(now)
            assert due <= now
        else:
            assert due > now
    assert sent_at[0] == 0.5  # the first token goes out at once, whatever the load
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert min(gaps) >= 0.2 - 1e-9
    assert 18 <= len(sent_at) <= 22  # 4 s at one frame per 0.2 s
    rest = relay.end(5.0)  # nothing is lost: the end carries the rest
    assert sum(len(f.get("text", "")) for f in rest) > 0


def test_no_spacing_is_the_plain_rate() -> None:
    relay = make(0.0)
    relay.start()
    relay.feed(ContentDelta("a"), 0.0)
    assert relay.due(0.0, 0.0) == 0.0
    assert relay.flush(0.0, 0.0) is not None
    relay.feed(ContentDelta("b"), 0.001)
    assert relay.flush(0.001, 0.0) is not None  # within the burst


# ------------------------------------------------------------------ tool calls


def test_tool_call_fragments_are_joined_per_frame() -> None:
    relay = make(0.0, burst=1)
    relay.start()
    relay.feed(ToolCallDelta(0, "call_1", "get_weather", ""), 0.0)
    relay.feed(ToolCallDelta(0, None, None, '{"city":'), 0.0)
    relay.feed(ToolCallDelta(1, "call_2", "get_time", "{}"), 0.0)
    assert relay.pending
    frame = relay.flush(0.0)
    assert frame is not None
    assert frame["text"] == ""
    assert frame["n"] == 3
    assert frame["tools"] == [
        # The arguments so far, partially parsed: the page shows them growing.
        {"call": 0, "round": 0, "index": 0, "arguments": '{"city":', "id": "call_1", "name": "get_weather",
         "args": {}},
        {"call": 1, "round": 0, "index": 1, "arguments": "{}", "id": "call_2", "name": "get_time",
         "args": {}},
    ]  # fmt: skip
    relay.feed(ToolCallDelta(0, None, None, '"Paris"}'), 0.01)
    assert relay.flush(0.01) is None  # rate-limited: comes with end()
    [last, end] = relay.end(0.02)
    assert last["tools"] == [
        {"call": 0, "round": 0, "index": 0, "arguments": '"Paris"}', "id": "call_1", "name": "get_weather",
         "args": {"city": "Paris"}}
    ]  # fmt: skip
    assert end["stats"]["deltas"] == 4
    assert end["stats"]["chars"] == 0
    assert end["stats"]["ttft_ms"] == 0.0


def test_text_and_tools_in_one_frame() -> None:
    relay = make(0.0)
    relay.start()
    relay.feed(ContentDelta("Let me check. "), 0.0)
    relay.feed(ToolCallDelta(0, "c", "f", "{}"), 0.0)
    frame = relay.flush(0.0)
    assert frame is not None
    assert frame["text"] == "Let me check. "
    assert frame["tools"] == [
        {"call": 0, "round": 0, "index": 0, "arguments": "{}", "id": "c", "name": "f", "args": {}}
    ]


# ------------------------------------------------------------------ end


def _ended(events: Sequence[UpstreamEvent], **end: Any) -> Frame:
    relay = make(0.0)
    relay.start()
    for event in events:
        relay.feed(event, 0.1)
    frames = relay.end(0.5, **end)
    assert frames[-1]["type"] == "end"
    return frames[-1]


TEXT: list[UpstreamEvent] = [ContentDelta("Hello "), ContentDelta("world.")]


@pytest.mark.parametrize(
    ("events", "end", "state"),
    [
        ([*TEXT, Finish("stop"), Done()], {}, "done"),
        ([*TEXT, Done()], {}, "done"),
        ([*TEXT, Finish("length")], {}, "done"),
        ([Done()], {}, "done"),
        (TEXT, {}, "incomplete"),
        ([], {}, "incomplete"),
        ([*TEXT, Usage(1, 2, 3)], {}, "incomplete"),
        (TEXT, {"stopped": True}, "stopped"),
        ([*TEXT, Done()], {"stopped": True}, "stopped"),
        (TEXT, {"error": UpstreamStreamError("Boom.")}, "error"),
        ([*TEXT, Done()], {"error": InternalError("Oops.")}, "error"),
        (TEXT, {"error": AnswerTooLarge("Big."), "stopped": True}, "error"),
    ],
    ids=[
        "finish+done",
        "done",
        "finish",
        "done-only",
        "neither",
        "nothing",
        "usage-only",
        "stopped",
        "stopped-after-done",
        "error",
        "error-after-done",
        "error-and-stopped",
    ],
)
def test_end_state(events: list[UpstreamEvent], end: dict[str, Any], state: str) -> None:
    frame = _ended(events, **end)
    assert frame["state"] == state
    assert EndState(state).value == state


def test_end_frame_fields() -> None:
    relay = make(100.0, turn="t_9", model="m")
    frames = [relay.start()]
    relay.feed(RoleDelta("assistant"), 100.2)
    relay.feed(ContentDelta("Hi *there*"), 100.25)
    frames.append(relay.flush(100.25))  # type: ignore[arg-type]
    relay.feed(Finish("stop"), 100.3)
    relay.feed(Usage(9, 12, 21), 100.3)
    relay.feed(Done(), 100.3)
    frames += relay.end(101.0)
    end = frames[-1]
    assert end["type"] == "end"
    assert end["turn"] == "t_9"
    assert end["seq"] == 2
    assert end["state"] == "done"
    assert end["finish_reason"] == "stop"
    assert end["usage"] == {"prompt_tokens": 9, "completion_tokens": 12, "total_tokens": 21}
    assert isinstance(end["ops"], list)
    assert "error" not in end
    assert "reason" not in end
    stats = end["stats"]
    assert stats["ttft_ms"] == pytest.approx(250.0)
    assert stats["duration_ms"] == pytest.approx(1000.0)
    assert stats["deltas"] == 1
    assert stats["chars"] == len("Hi *there*")
    assert stats["frames"] == 3 == len(frames)
    assert isinstance(stats["reconciled"], int)
    assert isinstance(stats["rewrites"], int)
    assert page_html(frames) == canonical(markdown().render("Hi *there*"))


def test_end_without_usage_or_content() -> None:
    end = _ended([])
    assert "usage" not in end
    assert end["finish_reason"] is None
    assert end["stats"]["ttft_ms"] is None
    assert end["stats"]["deltas"] == 0
    assert end["stats"]["frames"] == 2  # start and end


def test_partial_usage_on_the_wire() -> None:
    assert _ended([Usage(None, 5, None)])["usage"] == {"completion_tokens": 5}


def test_end_with_error_carries_its_wire_form() -> None:
    error = UpstreamStreamError("Rate limit exceeded", status=429, upstream_code="rate_limit_error")
    end = _ended(TEXT, error=error, reason="ignored when there is an error")
    assert end["state"] == "error"
    assert end["error"] == error.to_wire()
    assert end["error"]["code"] == "upstream_stream_error"
    assert "reason" not in end


@pytest.mark.parametrize("error_type", [TurnError, InternalError, AnswerTooLarge])
def test_end_with_any_turn_error(error_type: type[TurnError]) -> None:
    end = _ended(TEXT, error=error_type("Something failed."))
    assert end["error"] == {"code": error_type.code, "message": "Something failed."}


def test_stopped_with_reason() -> None:
    end = _ended(TEXT, stopped=True, reason="user")
    assert end["state"] == "stopped"
    assert end["reason"] == "user"


def test_end_sends_what_is_pending_despite_the_rate() -> None:
    relay = make(0.0, burst=1)
    frames = [relay.start()]
    relay.feed(ContentDelta("a"), 0.0)
    frames.append(relay.flush(0.0))  # type: ignore[arg-type]
    relay.feed(ContentDelta("b"), 0.0)
    assert relay.flush(0.0) is None
    frames += relay.end(0.0)
    assert [f["type"] for f in frames] == ["start", "delta", "delta", "end"]
    assert [f["seq"] for f in frames] == [0, 1, 2, 3]
    assert frames[2]["text"] == "b"


def test_after_end_nothing_more() -> None:
    relay = make(0.0)
    relay.start()
    relay.feed(ContentDelta("a"), 0.0)
    assert len(relay.end(0.1)) == 2
    assert relay.ended
    relay.feed(ContentDelta("late"), 0.2)
    relay.feed(Done(), 0.2)
    assert not relay.pending
    assert relay.due(0.2) is None
    assert relay.flush(0.2) is None
    assert relay.end(0.3) == []
    assert relay.end(0.3, error=InternalError("x")) == []


def test_final_render_matches_one_shot() -> None:
    text = (
        "# Title\n\nSome *text* with `code` and a [link](https://example.com).\n\n"
        "- one\n- two\n\n1. a\n2. b\n\n```python\nx = 1\nprint(x)\n```\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote\n\nLast line, no newline"
    )
    relay = make(0.0)
    frames = [relay.start()]
    now = 0.0
    for i in range(0, len(text), 3):
        now += 0.004
        relay.feed(ContentDelta(text[i : i + 3]), now)
        frame = relay.flush(now)
        if frame is not None:
            frames.append(frame)
    frames += relay.end(now + 0.01)
    assert "".join(f["text"] for f in deltas(frames)) == text
    assert page_html(frames) == canonical(markdown().render(text))
