"""Continue and the edits of ended answers, against a real server, a real test upstream (which
records what it is sent) or the demo model, and the real store: Stop, edit the stored answer,
Continue, and the continuation streams into the same message after the edited text, which is
what the upstream was sent, in each of the three ways an upstream can be asked."""

from __future__ import annotations

from typing import Any

import httpx

from server.demo.resume import rest_of
from server.demo.scripts import Answers
from server.demo.tokens import tokenize
from server.turns.continuation import INSTRUCTION
from tests.support.client import Client, Frame
from tests.support.server import serve
from tests.support.upstream import FakeUpstream, paced_answer

FIRST = [f"a{i} " for i in range(200)]
REST = ["and ", "the ", "rest."]


def stored(base: str, cookie: str, conversation: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{base}/api/conversations/{conversation}", headers={"cookie": cookie}, timeout=10)
    reply.raise_for_status()
    messages: list[dict[str, Any]] = reply.json()["messages"]
    return messages


def reply_to(client: Client, ref: str) -> Frame:
    """The frame answering ``ref`` (an error, or an acknowledgement naming it)."""
    while True:
        frame = client.recv()
        if frame.get("ref") == ref:
            return frame


def stopped_answer(tab: Client, upstream: FakeUpstream, words: int = 5) -> tuple[str, str, str, int]:
    """Ask, stop after a few words; the conversation, the answer, its text and version."""
    upstream.add("m", paced_answer(FIRST, 40))
    turn = tab.start("tell me", model="m")
    conversation, message = tab.last_start["conversation"], tab.last_start["message"]
    text, version = "", 0
    while text.count(" ") < words:
        frame = tab.recv()
        if frame.get("turn") == turn and frame["type"] == "delta" and frame["text"]:
            text += frame["text"]
            version = frame["v"]
    tab.send({"type": "stop", "turn": turn})
    for frame in tab.until_end(turn):
        if frame["type"] == "delta" and frame["text"]:
            text += frame["text"]
            version = frame["v"]
    return conversation, message, text, version


def continue_it(tab: Client, conversation: str, message: str, ref: str = "c1") -> tuple[Frame, list[Frame]]:
    tab.send({"type": "start", "ref": ref, "conversation": conversation, "continues": message, "model": "m"})
    start = reply_to(tab, ref)
    assert start["type"] == "start", start
    return start, tab.until_end(str(start["turn"]))


def test_stop_edit_continue_sends_the_edited_text_and_streams_into_the_same_message(
    upstream: FakeUpstream,
) -> None:
    with serve(openai_base_url=upstream.base_url) as running:
        cookie = running.cookie
        with Client(running.ws, cookie=cookie) as tab, Client(running.ws, cookie=cookie) as other:
            conversation, message, text, version = stopped_answer(tab, upstream)
            for client in (other, tab):
                client.send({"type": "watch", "conversation": conversation})
                client.send({"type": "ping", "ref": "watching"})
                reply_to(client, "watching")  # the watch is in before the edit goes
            # The ended answer is edited through its stored message; both tabs see the edit.
            edit = {"type": "edit", "message": message, "base": version, "client": "pg", "ref": "e1"}
            tab.send({**edit, "edits": [[0, 0, "**Mine.** "], [len(text) + 10, len(text) + 10, "Then"]]})
            ack = reply_to(tab, "e1")
            assert (ack["type"], ack["origin"]) == ("edit", "pg"), ack
            edited = "**Mine.** " + text + "Then"
            assert ack["v"] == version + 2
            assert "<strong>Mine.</strong>" in ack["html"]
            seen = reply_to(other, "e1")
            assert (seen["edits"], seen["v"]) == (ack["edits"], ack["v"])
            # An edit against the version before is merged over what came since.
            tab.send({**edit, "base": version + 1, "edits": [[0, 0, "> "]], "ref": "e2"})
            assert reply_to(tab, "e2")["v"] == version + 3
            edited = "> " + edited
            [_, answer] = stored(running.http, cookie, conversation)
            assert (answer["text"], answer["original"], answer["version"]) == (edited, text, version + 3)

            upstream.add("m", paced_answer([" ", "and ", "the ", "rest."], 100))
            start, frames = continue_it(tab, conversation, message)
            assert start["message"] == message
            assert start["resumed"]["text"] == edited
            assert start["resumed"]["v"] == version + 3
            # Upstream: the branch, then the edited text as the assistant's, to be continued.
            body = upstream.wait_for_request("m").json
            assert body["messages"][-1] == {"role": "assistant", "content": edited}
            assert body["messages"][-2] == {"role": "user", "content": "tell me"}
            assert "continue_final_message" not in body
            # The seam: the text ended on "Then", the model started with a space it keeps.
            continued = "".join(f["text"] for f in frames if f["type"] == "delta")
            assert continued == " and the rest."
            assert frames[-1]["state"] == "done"
            [_, answer] = stored(running.http, cookie, conversation)
            assert answer["text"] == edited + " and the rest."
            assert answer["original"] == text + " and the rest."
            assert answer["id"] == message
            assert answer["state"] == "done"


def test_each_way_of_asking_to_continue(upstream: FakeUpstream) -> None:
    modes = "m=continue_final_message,u=user"
    with serve(openai_base_url=upstream.base_url, continue_models=modes) as running:
        with Client(running.ws, cookie=running.cookie) as tab:
            conversation, message, text, _ = stopped_answer(tab, upstream)
            upstream.add("m", paced_answer(REST, 100))
            continue_it(tab, conversation, message)
            body = upstream.wait_for_request("m").json
            assert body["messages"][-1] == {"role": "assistant", "content": text}
            assert (body["continue_final_message"], body["add_generation_prompt"]) == (True, False)

            # Asked in a user message, a model often echoes the end of the text first: the
            # seam drops the echo, and puts the space the model left out.
            upstream.add("u", paced_answer(["and ", "the rest.", "More ", "words."], 100))
            tab.send({"type": "start", "ref": "c2", "conversation": conversation, "continues": message,
                      "model": "u"})  # fmt: skip
            start = reply_to(tab, "c2")
            frames = tab.until_end(str(start["turn"]))
            body = upstream.wait_for_request("u").json
            assert body["messages"][-2:] == [
                {"role": "assistant", "content": start["resumed"]["text"]},
                {"role": "user", "content": INSTRUCTION},
            ]
            assert start["resumed"]["text"] == text + "and the rest."
            continued = "".join(f["text"] for f in frames if f["type"] == "delta")
            assert continued == " More words."


def test_continue_is_refused_where_it_makes_no_sense(upstream: FakeUpstream) -> None:
    with serve(openai_base_url=upstream.base_url) as running:
        with Client(running.ws, cookie=running.cookie) as tab, Client(running.ws) as stranger:
            conversation, message, _text, version = stopped_answer(tab, upstream)
            ask = {"type": "start", "conversation": conversation, "continues": message}
            tab.send({**ask, "ref": "x1", "text": "both"})
            assert reply_to(tab, "x1")["code"] == "invalid"
            stranger.send({**ask, "ref": "x2"})
            assert reply_to(stranger, "x2")["code"] == "not_found"
            edit = {
                "type": "edit",
                "message": message,
                "base": version,
                "edits": [[0, 0, "x"]],
                "client": "p",
            }
            stranger.send({**edit, "ref": "x3"})
            assert reply_to(stranger, "x3")["code"] == "message_not_found"
            tab.send({**edit, "base": version + 5, "ref": "x4"})
            assert reply_to(tab, "x4")["code"] == "stale_version"
            # Another question follows: the first answer is no longer the last.
            upstream.add("m", paced_answer(["fine."], 100))
            tab.until_end(tab.start("next", ref="n1", conversation=conversation, model="m"))
            tab.send({**ask, "ref": "x5"})
            assert reply_to(tab, "x5")["code"] == "not_last"
            # While an answer streams, its stored message is not edited (its turn is).
            upstream.add("m", paced_answer(FIRST, 40))
            turn = tab.start("again", ref="n2", conversation=conversation, model="m")
            streaming = tab.last_start["message"]
            tab.send({**edit, "message": streaming, "base": 0, "ref": "x6"})
            assert reply_to(tab, "x6")["code"] == "streaming"
            tab.send({**ask, "continues": streaming, "ref": "x7"})
            assert reply_to(tab, "x7")["code"] == "conversation_busy"
            tab.send({"type": "stop", "turn": turn})
            tab.until_end(turn)
            [*_, answer] = stored(running.http, running.cookie, conversation)
            assert answer["text"].startswith("a0 ")  # the refused edit changed nothing


def test_the_demo_model_continues_from_where_the_edited_text_leaves_its_script() -> None:
    script = "".join(tokenize(Answers.load().texts["tour"]))  # as it streams
    with serve(demo_tokens_per_second=400.0, demo_ttft_ms=0.0) as running:
        with Client(running.ws, cookie=running.cookie) as tab:
            turn = tab.start("tour")
            conversation, message = tab.last_start["conversation"], tab.last_start["message"]
            text, version = "", 0
            while len(text) < 120:
                frame = tab.recv()
                if frame.get("turn") == turn and frame["type"] == "delta" and frame["text"]:
                    text, version = text + frame["text"], frame["v"]
            tab.send({"type": "stop", "turn": turn})
            for frame in tab.until_end(turn):
                if frame["type"] == "delta" and frame["text"]:
                    text, version = text + frame["text"], frame["v"]
            assert script.startswith(text)
            # The user's own words at the end: the demo goes on after them, not over them.
            mine = " BANANAS ARE YELLOW."
            tab.send({"type": "edit", "message": message, "base": version, "client": "p", "ref": "e",
                      "edits": [[len(text), len(text), mine]]})  # fmt: skip
            assert reply_to(tab, "e")["type"] == "edit"
            tab.send({"type": "start", "ref": "c", "conversation": conversation, "continues": message})
            start = reply_to(tab, "c")
            frames = tab.until_end(str(start["turn"]), timeout=60)
            final = stored(running.http, running.cookie, conversation)[-1]["text"]
            assert final.startswith(text + mine)
            assert final[len(text + mine) :].strip() == rest_of(script, text + mine).strip()
            assert frames[-1]["state"] == "done"
            # Nothing the model had said comes twice.
            assert final.count(text[:60]) == 1
