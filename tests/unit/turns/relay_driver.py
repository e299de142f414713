"""The relay as the page sees it, for the relay's tests (test_relay*.py): a Driver that keeps the
frames and the log the relay writes, with the clock passed in."""

from __future__ import annotations

import functools
from typing import Any

from server.errors import TurnError
from server.markdown.engine import Markdown
from server.turns.log import (
    TurnEvent,
)
from server.turns.projection import Projection
from server.turns.relay import Relay, Step
from server.upstream.events import (
    UpstreamEvent,
)
from tests.support.dom import Page, canonical

Frame = dict[str, Any]
FPS = 30.0
BURST = 4


@functools.cache
def markdown() -> Markdown:
    return Markdown()


class Driver:
    """The relay as the page sees it, frame by frame; the log it writes is kept in ``events``."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.events: list[TurnEvent] = []

    def _take(self, step: Step) -> list[Frame]:
        self.events += step.events
        return [dict(f) for f in step.frames]

    def start(self) -> Frame:
        [frame] = self._take(self.relay.start())
        return frame

    def feed(self, event: UpstreamEvent, now: float) -> None:
        self.relay.feed(event, now)

    def flush(self, now: float, spacing: float = 0.0) -> Frame | None:
        frames = self._take(self.relay.flush(now, spacing))
        assert len(frames) <= 1
        return frames[0] if frames else None

    def end(self, now: float, **options: Any) -> list[Frame]:
        return self._take(self.relay.end(now, **options))

    def broken_end(self, error: TurnError) -> Frame:
        [frame] = self._take(self.relay.broken_end(0.0, error))
        return frame

    def due(self, now: float, spacing: float = 0.0) -> float | None:
        return self.relay.due(now, spacing)

    def took(self, seconds: float) -> None:
        self.relay.projection.took(seconds)

    @property
    def pending(self) -> bool:
        return self.relay.pending

    @property
    def ended(self) -> bool:
        return self.relay.ended

    @property
    def renderer(self) -> Any:
        return self.relay.projection.renderer


def make(
    now: float = 0.0,
    *,
    turn: str = "t_1",
    model: str = "m",
    ref: str | None = None,
    max_fps: float = FPS,
    burst: int = BURST,
) -> Driver:
    projection = Projection(turn, markdown=markdown())
    return Driver(Relay(projection, model=model, ref=ref, max_fps=max_fps, burst=burst, now=now))


def deltas(frames: list[Frame]) -> list[Frame]:
    return [f for f in frames if f["type"] == "delta"]


def page_html(frames: list[Frame]) -> str:
    page = Page()
    for frame in frames:
        page.apply(frame.get("ops", []))
    return canonical(page.html())
