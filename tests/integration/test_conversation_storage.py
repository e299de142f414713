"""Conversations that are never lost, on SQLite and on PostgreSQL: a real server, a real
database, a real upstream (the fake one, for exact text and pace), nothing mocked.

Restart, kill -9 mid-answer, another owner or a forged cookie, and a database that refuses
writes while an answer streams.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.client import Client, text_of
from tests.support.postgres import PostgresServer
from tests.support.server import owner_cookie, serve, serve_process
from tests.support.upstream import (
    FakeUpstream,
    Paced,
    Scenario,
    Send,
    chunk,
    paced_answer,
    sse,
    stream_text,
)

INTERVAL_S = 1.0  # INKSTREAM_SAVE_INTERVAL_MS's default


@dataclass
class Database:
    """Where a test's server stores: a data dir (SQLite in it, and the cookie key), and for
    PostgreSQL its URL and server."""

    kind: str
    data_dir: str
    url: str | None = None
    server: PostgresServer | None = None

    def settings(self) -> dict[str, Any]:
        return {"data_dir": self.data_dir, "database_url": self.url}

    def env(self) -> dict[str, str]:
        env = {"INKSTREAM_DATA_DIR": self.data_dir}
        if self.url:
            env["DATABASE_URL"] = self.url
        return env


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix="inkstream-conv-") as data_dir:
        if request.param == "sqlite":
            yield Database("sqlite", data_dir)
            return
        server: PostgresServer = request.getfixturevalue("postgres")
        name = "t" + os.urandom(6).hex()
        server.create_database(name)
        yield Database("postgresql", data_dir, server.url(name), server)


def api(base: str, cookie: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"cookie": cookie, "origin": base, **kwargs.pop("headers", {})}
    return httpx.request(method, base + path, headers=headers, timeout=10, **kwargs)


def stored_answer(base: str, cookie: str, conversation: str) -> dict[str, Any]:
    response = api(base, cookie, "GET", f"/api/conversations/{conversation}")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    assert messages[-1]["role"] == "assistant"
    return messages[-1]


# ------------------------------------------------------------------ restart


def test_a_conversation_survives_a_restart_and_history_comes_from_storage(
    database: Database, upstream: FakeUpstream
) -> None:
    upstream.add("m", Scenario(steps=stream_text("The first **answer**.")))
    with serve(openai_base_url=upstream.base_url, **database.settings()) as running:
        cookie = running.cookie
        with Client(running.ws, cookie=cookie) as client:
            turn = client.start("First question", model="m")
            conversation = client.last_start["conversation"]
            assert client.last_start["user"]["text"] == "First question"
            assert text_of(client.until_end(turn)) == "The first **answer**."
    with serve(openai_base_url=upstream.base_url, **database.settings()) as running:
        answer = stored_answer(running.http, cookie, conversation)
        assert (answer["text"], answer["state"], answer["finish_reason"]) == (
            "The first **answer**.", "done", "stop",
        )  # fmt: skip
        assert "<strong>answer</strong>" in answer["html"]
        assert answer["ttft_ms"] is not None
        listed = api(running.http, cookie, "GET", "/api/conversations").json()["conversations"]
        assert [(c["id"], c["title"]) for c in listed] == [(conversation, "First question")]
        # The page of it shows the stored transcript, rendered.
        page = api(running.http, cookie, "GET", f"/c/{conversation}")
        assert page.status_code == 200
        assert "The first" in page.text
        with Client(running.ws, cookie=cookie) as client:
            # The turn is long gone from memory: the stored answer comes instead.
            client.send({"type": "subscribe", "turn": turn, "after": 3, "ref": "s"})
            frame = client.recv()
            assert frame["type"] == "message", frame
            assert frame["message"]["text"] == "The first **answer**."
            # The next turn's upstream request is built from what was stored.
            upstream.add("m", Scenario(steps=stream_text("Second.")))
            turn = client.start("And then?", model="m", conversation=conversation, ref="r2")
            assert text_of(client.until_end(turn)) == "Second."
        sent = json.loads(upstream.requests()[-1].body)["messages"]
        assert sent == [
            {"role": "user", "content": "First question"},
            {"role": "assistant", "content": "The first **answer**."},
            {"role": "user", "content": "And then?"},
        ]
        exported = api(running.http, cookie, "GET", f"/c/{conversation}.md")
        assert exported.status_code == 200
        assert "attachment" in exported.headers["content-disposition"]
        assert "## You\n\nAnd then?" in exported.text
        document = api(running.http, cookie, "GET", f"/c/{conversation}.json").json()
        assert [m["text"] for m in document["messages"]] == [
            "First question", "The first **answer**.", "And then?", "Second.",
        ]  # fmt: skip


# ------------------------------------------------------------------ kill -9


def test_kill_9_mid_answer_loses_at_most_the_last_second(database: Database, upstream: FakeUpstream) -> None:
    pieces = [f"w{i:04d} " for i in range(1000)]  # 40 a second: 25 s, killed long before the end
    upstream.add("m", paced_answer(pieces, 40))
    env = {**database.env(), "OPENAI_BASE_URL": upstream.base_url}
    with serve_process(**env) as process:
        cookie = owner_cookie(process.http)
        received: list[tuple[float, int]] = []  # (when, characters by then)
        with Client(process.http.replace("http", "ws") + "/ws", cookie=cookie) as client:
            turn = client.start("Write a lot", model="m")
            conversation = client.last_start["conversation"]
            text = ""
            while not received or time.monotonic() - received[0][0] < 3.0:
                frame = client.recv()
                if frame.get("turn") == turn and frame.get("text"):
                    text += frame["text"]
                    received.append((time.monotonic(), len(text)))
            process.popen.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            process.popen.wait(10)
    with serve_process(**env) as process:
        answer = stored_answer(process.http, cookie, conversation)
    saved = answer["text"]
    assert text.startswith(saved), (saved[-40:], text[-40:])
    assert (answer["state"], answer["error"]["code"]) == ("incomplete", "interrupted")
    # The newest character that made it was received less than an interval (and the time a
    # write takes) before the kill: nothing older was lost.
    last_saved_at = next(when for when, chars in received if chars >= len(saved))
    lost = killed_at - last_saved_at
    assert lost <= INTERVAL_S + 0.5, (lost, len(text) - len(saved))
    assert len(saved) > 0


# ------------------------------------------------------------------ owners


def test_another_owner_and_a_forged_cookie_find_nothing_anywhere(
    database: Database, upstream: FakeUpstream
) -> None:
    upstream.add("m", Scenario(steps=stream_text("secret plans")))
    upstream.add(
        "slow", Scenario(steps=[Send(sse(chunk("", role="assistant"))), Paced([sse(chunk("x"))] * 400, 20)])
    )
    with serve(openai_base_url=upstream.base_url, **database.settings()) as running:
        mine = running.cookie
        with Client(running.ws, cookie=mine) as client:
            turn = client.start("private", model="m")
            conversation = client.last_start["conversation"]
            client.until_end(turn)
            live = client.start("still streaming", model="slow", ref="r2")
        name, value = mine.split("=", 1)
        forged = f"{name}={value[:-3]}{'abc' if not value.endswith('abc') else 'xyz'}"
        for cookie in (owner_cookie(running.http), forged, ""):
            assert api(running.http, cookie, "GET", "/api/conversations").json() == {"conversations": []}
            for method, path in [
                ("GET", f"/api/conversations/{conversation}"),
                ("PATCH", f"/api/conversations/{conversation}"),
                ("DELETE", f"/api/conversations/{conversation}"),
                ("GET", f"/c/{conversation}.md"),
                ("GET", f"/c/{conversation}.json"),
                ("GET", "/api/conversations/c_never_was"),
            ]:
                response = api(running.http, cookie, method, path, json={"title": "mine now"})
                assert response.status_code == 404, (method, path, response.text)
                assert response.json()["error"]["code"] == "not_found"
            page = api(running.http, cookie, "GET", f"/c/{conversation}")
            assert page.status_code == 404
            assert "private" not in page.text
            assert "secret plans" not in page.text
            with Client(running.ws, cookie=cookie or None) as other:
                for frame, code in [
                    ({"type": "subscribe", "turn": turn, "after": -1}, "unknown_turn"),
                    ({"type": "subscribe", "turn": live, "after": -1}, "unknown_turn"),
                    ({"type": "stop", "turn": live}, "unknown_turn"),
                    ({"type": "watch", "conversation": conversation}, "not_found"),
                    ({"type": "start", "conversation": conversation, "text": "hi"}, "not_found"),
                ]:
                    other.send({**frame, "ref": "x"})
                    error = other.error()
                    assert (error["code"], error["ref"]) == (code, "x"), frame
        # Untouched, and the owner still sees it all.
        assert api(running.http, mine, "GET", f"/api/conversations/{conversation}").status_code == 200
        with Client(running.ws, cookie=mine) as client:
            client.send({"type": "subscribe", "turn": live, "after": -1})
            client.send({"type": "stop", "turn": live})
            assert client.until_end(live)[-1]["state"] == "stopped"
        listed = api(running.http, mine, "GET", "/api/conversations").json()["conversations"]
        assert conversation in [c["id"] for c in listed]


def test_rename_delete_and_the_origin_check(database: Database, upstream: FakeUpstream) -> None:
    upstream.add("m", Scenario(steps=stream_text("ok")))
    with serve(openai_base_url=upstream.base_url, **database.settings()) as running:
        cookie = running.cookie
        with Client(running.ws, cookie=cookie) as client:
            client.until_end(client.start("to rename", model="m"))
            conversation = client.last_start["conversation"]
        path = f"/api/conversations/{conversation}"
        evil = {"origin": "https://evil.example"}
        assert api(running.http, cookie, "PATCH", path, json={"title": "x"}, headers=evil).status_code == 403
        assert api(running.http, cookie, "DELETE", path, headers=evil).status_code == 403
        assert api(running.http, cookie, "PATCH", path, json={"title": ""}).status_code == 400
        renamed = api(running.http, cookie, "PATCH", path, json={"title": "Renamed"}).json()
        assert renamed["conversation"]["title"] == "Renamed"
        assert api(running.http, cookie, "DELETE", path).status_code == 204
        assert api(running.http, cookie, "GET", path).status_code == 404


# ------------------------------------------------------------------ the database fails


class SqliteLock:
    """Another connection holding SQLite's write lock: the server's writes fail ("database
    is locked") until it lets go."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)

    def take(self) -> None:
        self._db.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self._db.execute("COMMIT")
        self._db.close()


