"""server/turns/runner.py against a real (fake) upstream: a cancelled turn still ends in its
log and frames, and its task ends cancelled — the CancelledError is re-raised, never swallowed."""

from __future__ import annotations

import asyncio
import json

from server.markdown.engine import Markdown
from server.settings import Settings
from server.turns.hub import Follower
from server.turns.log import Finished, TextAppended, TurnState
from server.turns.memory import MemoryHub
from server.turns.runner import USER_STOP, TurnRequest, Turns
from server.upstream.catalog import Catalog
from server.upstream.client import Upstream, create_client
from server.upstream.messages import Message
from tests.support.upstream import FakeUpstream, Scenario, Send, Stall, chunk, sse


class Wake:
    def __init__(self) -> None:
        self.event = asyncio.Event()

    def notify(self) -> None:
        self.event.set()


async def frames_until(feed: object, wake: Wake, kind: str) -> list[dict[str, object]]:
    seen: list[dict[str, object]] = []
    while True:
        for text in feed.take():  # type: ignore[attr-defined]
            seen.append(json.loads(text))
        if seen and seen[-1]["type"] == kind:
            return seen
        wake.event.clear()
        await wake.event.wait()


def test_a_stopped_turn_ends_in_its_log_and_its_task_ends_cancelled() -> None:
    with FakeUpstream() as upstream:
        upstream.add("m", Scenario(steps=[Send(sse(chunk("Hello"))), Stall()]))
        settings = Settings(openai_base_url=upstream.base_url, model="m")

        async def run() -> None:
            client = create_client(settings)
            upstream_client = Upstream(settings, client)
            hub = MemoryHub(grace=30, retention=30, max_turn_size=1 << 20)
            turns = Turns(settings, hub, Markdown(), upstream_client, Catalog(settings, upstream_client))
            turn = turns.start(
                TurnRequest(ref="r", model="m", messages=(Message("user", "hi"),), max_tokens=None)
            )
            wake = Wake()
            follower: Follower = wake
            feed = await hub.follow(turn, -1, follower)
            frames = await frames_until(feed, wake, "delta")
            assert frames[0]["type"] == "start"
            [task] = [t for t in asyncio.all_tasks() if t.get_name() == turn]
            await hub.cancel(turn, USER_STOP)
            frames += await frames_until(feed, wake, "end")
            assert frames[-1]["state"] == "stopped"
            assert frames[-1]["reason"] == USER_STOP
            await asyncio.wait([task])
            assert task.cancelled()
            assert not turns.running(turn)
            log = await hub.read(turn)
            assert "".join(e.text for e in log if isinstance(e, TextAppended)) == "Hello"
            assert isinstance(log[-1], Finished)
            assert log[-1].state is TurnState.STOPPED
            await turns.aclose()
            await hub.aclose()
            await client.aclose()

        asyncio.run(asyncio.wait_for(run(), 20))
