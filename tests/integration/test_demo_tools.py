"""The demo model's tool scenarios end to end: the real server, its real tools, a real socket."""

from __future__ import annotations

from server.tools.calculator import evaluate
from tests.support.client import Client, text_of
from tests.support.server import serve


def test_the_tools_prompt_runs_three_calls_over_three_rounds() -> None:
    expected = evaluate("(1234 * 5678) / 3")
    with serve(demo_ttft_ms=0.0, demo_tokens_per_second=2000.0) as running:
        with Client(running.ws, cookie=running.cookie) as tab:
            turn = tab.start("tools")
            frames = tab.until_end(turn, timeout=30.0)
    steps = [(int(f["call"]), f["state"]) for f in frames if f["type"] == "step"]
    assert {call for call, _ in steps} == {0, 1, 2}, steps
    finished = {call: state for call, state in steps if state != "running"}
    assert finished == {0: "done", 1: "done", 2: "done"}, frames
    results = {
        int(f["call"]): f.get("result", "") for f in frames if f["type"] == "step" and f["state"] == "done"
    }
    answer = text_of(frames)
    assert expected in answer
    assert results[0] == expected
    for result in results.values():
        assert result.strip().splitlines()[0] in answer
    assert frames[-1]["state"] == "done", frames[-1]


def test_the_tools_fail_prompt_explains_the_real_error() -> None:
    with serve(demo_ttft_ms=0.0, demo_tokens_per_second=2000.0) as running:
        with Client(running.ws, cookie=running.cookie) as tab:
            turn = tab.start("tools fail")
            frames = tab.until_end(turn, timeout=30.0)
    failed = [f for f in frames if f["type"] == "step" and f["state"] == "failed"]
    assert len(failed) == 1, frames
    assert "division by zero" in failed[0]["result"]
    assert failed[0]["result"] in text_of(frames)


def test_with_tools_off_the_demo_says_so() -> None:
    with serve(demo_ttft_ms=0.0, demo_tokens_per_second=2000.0, tools=("none",)) as running:
        with Client(running.ws, cookie=running.cookie) as tab:
            turn = tab.start("tools")
            frames = tab.until_end(turn, timeout=30.0)
    assert not [f for f in frames if f["type"] == "step"]
    assert "INKSTREAM_TOOLS" in text_of(frames)
