"""Tool calls end to end: a real test upstream streams two calls' fragments interleaved, the
server runs each as soon as its own arguments are complete, side by side, sends the results back
in call order, and streams the next round into the same answer; a tool that hangs is timed out;
Stop mid-tool stops the tool and keeps what was shown."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.client import Client, Frame
from tests.support.server import serve
from tests.support.upstream import (
    DONE,
    FakeUpstream,
    Scenario,
    Send,
    Sleep,
    chunk,
    sse,
    stream_text,
    tool_fragment,
)

TOOLS = ("tests.support.tools:slow_echo", "tests.support.tools:broken")


def two_calls(first: str, second: str, *, name: str = "slow_echo") -> Scenario:
    """Two calls, their fragments interleaved; the second's arguments complete first."""
    return Scenario(
        steps=[
            Send(sse(chunk("", role="assistant"))),
            tool_fragment(0, "", id="call_a", name=name),
            tool_fragment(1, "", id="call_b", name=name),
            tool_fragment(0, first[:12]),
            tool_fragment(1, second[:9]),
            tool_fragment(1, second[9:]),
            Sleep(0.2),  # the second call runs while the first's arguments still stream
            tool_fragment(0, first[12:]),
            Send(sse(chunk(finish_reason="tool_calls"))),
            Send(DONE),
        ]
    )