def test_a_database_that_refuses_writes_mid_answer(database: Database, upstream: FakeUpstream) -> None:
    # 40 a second: 10 s, with the database unavailable from the first text for 5 s. SQLite's
    # busy timeout is 2 s, so an outage shorter than a write interval plus that could be
    # waited out by a write without ever failing: 5 s cannot.
    pieces = [f"p{i:03d} " for i in range(400)]
    upstream.add("m", paced_answer(pieces, 40))
    with serve(openai_base_url=upstream.base_url, **database.settings()) as running:
        with Client(running.ws, cookie=running.cookie) as client:
            turn = client.start("go", model="m")
            conversation = client.last_start["conversation"]
            frames = [client.recv()]
            while not frames[-1].get("text"):
                frames.append(client.recv())
            lock: SqliteLock | None = None
            if database.server is None:
                lock = SqliteLock(Path(database.data_dir) / "inkstream.db")
                lock.take()
            else:
                database.server.stop()
            try:
                outage = threading.Timer(5.0, lock.release if lock else database.server.start)  # type: ignore[union-attr]
                outage.start()
                notices: list[dict[str, Any]] = []
                while True:
                    frame = client.recv(timeout=20)
                    if frame["type"] == "storage":
                        notices.append(frame)
                        continue
                    assert frame.get("turn") == turn, frame
                    frames.append(frame)
                    if frame["type"] == "end":
                        break
                outage.join()
            finally:
                if database.server is not None:
                    database.server.start()
            # The answer kept streaming, whole, through the outage.
            assert text_of(frames) == "".join(pieces)
            assert frames[-1]["state"] == "done"
            # ... the page was told, and told again when saving worked again ...
            deadline = time.monotonic() + 15
            while not any(n["ok"] for n in notices) and time.monotonic() < deadline:
                frame = client.recv(timeout=15)
                if frame["type"] == "storage":
                    notices.append(frame)
            assert (notices[0]["ok"], notices[0]["code"]) == (False, "storage_unavailable"), notices
            assert notices[-1]["ok"] is True, notices
        # ... and everything landed once the database was back.
        assert any("could not save turn" in line for line in running.log)
        answer = stored_answer(running.http, running.cookie, conversation)
        assert (answer["text"], answer["state"]) == ("".join(pieces), "done")


