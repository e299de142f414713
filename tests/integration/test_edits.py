"""Edit frames against a real server, a real upstream streaming at a fixed pace, and the real
store: an edit merged with the model's appends, acknowledged with its version, seen by a
second tab, stored, refused when stale, against another owner's turn and once the turn ended."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.client import Client, Frame
from tests.support.server import serve
from tests.support.upstream import FakeUpstream, paced_answer

WORDS = [f"w{i} " for i in range(60)]


class Mirror:
    """The page's copy of one answer's text, with its version, kept from the turn's frames."""

    def __init__(self) -> None:
        self.text = ""
        self.version = 0

    def take(self, frame: Frame) -> None:
        if frame["type"] == "delta" and frame["text"]:
            self.text += frame["text"]
            self.version = frame["v"]
        elif frame["type"] == "edit":
            for start, end, text in frame["edits"]:
                self.text = self.text[:start] + text + self.text[end:]
            self.version = frame["v"]


def until(client: Client, turn: str, mirror: Mirror, wanted: Any) -> Frame:
    while True:
        frame = client.recv()
        if frame.get("turn") == turn:
            mirror.take(frame)
        if wanted(frame):
            return frame


def test_an_edit_while_streaming_is_merged_acknowledged_shared_and_stored(upstream: FakeUpstream) -> None:
    upstream.add("m", paced_answer(WORDS, 30))
    with serve(openai_base_url=upstream.base_url) as running:
        cookie = running.cookie
        with Client(running.ws, cookie=cookie) as tab, Client(running.ws, cookie=cookie) as other:
            mine = Mirror()
            turn = tab.start("go", model="m")
            conversation = tab.last_start["conversation"]
            other.send({"type": "subscribe", "turn": turn, "after": -1})
            until(tab, turn, mine, lambda f: f["type"] == "delta" and "w5 " in mine.text)
            # Made on what this page saw; the model goes on meanwhile.
            tab.send({"type": "edit", "turn": turn, "base": mine.version, "edits": [[0, 2, "FIRST"]],
                      "client": "page-1", "ref": "e1"})  # fmt: skip
            ack = until(tab, turn, mine, lambda f: f["type"] == "edit")
            assert (ack["origin"], ack["ref"]) == ("page-1", "e1")
            assert mine.text.startswith("FIRST ")
            # An edit against an old version is moved over what came since: at the point where
            # the edit taken first inserted, that one comes first.
            stale = ack["v"] - 1
            tab.send(
                {"type": "edit", "turn": turn, "base": stale, "edits": [[0, 0, ">> "]], "client": "page-1"}
            )
            until(tab, turn, mine, lambda f: f["type"] == "edit" and f["v"] > ack["v"])
            frames = tab.until_end(turn)
            for frame in frames:
                mine.take(frame)
            theirs = Mirror()
            for frame in other.until_end(turn):
                theirs.take(frame)
            expected = "FIRST>> " + "".join(WORDS)[2:]
            assert mine.text == theirs.text == expected
            # Every word the model sent is there once, in order, after the edits.
            assert mine.text.count("w59 ") == 1
            # The stored answer is the edited text, and keeps the model's own.
            stored = stored_answer(running.http, cookie, conversation)
            assert stored["text"] == expected
            assert stored["original"] == "".join(WORDS)
            assert stored["version"] == mine.version


def test_bad_edits_are_refused_with_typed_errors_and_change_nothing(upstream: FakeUpstream) -> None:
    upstream.add("m", paced_answer(WORDS, 30))
    with serve(openai_base_url=upstream.base_url) as running:
        with Client(running.ws, cookie=running.cookie) as tab, Client(running.ws) as stranger:
            mirror = Mirror()
            turn = tab.start("go", model="m")
            until(tab, turn, mirror, lambda f: f["type"] == "delta" and "w3 " in mirror.text)

            def refused(frame: Frame, client: Client = tab) -> str:
                client.send({"ref": "x", **frame})
                while True:
                    got = client.recv()
                    if got.get("turn") == turn:
                        mirror.take(got)
                    if got["type"] == "error" and got.get("ref") == "x":
                        return str(got["code"])

            edit = {"type": "edit", "turn": turn, "client": "p"}
            assert refused({**edit, "base": 10_000, "edits": [[0, 0, "x"]]}) == "stale_version"
            assert refused({**edit, "base": mirror.version, "edits": [[5, 2, "x"]]}) == "bad_edit"
            assert refused({**edit, "base": mirror.version, "edits": [[0, 99_999, ""]]}) == "bad_edit"
            assert refused({**edit, "base": mirror.version, "edits": []}) == "invalid"
            assert (
                refused({**edit, "base": mirror.version, "edits": [[0, 0, "x"]], "client": "model"})
                == "bad_edit"
            )
            assert refused({**edit, "base": 0, "edits": [[0, 0, "x"]]}, stranger) == "unknown_turn"
            for frame in tab.until_end(turn):
                mirror.take(frame)
            assert mirror.text == "".join(WORDS)
            assert refused({**edit, "base": mirror.version, "edits": [[0, 0, "x"]]}) == "not_streaming"


def stored_answer(base: str, cookie: str, conversation: str) -> dict[str, Any]:
    reply = httpx.get(f"{base}/api/conversations/{conversation}", headers={"cookie": cookie}, timeout=10)
    reply.raise_for_status()
    messages = reply.json()["messages"]
    return next(m for m in reversed(messages) if m["role"] == "assistant")
