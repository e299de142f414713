"""Running turns, their ordered logs, who watches them, and how they end (edge).

A turn runs on its own task, independent of the socket that started it. Its frames are
serialised once into the turn's log; sockets subscribe with a cursor into that log, so a
frame is never copied per socket and a slow socket only falls behind, it does not make the
server buffer more. A turn no socket has watched for ``grace_period`` is cancelled; a
finished turn's log stays replayable for ``turn_retention``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Protocol

from ..errors import AnswerTooLarge, InternalError, ProtocolError, TurnError
from ..markdown.engine import Markdown
from ..settings import Settings
from ..upstream.catalog import Catalog
from ..upstream.client import Message, Upstream
from ..upstream.events import Done, UpstreamEvent
from .frames import Frame, encode
from .load import PROBE_INTERVAL, Load
from .relay import Relay

log = logging.getLogger("inkstream.turns")

USER_STOP = "stopped by the user"
UNWATCHED = "nobody was watching"
SHUTDOWN = "the server is shutting down"


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """What a turn is asked to answer: the conversation so far, the last message the user's."""

    ref: str | None
    model: str | None
    messages: tuple[Message, ...]
    max_tokens: int | None


class Watcher(Protocol):
    def notify(self) -> None:
        """New frames are in a log this watcher follows."""


class Turn:
    def __init__(self, turn_id: str, *, ref: str | None, grace: float, max_log_bytes: int) -> None:
        self.id = turn_id
        self.ref = ref
        self.log: list[str] = []
        self.log_bytes = 0
        self.too_large = False  # the log outgrew max_log_bytes
        self.finished = False
        self.stop_reason: str | None = None
        self._grace = grace
        self._max_log_bytes = max_log_bytes
        self._watchers: set[Watcher] = set()
        self._grace_timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None

    def append(self, frame: Frame) -> None:
        text = encode(frame)
        self.log.append(text)
        self.log_bytes += len(text)
        self.too_large = self.log_bytes > self._max_log_bytes
        for watcher in self._watchers:
            watcher.notify()

    def watch(self, watcher: Watcher) -> None:
        self._watchers.add(watcher)
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)
        if not self._watchers and not self.finished and self._grace_timer is None:
            loop = asyncio.get_running_loop()
            self._grace_timer = loop.call_later(self._grace, self._unwatched)

    def _unwatched(self) -> None:
        self._grace_timer = None
        if not self._watchers:
            self.stop(UNWATCHED)

    def stop(self, reason: str) -> None:
        """Cancel the turn: its upstream request is closed at once."""
        if self.finished or self.task is None or self.task.done():
            return
        if self.stop_reason is None:
            self.stop_reason = reason
        self.task.cancel()

    def finish(self) -> None:
        self.finished = True
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        for watcher in self._watchers:
            watcher.notify()


