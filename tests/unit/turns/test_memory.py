"""server/turns/memory.py: the hub in memory — write, read from a seq, follow, cancel, grace,
retention, the size limit. It keeps time with the event loop, so each test runs one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from server.errors import UnknownTurn
from server.turns.hub import UNWATCHED
from server.turns.log import Finished, Started, TextAppended, TurnState
from server.turns.memory import MemoryHub


class Owner:
    def __init__(self) -> None:
        self.reasons: list[str] = []
        self.cancelled = asyncio.Event()

    def cancel(self, reason: str) -> None:
        self.reasons.append(reason)
        self.cancelled.set()


class Follower:
    def __init__(self) -> None:
        self.woken = 0

    def notify(self) -> None:
        self.woken += 1


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), 5.0))


def hub(**options: float) -> MemoryHub:
    values = {"grace": 30.0, "retention": 300.0, "max_turn_size": 10_000, **options}
    return MemoryHub(
        grace=values["grace"], retention=values["retention"], max_turn_size=int(values["max_turn_size"])
    )


async def until(condition: Callable[[], bool]) -> None:
    # The hub announces no drop: poll the condition (bounded by the test's own timeout).
    while not condition():  # noqa: ASYNC110
        await asyncio.sleep(0.001)


def test_follow_from_the_start_then_live() -> None:
    async def test() -> None:
        memory = hub()
        memory.create("t", Owner())
        assert memory.append("t", [Started(0, "t", "m", None)], ["f0"])
        follower = Follower()
        feed = await memory.follow("t", -1, follower)
        assert feed.turn == "t"
        assert feed.take() == ["f0"]
        assert feed.take() == []
        memory.append("t", [TextAppended(1, "hi", 1)], ["f1", "f2"])
        assert follower.woken == 1
        assert feed.take() == ["f1", "f2"]
        assert not feed.finished
        memory.finish("t")
        assert follower.woken == 2
        assert feed.finished

    run(test)


def test_follow_after_a_seq_even_past_what_is_written() -> None:
    async def test() -> None:
        memory = hub()
        memory.create("t", Owner())
        memory.append("t", [], ["f0", "f1", "f2"])
        assert (await memory.follow("t", 1, Follower())).take() == ["f2"]
        ahead = await memory.follow("t", 4, Follower())
        assert ahead.take() == []
        memory.append("t", [], ["f3", "f4", "f5"])
        assert ahead.take() == ["f5"]

    run(test)


def test_read_the_log_from_a_seq() -> None:
    async def test() -> None:
        memory = hub()
        memory.create("t", Owner())
        events = [Started(0, "t", "m", None), TextAppended(1, "a", 1), Finished(2, TurnState.DONE, "stop")]
        memory.append("t", events, [])
        assert await memory.read("t") == events
        assert await memory.read("t", 0) == events[1:]
        assert await memory.read("t", 2) == []

    run(test)


def test_unknown_turns() -> None:
    async def test() -> None:
        memory = hub()
        with pytest.raises(UnknownTurn):
            await memory.follow("nope", -1, Follower())
        with pytest.raises(UnknownTurn):
            await memory.cancel("nope", "x")
        with pytest.raises(UnknownTurn):
            await memory.read("nope")

    run(test)


def test_cancel_asks_the_owner_until_the_turn_ends() -> None:
    async def test() -> None:
        memory = hub()
        owner = Owner()
        memory.create("t", owner)
        await memory.cancel("t", "stopped by the user")
        assert owner.reasons == ["stopped by the user"]
        memory.finish("t")
        await memory.cancel("t", "again")
        assert owner.reasons == ["stopped by the user"]

    run(test)


def test_a_turn_nobody_follows_is_cancelled_after_the_grace_period() -> None:
    async def test() -> None:
        memory = hub(grace=0.01)
        owner = Owner()
        memory.create("t", owner)
        await owner.cancelled.wait()
        assert owner.reasons == [UNWATCHED]

    run(test)


def test_following_holds_the_grace_period_off_and_leaving_starts_it() -> None:
    async def test() -> None:
        memory = hub(grace=0.02)
        owner = Owner()
        memory.create("t", owner)
        first = await memory.follow("t", -1, Follower())
        second = await memory.follow("t", -1, Follower())
        first.close()
        first.close()  # twice is once
        await asyncio.sleep(0.05)  # longer than the grace period: still followed, not cancelled
        assert owner.reasons == []
        second.close()
        await owner.cancelled.wait()
        assert owner.reasons == [UNWATCHED]

    run(test)


def test_a_finished_turn_is_kept_for_the_retention_period_then_dropped() -> None:
    async def test() -> None:
        memory = hub(grace=0.001, retention=0.02)
        owner = Owner()
        memory.create("t", owner)
        memory.finish("t")
        assert len(memory) == 1
        assert (await memory.follow("t", -1, Follower())).finished
        await until(lambda: len(memory) == 0)
        assert owner.reasons == []  # finished before its grace period ran out: never cancelled

    run(test)


def test_append_says_when_the_turn_outgrew_the_limit() -> None:
    async def test() -> None:
        memory = hub(max_turn_size=6)
        memory.create("t", Owner())
        assert memory.append("t", [TextAppended(0, "abc", 1)], ["abc"])
        assert not memory.append("t", [TextAppended(1, "defg", 1)], ["defg"])
        assert memory.append("t", [], []) is False  # it stays over
        assert (await memory.follow("t", -1, Follower())).take() == ["abc", "defg"]  # nothing lost

    run(test)


def test_a_turn_id_is_created_once() -> None:
    async def test() -> None:
        memory = hub()
        memory.create("t", Owner())
        with pytest.raises(ValueError, match="exists"):
            memory.create("t", Owner())
        await memory.aclose()

    run(test)
