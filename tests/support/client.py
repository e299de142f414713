"""A WebSocket client for tests: frames in and out, and helpers to collect a turn."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

Frame = dict[str, Any]


class Client:
    def __init__(
        self,
        url: str,
        *,
        origin: str | None = None,
        cookie: str | None = None,
        headers: dict[str, str] | None = None,
        **options: Any,
    ) -> None:
        """``cookie`` (``Running.cookie``) makes the socket one owner's: without it each socket
        is an owner of its own, and cannot see another socket's turns."""
        headers = {**(headers or {}), **({"Origin": origin} if origin else {})}
        if cookie:
            headers["Cookie"] = cookie
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(
            connect(url, additional_headers=headers or None, open_timeout=5, **options)
        )
        self.hello = self.recv()
        assert self.hello["type"] == "hello", self.hello
        self.other: list[Frame] = []  # frames seen while waiting for something else
        self.last_start: Frame = {}

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def send(self, frame: Frame | str | bytes) -> None:
        self.ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))

    def recv(self, timeout: float = 10.0) -> Frame:
        data = self.ws.recv(timeout=timeout)
        assert isinstance(data, str), data
        frame: Frame = json.loads(data)
        return frame

    def start(self, content: str = "hi", *, ref: str = "r1", **fields: Any) -> str:
        """Send a start frame (a new message; a new conversation unless ``conversation`` is
        given); return the new turn's id. Its ``start`` frame is kept in ``last_start``."""
        self.send({"type": "start", "ref": ref, "text": content, **fields})
        while True:
            frame = self.recv()
            if frame.get("type") == "start" and frame.get("ref") == ref:
                assert frame["seq"] == 0
                self.last_start = frame
                return str(frame["turn"])
            if frame.get("type") == "error" and frame.get("ref") == ref:
                raise AssertionError(f"start refused: {frame}")
            self.other.append(frame)

    def until_end(self, turn: str, timeout: float = 20.0) -> list[Frame]:
        """Frames of ``turn`` until its ``end`` (inclusive), checking seq has no gaps."""
        frames: list[Frame] = []
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(timeout=max(0.01, deadline - time.monotonic()))
            if frame.get("turn") != turn:
                self.other.append(frame)
                continue
            if frames:
                assert frame["seq"] == frames[-1]["seq"] + 1, (frames[-1]["seq"], frame["seq"])
            frames.append(frame)
            if frame["type"] == "end":
                return frames

    def error(self, timeout: float = 5.0) -> Frame:
        while True:
            frame = self.recv(timeout)
            if frame["type"] == "error":
                return frame

    def closed_with(self, timeout: float = 5.0) -> int | None:
        """Read until the server closes; the close code."""
        try:
            while True:
                self.ws.recv(timeout=timeout)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


def text_of(frames: list[Frame]) -> str:
    return "".join(f.get("text", "") for f in frames if f["type"] == "delta")


def ops_of(frames: list[Frame]) -> list[dict[str, Any]]:
    return [op for f in frames for op in f.get("ops", [])]