def test_a_second_tab_watching_the_conversation_streams_the_turn_live(
    database: Database, upstream: FakeUpstream
) -> None:
    upstream.add("m", Scenario(steps=stream_text("first")))
    upstream.add("m", paced_answer([f"t{i} " for i in range(40)], 40))
    with serve(openai_base_url=upstream.base_url, **database.settings()) as running:
        cookie = running.cookie
        with Client(running.ws, cookie=cookie) as tab_a, Client(running.ws, cookie=cookie) as tab_b:
            tab_a.until_end(tab_a.start("one", model="m"))
            conversation = tab_a.last_start["conversation"]
            tab_b.send({"type": "watch", "conversation": conversation, "ref": "w"})
            tab_b.send({"type": "ping", "ref": "p"})  # the watch is in place once this is answered
            assert tab_b.recv()["type"] == "pong"
            turn = tab_a.start("two", model="m", conversation=conversation, ref="r2")
            told = tab_b.recv()
            assert told == {"type": "turn", "conversation": conversation, "turn": turn}
            tab_b.send({"type": "subscribe", "turn": turn, "after": -1})
            seen_b = tab_b.until_end(turn)
            seen_a = tab_a.until_end(turn)
            assert seen_b[0]["user"]["text"] == "two"
            assert text_of(seen_b) == text_of(seen_a) == "".join(f"t{i} " for i in range(40))
        # A third socket of another owner cannot watch it.
        with Client(running.ws) as stranger:
            stranger.send({"type": "watch", "conversation": conversation, "ref": "w"})
            assert stranger.error()["code"] == "not_found"


