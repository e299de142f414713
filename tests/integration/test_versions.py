"""Versions of messages against a real server and store: a regenerated answer and a question
sent again are siblings, never overwrites; the conversation names every version of each
message on the branch shown; PUT .../branch switches it (refused while an answer streams, for
another owner, from another origin); what goes upstream is the branch of the new version."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.client import Client
from tests.support.server import serve
from tests.support.upstream import FakeUpstream, paced_answer


def thread(base: str, cookie: str, conversation: str) -> dict[str, Any]:
    reply = httpx.get(f"{base}/api/conversations/{conversation}", headers={"cookie": cookie}, timeout=10)
    reply.raise_for_status()
    data: dict[str, Any] = reply.json()
    return data


def switch(base: str, cookie: str, conversation: str, message: Any, **headers: str) -> httpx.Response:
    return httpx.put(
        f"{base}/api/conversations/{conversation}/branch",
        json={"message": message},
        headers={"cookie": cookie, "origin": base, **headers},
        timeout=10,
    )


def test_versions_are_kept_listed_switched_and_sent_upstream_as_their_branch(upstream: FakeUpstream) -> None:
    with serve(openai_base_url=upstream.base_url) as running:
        base, cookie = running.http, running.cookie
        with Client(running.ws, cookie=cookie) as tab:
            upstream.add("m", paced_answer(["one"], 100))
            tab.until_end(tab.start("q1", ref="a", model="m"))
            conversation = tab.last_start["conversation"]
            first_user, first = tab.last_start["user"]["id"], tab.last_start["message"]
            upstream.add("m", paced_answer(["two"], 100))
            tab.send(
                {"type": "start", "ref": "b", "conversation": conversation, "regenerate": first, "model": "m"}
            )
            while (frame := tab.recv())["type"] != "start":
                pass
            assert frame["regenerate"] == first
            second = frame["message"]
            tab.until_end(frame["turn"])
            [user, answer] = thread(base, cookie, conversation)["messages"]
            assert (answer["id"], answer["text"], answer["versions"]) == (second, "two", [first, second])
            assert "versions" not in user

            # A new version of the question: its own branch, sent upstream without the old one.
            upstream.add("m", paced_answer(["three"], 100))
            turn = tab.start("q2", ref="c", conversation=conversation, replaces=first_user, model="m")
            assert tab.last_start["replaces"] == first_user
            tab.until_end(turn)
            sent = upstream.wait_for_request("m").json["messages"]
            assert sent == [{"role": "user", "content": "q2"}]
            [user, answer] = thread(base, cookie, conversation)["messages"]
            assert user["text"] == "q2"
            assert user["versions"] == [first_user, user["id"]]
            assert answer["text"] == "three"
            assert "versions" not in answer

            # Back to the first question: its newest answer comes with it.
            reply = switch(base, cookie, conversation, first_user)
            assert reply.status_code == 200
            [user, answer] = reply.json()["messages"]
            assert (user["id"], answer["id"]) == (first_user, second)
            reply = switch(base, cookie, conversation, first)
            assert [m["text"] for m in reply.json()["messages"]] == ["q1", "one"]
            assert [m["text"] for m in thread(base, cookie, conversation)["messages"]] == ["q1", "one"]

            # Refused: a bad body, an unknown message, another owner, another origin, streaming.
            assert switch(base, cookie, conversation, 5).status_code == 400
            assert switch(base, cookie, conversation, "m_nope").status_code == 404
            assert switch(base, "", conversation, first).status_code == 404
            assert switch(base, cookie, conversation, first, origin="https://evil.example").status_code == 403
            upstream.add("m", paced_answer([f"w{i} " for i in range(100)], 40))
            turn = tab.start("q3", ref="d", conversation=conversation, model="m")
            busy = switch(base, cookie, conversation, second)
            assert busy.status_code == 409
            assert busy.json()["error"]["code"] == "conversation_busy"
            tab.send({"type": "stop", "turn": turn})
            tab.until_end(turn)