def stored(base: str, cookie: str, conversation: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{base}/api/conversations/{conversation}", headers={"cookie": cookie}, timeout=10)
    reply.raise_for_status()
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


def steps(frames: list[Frame]) -> list[tuple[int, str]]:
    return [(int(f["call"]), str(f["state"])) for f in frames if f["type"] == "step"]


def test_interleaved_calls_run_side_by_side_and_the_next_round_gets_their_results(
    upstream: FakeUpstream,
) -> None:
    first = json.dumps({"text": "one", "seconds": 0.2})
    second = json.dumps({"text": "two", "seconds": 1.0})
    upstream.add("m", [two_calls(first, second), Scenario(steps=stream_text("Both came back."))])
    with serve(openai_base_url=upstream.base_url, python_tools=TOOLS, tools=("calculator",)) as running:
        with Client(running.ws, cookie=running.cookie) as tab:
            turn = tab.start("echo twice", model="m")
            conversation = tab.last_start["conversation"]
            frames = tab.until_end(turn)
        # Each call started when its own arguments were complete, b before a's were, and a ran
        # and finished while b was still running.
        order = steps(frames)
        assert order == [(1, "running"), (0, "running"), (0, "done"), (1, "done")], order
        fragments = [t for f in frames if f["type"] == "delta" for t in f.get("tools", [])]
        assert {t["call"] for t in fragments} == {0, 1}
        # The arguments were shown partially parsed while they streamed.
        assert any(t.get("args") == {"text": "on"} for t in fragments if t["call"] == 0), fragments
        end = frames[-1]
        assert end["state"] == "done", end

        asked, follow_up = [r.json for r in upstream.requests() if r.path.startswith("/v1/chat")][-2:]
        assert [t["function"]["name"] for t in asked["tools"]] == ["calculator", "slow_echo", "broken"]
        schema = asked["tools"][1]["function"]["parameters"]
        assert schema["required"] == ["text"]
        assert schema["properties"]["seconds"]["type"] == "number"
        assert follow_up["messages"][-3:] == [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_a",
                        "type": "function",
                        "function": {"name": "slow_echo", "arguments": first},
                    },
                    {
                        "id": "call_b",
                        "type": "function",
                        "function": {"name": "slow_echo", "arguments": second},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_a", "content": "one"},
            {"role": "tool", "tool_call_id": "call_b", "content": "two"},
        ]
        [_, answer] = stored(running.http, running.cookie, conversation)
        assert answer["text"] == "Both came back."
        assert [(c["id"], c["state"], c["result"]) for c in answer["tool_calls"]] == [
            ("call_a", "done", "one"),
            ("call_b", "done", "two"),
        ]
        assert answer["tool_calls"][0]["ms"] >= 150
        assert answer["tool_calls"][1]["ms"] >= 900


def test_a_hanging_tool_is_timed_out_and_a_broken_one_reported_and_the_turn_goes_on(
    upstream: FakeUpstream,
) -> None:
    hang = json.dumps({"text": "late", "seconds": 30})
    upstream.add(
        "m",
        [
            Scenario(
                steps=[
                    Send(sse(chunk("Trying. ", role="assistant"))),
                    tool_fragment(0, "", id="call_h", name="slow_echo"),
                    tool_fragment(0, hang),
                    tool_fragment(1, "", id="call_x", name="broken"),
                    tool_fragment(1, '{"x": 1}'),
                    tool_fragment(2, "", id="call_u", name="no_such_tool"),
                    tool_fragment(2, "{}"),
                    Send(sse(chunk(finish_reason="tool_calls"))),
                    Send(DONE),
                ]
            ),
            Scenario(steps=stream_text("Two of them failed.")),
        ],
    )
    with serve(
        openai_base_url=upstream.base_url, python_tools=TOOLS, tool_timeouts=(("slow_echo", 0.3),)
    ) as running:
        with Client(running.ws, cookie=running.cookie) as tab:
            turn = tab.start("try", model="m")
            frames = tab.until_end(turn)
    results = {int(f["call"]): f for f in frames if f["type"] == "step" and f["state"] != "running"}
    assert {n: f["state"] for n, f in results.items()} == {0: "failed", 1: "failed", 2: "failed"}
    assert "did not finish within 0.3 s" in results[0]["result"]
    assert "RuntimeError: broken on purpose" in results[1]["result"]
    assert "no tool named 'no_such_tool'" in results[2]["result"]
    follow_up = [r.json for r in upstream.requests() if r.path.startswith("/v1/chat")][-1]
    assert [m["content"] for m in follow_up["messages"][-3:]] == [results[n]["result"] for n in (0, 1, 2)]
    assert follow_up["messages"][-4]["content"] == "Trying. "
    text = "".join(str(f.get("text", "")) for f in frames)
    assert text == "Trying. \n\nTwo of them failed."  # the next round starts a paragraph
    assert frames[-1]["state"] == "done"


def test_stop_during_a_tool_run_stops_the_tool_and_keeps_what_was_shown(upstream: FakeUpstream) -> None:
    hang = json.dumps({"text": "late", "seconds": 30})
    upstream.add(
        "m",
        Scenario(
            steps=[
                Send(sse(chunk("Working on it. ", role="assistant"))),
                tool_fragment(0, "", id="call_h", name="slow_echo"),
                tool_fragment(0, hang),
                Send(sse(chunk(finish_reason="tool_calls"))),
                Send(DONE),
            ]
        ),
    )
    with serve(openai_base_url=upstream.base_url, python_tools=TOOLS) as running:
        with Client(running.ws, cookie=running.cookie) as tab:
            turn = tab.start("work", model="m")
            conversation = tab.last_start["conversation"]
            while True:
                frame = tab.recv()
                if frame["type"] == "step" and frame["state"] == "running":
                    break
            tab.send({"type": "stop", "turn": turn})
            frames = tab.until_end(turn)
        assert steps(frames) == [(0, "failed")]
        assert frames[-1]["state"] == "stopped"
        [_, answer] = stored(running.http, running.cookie, conversation)
        assert answer["state"] == "stopped"
        assert answer["text"] == "Working on it. "
        assert [(c["state"], c["result"]) for c in answer["tool_calls"]] == [
            ("failed", "Stopped before it finished.")
        ]
        # Only the one request: nothing went upstream after the Stop.
        assert len([r for r in upstream.requests() if r.path.startswith("/v1/chat")]) == 1
