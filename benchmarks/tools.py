"""A parallel tool round, measured: wall time of the round against the sum of its tools' own
durations (the baseline: what running them one after another would take), and the time from a
call's last argument fragment leaving the upstream to the server reporting it running.

    .venv/bin/python benchmarks/tools.py                 # 3 calls of 0.5 s, 5 runs
    .venv/bin/python benchmarks/tools.py --calls 4 --seconds 0.2 --runs 10

A real server (uvicorn, the app unmodified), a real test upstream (tests/support/upstream.py)
streaming the calls' fragments interleaved, and a WebSocket client; the tool is
tests.support.tools:slow_echo, named in INKSTREAM_PYTHON_TOOLS like any deployer's tool.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.client import Client
from tests.support.server import serve
from tests.support.upstream import DONE, FakeUpstream, Scenario, Send, chunk, sse, stream_text


def calls_scenario(calls: int, seconds: float) -> Scenario:
    steps = [Send(sse(chunk("", role="assistant")))]
    texts = [json.dumps({"text": f"r{i}", "seconds": seconds}) for i in range(calls)]
    for i in range(calls):
        first = {
            "index": i,
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": "slow_echo", "arguments": ""},
        }
        steps.append(Send(sse(chunk(tool_calls=[first]))))
    for cut in range(0, max(len(t) for t in texts), 6):  # 6 characters a fragment, calls interleaved
        for i, text in enumerate(texts):
            if cut < len(text):
                piece = {"index": i, "function": {"arguments": text[cut : cut + 6]}}
                steps.append(Send(sse(chunk(tool_calls=[piece]))))
    steps += [Send(sse(chunk(finish_reason="tool_calls"))), Send(DONE)]
    return Scenario(steps=steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    walls, sums, starts = [], [], []
    with FakeUpstream() as upstream:
        with serve(
            openai_base_url=upstream.base_url, python_tools=("tests.support.tools:slow_echo",)
        ) as running:
            with Client(running.ws, cookie=running.cookie) as tab:
                for run in range(args.runs):
                    upstream.add(
                        "m", [calls_scenario(args.calls, args.seconds), Scenario(steps=stream_text("ok"))]
                    )
                    turn = tab.start("go", model="m", ref=f"r{run}")
                    received: list[tuple[float, dict[str, object]]] = []
                    fragment_sent = 0.0
                    while True:
                        frame = tab.recv()
                        received.append((time.monotonic(), frame))
                        running_now = [
                            f for _, f in received if f["type"] == "step" and f["state"] == "running"
                        ]
                        if (
                            frame["type"] == "step"
                            and frame["state"] == "running"
                            and len(running_now) == args.calls
                        ):
                            # Round 1 is still the upstream's latest response: when did the last
                            # call's last fragment leave it?
                            fragment_sent = max(
                                t for t, data in upstream.writes("m") if b'"arguments"' in data
                            )
                        if frame.get("turn") == turn and frame["type"] == "end":
                            break
                    steps = [(t, f) for t, f in received if f["type"] == "step"]
                    begun = [t for t, f in steps if f["state"] == "running"]
                    ended = [(t, f) for t, f in steps if f["state"] in ("done", "failed")]
                    walls.append((max(t for t, _ in ended) - min(begun)) * 1000)
                    sums.append(sum(float(f["ms"]) for _, f in ended))  # type: ignore[arg-type]
                    starts.append((max(begun) - fragment_sent) * 1000)
    wall, total = statistics.median(walls), statistics.median(sums)
    print(f"{args.calls} calls of {args.seconds} s, {args.runs} runs (medians)")
    print(f"round wall time           {wall:8.1f} ms")
    print(f"sum of the tools' own     {total:8.1f} ms   (one after another)")
    print(f"wall / sum                {wall / total:8.2f}")
    print(
        f"last fragment -> running  {statistics.median(starts):8.1f} ms   (upstream write to client receipt)"
    )


if __name__ == "__main__":
    main()
