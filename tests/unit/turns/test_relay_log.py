"""server/turns/relay.py and projection.py, continued: any schedule keeps the frame invariants,
costly renders are paced, and the log a turn writes (test_relay.py has the start, coalescing,
tool calls and the end).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.demo.longform import huge_answer
from server.demo.tokens import strip_marks
from server.errors import UpstreamStreamError
from server.turns.log import (
    Failure,
    Finished,
    Started,
    TextAppended,
    ToolCallFragment,
    TurnEvent,
    UsageReported,
)
from server.turns.log import TurnState as EndState
from server.turns.projection import OPS_BUDGET, Projection
from server.upstream.events import (
    ContentDelta,
    Done,
    Finish,
    ToolCallDelta,
    UpstreamEvent,
    Usage,
)
from tests.support.dom import canonical
from tests.unit.turns.relay_driver import FPS, Frame, deltas, make, markdown, page_html

# ------------------------------------------------------------------ any schedule


_PIECES = st.sampled_from(
    ["Hello", " ", "wörld", "\n", "\n\n", "- ", "1. ", "**", "`", "```\n", "| a |", "#", "😀", "\r\n", "x"]
)


@st.composite
def schedules(draw: st.DrawFn) -> list[tuple[float, UpstreamEvent | None]]:
    """(time step, event or None for "the timer fired")."""
    steps: list[tuple[float, UpstreamEvent | None]] = []
    for _ in range(draw(st.integers(0, 60))):
        step = draw(st.sampled_from([0.0, 0.0, 0.001, 0.01, 1 / 30, 0.2]))
        kind = draw(st.sampled_from(["text", "text", "text", "tool", "flush", "flush"]))
        event: UpstreamEvent | None
        if kind == "text":
            event = ContentDelta(draw(_PIECES))
        elif kind == "tool":
            arguments = draw(st.sampled_from(["{", "}", "a"]))
            event = ToolCallDelta(draw(st.integers(0, 2)), None, None, arguments)
        else:
            event = None
        steps.append((step, event))
    return steps


@settings(max_examples=200, deadline=None)
@given(
    schedule=schedules(),
    start=st.floats(min_value=0, max_value=1e5),
    burst=st.integers(1, 6),
    ending=st.sampled_from(["done", "finish", "none", "stopped", "error"]),
)
def test_any_schedule_keeps_the_frame_invariants(
    schedule: list[tuple[float, UpstreamEvent | None]], start: float, burst: int, ending: str
) -> None:
    relay = make(start, burst=burst)
    frames = [relay.start()]
    now = start
    fed_text: list[str] = []
    fed_args: dict[int, str] = {}
    count = 0
    flushed_at: list[float] = []
    for step, event in schedule:
        now += step
        if event is None:
            due = relay.due(now)
            frame = relay.flush(now)
            if due is None:
                assert frame is None
            elif due > now:
                assert frame is None  # never early
        else:
            relay.feed(event, now)
            count += 1
            if isinstance(event, ContentDelta):
                fed_text.append(event.text)
            elif isinstance(event, ToolCallDelta):
                fed_args[event.index] = fed_args.get(event.index, "") + event.arguments
            frame = relay.flush(now)
        if frame is not None:
            frames.append(frame)
            flushed_at.append(now)
            # No more frames than the bucket allows, in any prefix of the turn.
            assert len(flushed_at) <= burst + FPS * (now - start) + 1e-6
    if ending == "done":
        relay.feed(Done(), now)
    elif ending == "finish":
        relay.feed(Finish("stop"), now)
    frames += relay.end(
        now,
        stopped=ending == "stopped",
        error=UpstreamStreamError("Boom.") if ending == "error" else None,
    )

    assert [f["seq"] for f in frames] == list(range(len(frames)))
    assert all(f["turn"] == "t_1" for f in frames)
    assert [f["type"] for f in frames] == ["start"] + ["delta"] * (len(frames) - 2) + ["end"]
    sent = deltas(frames)
    assert "".join(f["text"] for f in sent) == "".join(fed_text)
    assert sum(f["n"] for f in sent) == count
    # No empty frames: each carries deltas, or (n == 0) only render operations owed for them.
    assert all(f["n"] > 0 or (f["text"] == "" and f["ops"]) for f in sent)
    assert [f["shown"] for f in frames[1:]] == sorted(f["shown"] for f in frames[1:])
    assert frames[-1]["shown"] == len("".join(fed_text))
    args: dict[int, str] = {}
    for frame in sent:
        for call in frame.get("tools", []):
            args[call["index"]] = args.get(call["index"], "") + call["arguments"]
    assert args == fed_args
    end = frames[-1]
    assert (
        end["state"]
        == {"done": "done", "finish": "done", "none": "incomplete", "stopped": "stopped", "error": "error"}[
            ending
        ]
    )
    assert end["stats"]["frames"] == len(frames)
    assert end["stats"]["deltas"] == count
    assert end["stats"]["chars"] == sum(len(t) for t in fed_text)
    assert page_html(frames) == canonical(markdown().render("".join(fed_text)))
    assert_log(relay.events, fed_text, fed_args, count, end)


def test_costly_renders_are_paced_but_text_is_not() -> None:
    relay = make(0.0, burst=100)
    relay.start()
    relay.feed(ContentDelta("Some **bold"), 0.0)
    first = relay.flush(0.0)
    assert first is not None
    assert first["ops"]  # the first content renders at once
    assert first["shown"] == len("Some **bold")
    relay.feed(ContentDelta(" text** and `code"), 0.01)
    second = relay.flush(0.01)
    assert second is not None
    assert second["text"] == " text** and `code"
    assert second["ops"] == []  # a parse is owed, but not before render_interval
    assert second["shown"] == len("Some **bold")
    due = relay.due(0.01)
    assert due is not None
    assert due == pytest.approx(0.05)
    assert relay.flush(0.02) is None
    third = relay.flush(0.05)
    assert third is not None
    assert (third["text"], third["n"]) == ("", 0)
    assert third["ops"]
    assert third["shown"] == len("Some **bold text** and `code")


def test_plain_words_render_with_every_frame() -> None:
    relay = make(0.0, burst=100)
    relay.start()
    relay.feed(ContentDelta("Hello"), 0.0)
    relay.flush(0.0)
    relay.feed(ContentDelta(" there"), 0.01)
    frame = relay.flush(0.01)
    assert frame is not None
    assert frame["ops"] == [{"op": "tail", "text": " there", "depth": 0, "id": 1}]
    assert frame["shown"] == len("Hello there")


def test_costly_renders_stretch_the_interval() -> None:
    relay = make(0.0, burst=100)
    relay.start()
    relay.feed(ContentDelta("Some **bold"), 0.0)
    relay.flush(0.0)
    relay.took(0.02)  # that render took 20 ms: at most a tenth of the time goes to rendering
    relay.feed(ContentDelta(" and `code"), 0.01)
    relay.flush(0.01)
    due = relay.due(0.01)
    assert due == pytest.approx(0.2)


def test_a_broken_render_still_ends_the_turn() -> None:
    relay = make(0.0)
    relay.start()
    relay.feed(ContentDelta("text"), 0.0)
    frame = relay.broken_end(UpstreamStreamError("Boom."))
    assert frame["type"] == "end"
    assert frame["state"] == "error"
    assert frame["ops"] == []
    assert relay.ended


def test_an_emoji_split_across_deltas_arrives_whole() -> None:
    relay = make(0.0, burst=100)
    relay.start()
    relay.feed(ContentDelta("smile \ud83d"), 0.0)
    relay.feed(ContentDelta("\ude00 done"), 0.0)
    frame = relay.flush(0.0)
    assert frame is not None
    assert frame["text"] == "smile 😀 done"
    relay.feed(ContentDelta("half \ud83d"), 0.0)
    (*_, end) = relay.end(0.0)
    assert "\ufffd" in relay.renderer.source  # a half never completed becomes U+FFFD
    assert end["shown"] == len("smile 😀 done") + len("half \ufffd")


def test_slow_plain_frames_do_not_stretch_the_interval() -> None:
    relay = make(0.0, burst=100)
    relay.start()
    relay.feed(ContentDelta("Some **bold"), 0.0)
    relay.flush(0.0)
    relay.took(0.001)  # a parse, cheap
    relay.feed(ContentDelta(" and"), 0.01)
    frame = relay.flush(0.01)
    assert frame is not None
    assert frame["ops"][0]["op"] == "tail"  # plain words: no parse
    relay.took(0.05)  # slow for whatever reason, but it parsed nothing
    relay.feed(ContentDelta(" `code"), 0.02)
    relay.flush(0.02)
    assert relay.due(0.02) == pytest.approx(0.05)


# ------------------------------------------------------------------ the log


def assert_log(
    events: list[TurnEvent], fed_text: list[str], fed_args: dict[int, str], count: int, end: Frame
) -> None:
    """The log holds everything the frames carried, renderer-free, and projects to the same page."""
    assert [e.seq for e in events] == list(range(len(events)))
    assert isinstance(events[0], Started)
    assert isinstance(events[-1], Finished)
    assert not any(isinstance(e, Started | Finished) for e in events[1:-1])
    text = "".join(e.text for e in events if isinstance(e, TextAppended))
    assert text == "".join(fed_text)
    args: dict[int, str] = {}
    for event in events:
        if isinstance(event, ToolCallFragment):
            args[event.index] = args.get(event.index, "") + event.arguments
    assert args == fed_args
    deltas = sum(e.deltas for e in events if isinstance(e, TextAppended | ToolCallFragment))
    assert deltas == count
    finished = events[-1]
    assert finished.state.value == end["state"]
    assert (finished.deltas, finished.chars) == (count, len(text))
    # The projection of the whole log at once shows the same page as the live frames did.
    replayed = Projection("t_1", markdown=markdown()).project(events, 0.0)
    assert replayed[0]["type"] == "start"
    assert replayed[-1]["type"] == "end"
    assert page_html([dict(f) for f in replayed]) == canonical(markdown().render(text))


def test_the_log_of_a_turn() -> None:
    relay = make(0.0, turn="t_1", model="m", ref="r9")
    relay.start()
    relay.feed(ContentDelta("Hel"), 0.1)
    relay.feed(ToolCallDelta(0, "call_1", "get_weather", '{"ci'), 0.1)
    relay.flush(0.1)
    relay.feed(ContentDelta("lo"), 0.2)
    relay.feed(ToolCallDelta(0, None, None, 'ty": 1}'), 0.2)
    relay.feed(Usage(3, 2, 5), 0.2)
    relay.feed(Finish("stop"), 0.2)
    relay.end(0.3)
    assert relay.events == [
        Started(0, "t_1", "m", "r9"),
        TextAppended(1, "Hel", 1),
        ToolCallFragment(2, 0, 0, 0, "call_1", "get_weather", '{"ci', 1),
        TextAppended(3, "lo", 1),
        ToolCallFragment(4, 0, 0, 0, "call_1", "get_weather", 'ty": 1}', 1),
        UsageReported(5, 3, 2, 5),
        Finished(6, EndState.DONE, "stop", ttft_ms=100.0, duration_ms=300.0, deltas=4, chars=5),
    ]


def test_a_failure_is_in_the_log_without_its_exception() -> None:
    relay = make(0.0)
    relay.start()
    relay.end(0.0, error=UpstreamStreamError("Boom.", status=500, upstream_code="server_error"))
    finished = relay.events[-1]
    assert isinstance(finished, Finished)
    assert finished.state is EndState.ERROR
    assert finished.failure == Failure("upstream_stream_error", "Boom.", 500, "server_error")
    assert finished.reason is None


def test_a_stop_s_reason_is_in_the_log() -> None:
    relay = make(0.0)
    relay.start()
    relay.end(0.0, stopped=True, reason="stopped by the user")
    finished = relay.events[-1]
    assert isinstance(finished, Finished)
    assert (finished.state, finished.reason) == (EndState.STOPPED, "stopped by the user")


def test_render_only_frames_write_nothing_to_the_log() -> None:
    relay = make(0.0, burst=100)
    relay.start()
    relay.feed(ContentDelta("Some **bold"), 0.0)
    relay.flush(0.0)
    relay.feed(ContentDelta(" text** and `code"), 0.01)
    relay.flush(0.01)
    before = len(relay.events)
    third = relay.flush(0.05)
    assert third is not None
    assert third["n"] == 0
    assert len(relay.events) == before


@pytest.mark.parametrize("at_once", [True, False], ids=["the-end-renders-it", "a-delta-renders-it"])
def test_a_burst_s_render_goes_out_over_frames_of_bounded_size(at_once: bool) -> None:
    answer = strip_marks(huge_answer())
    projection = Projection("t_1", markdown=markdown())
    frames: list[Frame] = [dict(f) for f in projection.project([Started(0, "t_1", "m", None)], 0.0)]
    # The relay cuts text into batches of at most 64 KB; rendered only with the last (or only at
    # the end), the whole answer's HTML is owed at once.
    batches = [answer[i : i + 64 * 1024] for i in range(0, len(answer), 64 * 1024)]
    for seq, batch in enumerate(batches, start=1):
        render_now = not at_once and seq == len(batches)
        frames += [
            dict(f) for f in projection.project([TextAppended(seq, batch, 1)], 1.0 if render_now else 0.0)
        ]
    frames += [dict(f) for f in projection.project([Finished(len(batches) + 1, EndState.DONE, "stop")], 2.0)]
    sizes = [len(json.dumps(f)) for f in frames]
    # A frame: at most the budget's HTML (and its JSON escapes) and one batch of text.
    assert max(sizes) < OPS_BUDGET * 1.1 + 64 * 1024, sizes
    assert len(frames) > 4  # the ~1 MB of HTML came in several
    assert [f["seq"] for f in frames] == list(range(len(frames)))
    assert [f["type"] for f in frames][-1] == "end"
    assert "".join(f.get("text", "") for f in frames) == answer
    # Frames before the last of a render do not claim to show the text yet.
    render_only = [f for f in frames if f["type"] == "delta" and not f["text"]]
    assert render_only
    assert all(f["shown"] < len(answer) for f in render_only)
    assert page_html(frames) == canonical(markdown().render(answer, {"docId": "t_1"}))