class Turns:
    """All turns of this process."""

    def __init__(self, settings: Settings, markdown: Markdown, upstream: Upstream, catalog: Catalog) -> None:
        self._settings = settings
        self._markdown = markdown
        self._upstream = upstream
        self._catalog = catalog
        self._turns: dict[str, Turn] = {}
        self._closing = False
        self._running = 0
        self._load = Load(0.0)
        self._probe: asyncio.TimerHandle | None = None
        self._probe_due = 0.0

    def __len__(self) -> int:
        return len(self._turns)

    def get(self, turn_id: str) -> Turn | None:
        return self._turns.get(turn_id)

    def start(self, request: TurnRequest, watcher: Watcher) -> Turn:
        if self._closing:
            raise ProtocolError("shutting_down", "The server is shutting down; try again in a moment.")
        turn = Turn(
            "t_" + secrets.token_urlsafe(12),
            ref=request.ref,
            grace=self._settings.grace_period,
            max_log_bytes=self._settings.max_turn_log_bytes,
        )
        self._turns[turn.id] = turn
        self._running += 1
        if self._probe is None:
            self._measure()
        turn.watch(watcher)
        turn.task = asyncio.get_running_loop().create_task(self._run(turn, request), name=turn.id)
        # Cancelled before its first step, the task never enters _run's finally: finish it here.
        turn.task.add_done_callback(lambda _: self._settle(turn))
        return turn

    def _measure(self) -> None:
        """Measure how late the loop runs, every PROBE_INTERVAL while turns run (load.py)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._probe is not None:
            self._load.observe(now - self._probe_due, now)
        if self._running > 0:
            self._probe_due = now + PROBE_INTERVAL
            self._probe = loop.call_at(self._probe_due, self._measure)
        else:
            self._probe = None

    def _settle(self, turn: Turn) -> None:
        self._running -= 1
        if not turn.finished:
            turn.finish()
            asyncio.get_running_loop().call_later(
                self._settings.turn_retention, self._turns.pop, turn.id, None
            )

    async def aclose(self) -> None:
        """Stop every running turn (each still ends with a proper ``end`` frame)."""
        self._closing = True
        tasks = [t.task for t in self._turns.values() if t.task is not None and not t.task.done()]
        for turn in list(self._turns.values()):
            turn.stop(SHUTDOWN)
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    async def _run(self, turn: Turn, request: TurnRequest) -> None:
        loop = asyncio.get_running_loop()
        settings = self._settings
        relay = Relay(
            turn.id,
            markdown=self._markdown,
            model=request.model or settings.model or "",
            ref=request.ref,
            max_fps=settings.max_fps,
            burst=settings.burst_frames,
            now=loop.time(),
            render_interval=settings.render_interval,
        )
        turn.append(relay.start())
        timer: asyncio.TimerHandle | None = None
        broken = False

        def flush() -> None:
            nonlocal timer, broken
            timer = None
            if relay.ended or broken:
                return
            started = time.perf_counter()
            try:
                frame = relay.flush(loop.time(), self._load.spacing)
                relay.took(time.perf_counter() - started)
            except Exception:
                # A bug of ours must end the turn properly, not leave it streaming forever.
                log.exception("turn %s could not render", turn.id)
                broken = True
                turn.stop("rendering failed")
                return
            if frame is not None:
                turn.append(frame)
            schedule(at_once=False)

        def schedule(*, at_once: bool = True) -> None:
            nonlocal timer
            if timer is None:
                now = loop.time()
                due = relay.due(now, self._load.spacing)
                if due is None:
                    return
                if at_once and due <= now:
                    # All deltas of one network read are in (they come together), so they
                    # share this frame; sending now saves a trip round the event loop.
                    flush()
                else:
                    timer = loop.call_at(due, flush)

        def on_events(events: list[UpstreamEvent]) -> bool:
            # Called from the upstream connection's network callback, once per read.
            now = loop.time()
            for event in events:
                relay.feed(event, now)
                if isinstance(event, Done):
                    return True
            schedule()
            if turn.too_large:
                raise AnswerTooLarge("The answer grew past this server's size limit; it was cut off.")
            return False

        error: TurnError | None = None
        stopped = False
        try:
            model = request.model or await self._catalog.default_model()
            await self._upstream.chat(
                model=model, messages=request.messages, max_tokens=request.max_tokens, on_events=on_events
            )
        except TurnError as failure:
            error = failure
        except asyncio.CancelledError:
            stopped = True
        except Exception:
            log.exception("turn %s failed", turn.id)
            error = InternalError("Inkstream failed while relaying this answer (see the server log).")
        finally:
            if timer is not None:
                timer.cancel()
            if broken:
                error = InternalError("Inkstream failed while rendering this answer (see the server log).")
            try:
                if broken:
                    raise RuntimeError("rendering failed")
                for frame in relay.end(loop.time(), stopped=stopped, error=error, reason=turn.stop_reason):
                    turn.append(frame)
            except Exception:
                if not broken:
                    log.exception("turn %s could not end cleanly", turn.id)
                turn.append(
                    relay.broken_end(error or InternalError("Inkstream failed to finish this answer."))
                )
            turn.finish()
            loop.call_later(settings.turn_retention, self._turns.pop, turn.id, None)
