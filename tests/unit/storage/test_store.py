"""storage/store.py on SQLite in memory: the store's whole API, owner by owner."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from server.errors import Busy, NotFound
from server.storage.records import INTERRUPTED, Ending, Progress
from server.storage.store import Store, title_of

T = TypeVar("T")
MEMORY = "sqlite+aiosqlite:///:memory:"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def with_store(test: Callable[[Store], Awaitable[T]]) -> T:
    async def main() -> T:
        store = await Store.open(MEMORY, clock=Clock())
        try:
            return await test(store)
        finally:
            await store.close()

    return asyncio.run(main())


async def ask(
    store: Store, owner: str = "u_a", conversation: str | None = None, text: str = "Hi", turn: str = "t1"
):  # type: ignore[no-untyped-def]
    return await store.begin(
        owner, conversation=conversation, text=text, regenerate=None, model="m", turn=turn
    )


def test_a_first_message_makes_a_conversation_titled_by_it() -> None:
    async def test(store: Store) -> None:
        begun = await ask(store, text="# How do *SSE* streams work?\nmore")
        assert begun.conversation.title == "How do SSE streams work?"
        assert begun.user.role == "user"
        assert begun.user.parent is None
        assert begun.answer.parent == begun.user.id
        assert begun.answer.state == "streaming"
        assert [m.id for m in begun.history] == [begun.user.id]
        listed = await store.conversations("u_a")
        assert [c.id for c in listed] == [begun.conversation.id]
        assert listed[0].head == begun.answer.id

    with_store(test)


def test_saves_append_idempotently_and_the_ending_is_stored_whole() -> None:
    async def test(store: Store) -> None:
        begun = await ask(store)
        assert await store.save("t1", Progress(0, "Hello", 1))
        # The same write again (its answer was lost): nothing doubles.
        assert await store.save("t1", Progress(0, "Hello", 1))
        assert await store.save("t1", Progress(5, ", wörld 😀", 2))
        ending = Ending("done", None, "stop", 12.5, 40.0, 900.0, "m-2")
        usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
        assert await store.save("t1", Progress(14, "!", 3, usage=usage), ending)
        _, branch, _ = await store.transcript("u_a", begun.conversation.id)
        answer = branch[-1]
        assert answer.text == "Hello, wörld 😀!"
        assert (answer.state, answer.finish_reason, answer.ttft_ms, answer.model) == (
            "done",
            "stop",
            12.5,
            "m-2",
        )
        assert answer.usage == usage
        # An ended answer is never written again.
        assert not await store.save("t1", Progress(0, "overwritten", 4))
        assert (await store.message_of_turn("u_a", "t1")).text == "Hello, wörld 😀!"
        assert store.answer_writes == 5

    with_store(test)


def test_the_next_turn_continues_the_branch_and_sends_it_all() -> None:
    async def test(store: Store) -> None:
        first = await ask(store, text="one")
        cid = first.conversation.id
        await store.save("t1", Progress(0, "answer one", 1), Ending("done"))
        second = await ask(store, conversation=cid, text="two", turn="t2")
        assert second.user.parent == first.answer.id
        assert [(m.role, m.text) for m in second.history] == [
            ("user", "one"), ("assistant", "answer one"), ("user", "two"),
        ]  # fmt: skip

    with_store(test)


def test_one_answer_streams_per_conversation() -> None:
    async def test(store: Store) -> None:
        first = await ask(store)
        with pytest.raises(Busy):
            await ask(store, conversation=first.conversation.id, turn="t2")
        await store.save("t1", Progress(0, "x", 1), Ending("stopped"))
        await ask(store, conversation=first.conversation.id, turn="t2")

    with_store(test)


def test_regenerate_branches_from_the_same_question() -> None:
    async def test(store: Store) -> None:
        first = await ask(store, text="q")
        cid = first.conversation.id
        await store.save("t1", Progress(0, "old answer", 1), Ending("error", {"code": "x", "message": "y"}))
        again = await store.begin(
            "u_a", conversation=cid, text=None, regenerate=first.answer.id, model=None, turn="t2"
        )
        assert again.user.id == first.user.id
        assert again.answer.parent == first.user.id
        assert again.answer.id != first.answer.id
        assert [m.text for m in again.history] == ["q"]
        _, branch, versions = await store.transcript("u_a", cid)
        assert [m.id for m in branch] == [first.user.id, again.answer.id]
        assert versions == {again.answer.id: [first.answer.id, again.answer.id]}
        await store.save("t2", Progress(0, "new answer", 1), Ending("done"))
        with pytest.raises(NotFound):  # a question is not an answer to give again
            await store.begin(
                "u_a", conversation=cid, text=None, regenerate=first.user.id, model=None, turn="t3"
            )

    with_store(test)


def test_another_owner_finds_nothing_anywhere() -> None:
    async def test(store: Store) -> None:
        begun = await ask(store)
        cid = begun.conversation.id
        assert await store.conversations("u_b") == []
        for attempt in (
            store.conversation("u_b", cid),
            store.transcript("u_b", cid),
            store.rename("u_b", cid, "mine now"),
            store.delete("u_b", cid),
            store.message_of_turn("u_b", "t1"),
            ask(store, owner="u_b", conversation=cid, turn="t9"),
            store.conversation("u_a", "c_does_not_exist"),
        ):
            with pytest.raises(NotFound):
                await attempt
        assert (await store.conversation("u_a", cid)).title == "Hi"

    with_store(test)


def test_rename_and_delete() -> None:
    async def test(store: Store) -> None:
        begun = await ask(store)
        cid = begun.conversation.id
        assert (await store.rename("u_a", cid, "  Plans \n for  Q3 ")).title == "Plans for Q3"
        assert await store.delete("u_a", cid) == ["t1"]  # still streaming: the caller stops it
        with pytest.raises(NotFound):
            await store.transcript("u_a", cid)
        assert not await store.save("t1", Progress(0, "late", 1))

    with_store(test)


def test_answers_left_streaming_by_a_dead_server_end_incomplete_with_their_text() -> None:
    async def test(store: Store) -> None:
        begun = await ask(store)
        await store.save("t1", Progress(0, "half an ans", 1))
        assert await store.interrupt_streaming() == 1
        answer = (await store.transcript("u_a", begun.conversation.id))[1][-1]
        assert (answer.text, answer.state, answer.error) == ("half an ans", "incomplete", INTERRUPTED)
        await ask(store, conversation=begun.conversation.id, turn="t2")  # no longer busy

    with_store(test)


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("", "New chat"),
        ("\n\n  hello   there \n", "hello there"),
        ("word " * 30, "word word word word word word word word word word word word…"),
        ("`code` and [link](x)", "code and link(x)"),
    ],
)
def test_title_of(text: str, title: str) -> None:
    assert title_of(text) == title