def test_a_trusted_user_header_is_the_owner_and_is_required(upstream: FakeUpstream) -> None:
    upstream.add("m", Scenario(steps=stream_text("hello ada")))
    with serve(openai_base_url=upstream.base_url, trusted_user_header="X-Forwarded-User") as running:
        assert httpx.get(running.http + "/api/conversations").status_code == 401
        ada = {"x-forwarded-user": "ada@example.com"}
        with Client(running.ws, headers=ada) as client:
            client.until_end(client.start("hi", model="m"))
            conversation = client.last_start["conversation"]
        # Any browser of the same user sees it; no cookie is involved.
        listed = httpx.get(running.http + "/api/conversations", headers=ada)
        assert "set-cookie" not in listed.headers
        assert [c["id"] for c in listed.json()["conversations"]] == [conversation]
        bob = {"x-forwarded-user": "bob@example.com"}
        assert httpx.get(f"{running.http}/api/conversations/{conversation}", headers=bob).status_code == 404


def test_a_start_sent_again_after_a_dropped_socket_is_the_same_turn(upstream: FakeUpstream) -> None:
    upstream.add("m", paced_answer([f"x{i} " for i in range(20)], 40))
    with serve(openai_base_url=upstream.base_url) as running:
        with Client(running.ws, cookie=running.cookie) as first:
            turn = first.start("only once", model="m", ref="r-1")
        with Client(running.ws, cookie=running.cookie) as again:
            assert again.start("only once", model="m", ref="r-1") == turn
            again.until_end(turn)
            conversation = again.last_start["conversation"]
        messages = api(running.http, running.cookie, "GET", f"/api/conversations/{conversation}").json()
        assert [m["role"] for m in messages["messages"]] == ["user", "assistant"]
        listed = api(running.http, running.cookie, "GET", "/api/conversations").json()["conversations"]
        assert len(listed) == 1


def test_a_disconnect_is_never_a_stop(upstream: FakeUpstream) -> None:
    pieces = [f"d{i} " for i in range(60)]  # 40 a second: 1.5 s
    upstream.add("m", paced_answer(pieces, 40))
    with serve(openai_base_url=upstream.base_url) as running:  # the default grace period: none
        with Client(running.ws, cookie=running.cookie) as client:
            client.start("go on without me", model="m")
            conversation = client.last_start["conversation"]
        deadline = time.monotonic() + 15
        while (answer := stored_answer(running.http, running.cookie, conversation))["state"] == "streaming":
            assert time.monotonic() < deadline, answer
            time.sleep(0.1)
        assert (answer["state"], answer["text"]) == ("done", "".join(pieces))


def test_a_question_sent_the_moment_an_answer_ends_is_taken(
    database: Database, upstream: FakeUpstream
) -> None:
    # The end frame goes out before the saver has written the end: the conversation must not
    # refuse the next question as busy in that gap.
    upstream.add("m", paced_answer([f"w{i} " for i in range(5)], 1000))
    with serve(openai_base_url=upstream.base_url, **database.settings()) as running:
        with Client(running.ws, cookie=running.cookie) as client:
            turn = client.start("first", model="m", ref="q0")
            conversation = client.last_start["conversation"]
            client.until_end(turn)
            for n in range(1, 8):
                turn = client.start(f"question {n}", model="m", ref=f"q{n}", conversation=conversation)
                assert client.last_start["conversation"] == conversation
                client.until_end(turn)
        stored = api(running.http, running.cookie, "GET", f"/api/conversations/{conversation}").json()
        assert [m["text"] for m in stored["messages"] if m["role"] == "user"] == [
            "first",
            *(f"question {n}" for n in range(1, 8)),
        ]
        assert all(m["state"] == "done" for m in stored["messages"] if m["role"] == "assistant")
