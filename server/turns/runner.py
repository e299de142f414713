"""Running turns: one task per turn, the owner of its log in the hub (edge).

A turn runs on its own task, independent of the socket that started it: the task calls the
upstream, feeds each network read's events to the relay from the connection's own callback,
and writes each step (log events and their frames) to the hub, where sockets follow it.
Cancelling the turn (Stop, nobody watching, shutdown) cancels the task, which closes the
upstream request at once; the turn still ends with its ``end`` frame, and the cancellation is
re-raised, never swallowed, so a turn can later run its tools in a TaskGroup.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import AnswerTooLarge, InternalError, ProtocolError, TurnError
from ..markdown.engine import Markdown
from ..settings import Settings
from ..tools.registry import Registry
from ..upstream.catalog import Catalog
from ..upstream.client import Upstream
from ..upstream.events import Done, UpstreamEvent
from ..upstream.messages import Message
from .calls import Call
from .continuation import Mode, request_of
from .frames import encode
from .hub import Hub
from .load import PROBE_INTERVAL, Load
from .log import Place, Resumed
from .merge import Edit
from .projection import Projection
from .relay import Relay, Step
from .rounds import NOT_RUN, CallState, Result

log = logging.getLogger("inkstream.turns")

USER_STOP = "stopped by the user"
SHUTDOWN = "the server is shutting down"
BROKEN = "rendering failed"
UNFINISHED = "Stopped before it finished."


@dataclass(frozen=True, slots=True)
class TurnRequest:
    """What a turn is asked to answer: the conversation so far, the last message the user's."""

    ref: str | None
    model: str | None
    messages: tuple[Message, ...]
    max_tokens: int | None
    place: Place | None = None  # where it is stored (None: not stored, e.g. a bare relay)
    user: str = ""  # whose conversation: only they may follow or stop it
    # A Continue: the answer's text it goes on from (``messages`` end with the user's message
    # it answers; how the text is sent depends on the model, continuation.py).
    resumed: Resumed | None = None


class _Owner:
    """One running turn, as its hub sees it: it can be told to stop, and take a page's edit."""

    def __init__(
        self, turn: str, request: TurnRequest, relay: Relay, write: Callable[[_Owner, Step], None]
    ) -> None:
        self.id = turn
        self.request = request
        self.relay = relay
        self._write = write
        self.task: asyncio.Task[None] | None = None
        self.stop_reason: str | None = None
        self.too_large = False  # the hub holds as much of this turn as it will

    def cancel(self, reason: str) -> None:
        if self.relay.ended or self.task is None or self.task.done():
            return
        if self.stop_reason is None:
            self.stop_reason = reason
        self.task.cancel()

    def edit(self, base: int, edits: Sequence[Edit], origin: str, ref: str | None) -> None:
        self._write(self, self.relay.edit(base, edits, origin, ref, asyncio.get_running_loop().time()))


class Turns:
    """The turns this process runs."""

    def __init__(
        self,
        settings: Settings,
        hub: Hub,
        markdown: Markdown,
        upstream: Upstream,
        catalog: Catalog,
        tools: Registry | None = None,
    ) -> None:
        self._settings = settings
        self._tools = tools if tools is not None else Registry()
        self._hub = hub
        self._markdown = markdown
        self._upstream = upstream
        self._catalog = catalog
        self._running: dict[str, _Owner] = {}
        self._closing = False
        self._load = Load(0.0)
        self._probe: asyncio.TimerHandle | None = None
        self._probe_due = 0.0

    def running(self, turn: str) -> bool:
        return turn in self._running

    @staticmethod
    def new_id() -> str:
        return "t_" + secrets.token_urlsafe(12)

    def continue_mode(self, request: TurnRequest) -> Mode:
        """How the upstream is asked to continue: configured by the model's name as asked (the
        page's choice, else INKSTREAM_MODEL)."""
        return self._settings.continue_mode_for(request.model or self._settings.model or "")

    def start(self, request: TurnRequest, turn: str | None = None) -> str:
        """Start a turn (with the id given, e.g. the one its stored answer names); its id. Its
        ``start`` frame is in the hub before this returns."""
        if self._closing:
            raise ProtocolError("shutting_down", "The server is shutting down; try again in a moment.")
        settings = self._settings
        loop = asyncio.get_running_loop()
        turn = turn or self.new_id()
        projection = Projection(turn, markdown=self._markdown, render_interval=settings.render_interval)
        relay = Relay(
            projection,
            model=request.model or settings.model or "",
            ref=request.ref,
            place=request.place,
            resumed=request.resumed,
            seam=self.continue_mode(request),
            max_rounds=settings.max_tool_rounds,
            max_fps=settings.max_fps,
            burst=settings.burst_frames,
            now=loop.time(),
        )
        owner = _Owner(turn, request, relay, self._write)
        self._hub.create(turn, owner, request.user)
        self._running[turn] = owner
        self._write(owner, relay.start())
        if self._probe is None:
            self._measure()
        owner.task = loop.create_task(self._run(owner), name=turn)
        # Cancelled before its first step, the task never runs _run's finally: end it here.
        owner.task.add_done_callback(lambda _: self._settle(owner))
        return turn

    async def aclose(self) -> None:
        """Stop every running turn (each still ends with a proper ``end`` frame)."""
        self._closing = True
        owners = list(self._running.values())
        tasks = [o.task for o in owners if o.task is not None and not o.task.done()]
        for owner in owners:
            owner.cancel(SHUTDOWN)
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    def _measure(self) -> None:
        """Measure how late the loop runs, every PROBE_INTERVAL while turns run (load.py)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._probe is not None:
            self._load.observe(now - self._probe_due, now)
        if self._running:
            self._probe_due = now + PROBE_INTERVAL
            self._probe = loop.call_at(self._probe_due, self._measure)
        else:
            self._probe = None

    def _write(self, owner: _Owner, step: Step) -> None:
        if step.events or step.frames:
            frames = [encode(frame) for frame in step.frames]
            if not self._hub.append(owner.id, step.events, frames):
                owner.too_large = True

    def _settle(self, owner: _Owner) -> None:
        if not owner.relay.ended:
            self._end(owner, stopped=True, error=None, broken=False)
        self._running.pop(owner.id, None)

    def _end(self, owner: _Owner, *, stopped: bool, error: TurnError | None, broken: bool) -> None:
        relay = owner.relay
        now = asyncio.get_running_loop().time()
        try:
            if broken:
                raise RuntimeError(BROKEN)
            step = relay.end(now, stopped=stopped, error=error, reason=owner.stop_reason)
        except Exception:
            if not broken:
                log.exception("turn %s could not end cleanly", owner.id)
            failure = error or InternalError("Inkstream failed to finish this answer.")
            step = relay.broken_end(now, failure)
        self._write(owner, step)
        self._hub.finish(owner.id)

    async def _run(self, owner: _Owner) -> None:
        loop = asyncio.get_running_loop()
        relay = owner.relay
        request = owner.request
        timer: asyncio.TimerHandle | None = None
        broken = False

        def flush() -> None:
            nonlocal timer, broken
            timer = None
            if relay.ended or broken:
                return
            started = time.perf_counter()
            try:
                step = relay.flush(loop.time(), self._load.spacing)
                relay.projection.took(time.perf_counter() - started)
            except Exception:
                # A bug of ours must end the turn properly, not leave it streaming forever.
                log.exception("turn %s could not render", owner.id)
                broken = True
                owner.cancel(BROKEN)
                return
            self._write(owner, step)
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

        # The turn's tools as they are now; a call runs on a task of its own the moment its
        # arguments are complete (rounds.py), so calls of one round run side by side.
        registry = self._tools.snapshot()
        calls: list[asyncio.Task[None]] = []

        async def run(call: Call) -> None:
            outcome = await registry.run(call.name, call.arguments)
            result = Result(outcome.ok, outcome.content, outcome.ms)
            if not relay.ended:
                self._write(owner, relay.tool_finished(call.number, result, loop.time()))

        def start(ready: list[Call]) -> None:
            for call in ready:
                self._write(owner, relay.tool_started(call.number, loop.time()))
                calls.append(loop.create_task(run(call), name=f"{owner.id} {call.name}"))

        def on_events(events: list[UpstreamEvent]) -> bool:
            # Called from the upstream connection's network callback, once per read.
            now = loop.time()
            for event in events:
                relay.feed(event, now)
                if isinstance(event, Done):
                    start(relay.startable())
                    return True
            start(relay.startable())
            schedule()
            if owner.too_large:
                raise AnswerTooLarge("The answer grew past this server's size limit; it was cut off.")
            return False

        error: TurnError | None = None
        stopped = False
        try:
            model = request.model or await self._catalog.default_model()
            messages, extra = request.messages, dict[str, Any]()
            if request.resumed is not None:
                messages, extra = request_of(messages, request.resumed.text, self.continue_mode(request))
            specs = registry.specs()
            more: list[dict[str, Any]] = []
            while True:
                await self._upstream.chat(
                    model=model,
                    messages=messages,
                    max_tokens=request.max_tokens,
                    extra=extra,
                    more=more,
                    tools=specs,
                    on_events=on_events,
                )
                if timer is not None:
                    timer.cancel()
                    timer = None
                step, ready = relay.stream_ended(loop.time())
                self._write(owner, step)
                start(ready)
                if calls:
                    await asyncio.gather(*calls)
                    calls.clear()
                decision = relay.rounds.decide()
                if decision == "limit":
                    owner.stop_reason = NOT_RUN.format(limit=relay.rounds.max_rounds).removeprefix(
                        "Not run: "
                    )
                if decision != "round":
                    break
                more += relay.next_round()
        except TurnError as failure:
            error = failure
        except asyncio.CancelledError:
            stopped = True
            raise
        except Exception:
            log.exception("turn %s failed", owner.id)
            error = InternalError("Inkstream failed while relaying this answer (see the server log).")
        finally:
            if timer is not None:
                timer.cancel()
            for task in calls:
                task.cancel()  # Stop, a failure or shutdown: running tools stop with the turn
            if calls:
                await asyncio.gather(*calls, return_exceptions=True)
            for number, state in relay.rounds.states.items():
                if state is CallState.RUNNING and not relay.ended:
                    # The record says what became of it: never "running" forever.
                    self._write(owner, relay.tool_finished(number, Result(False, UNFINISHED), loop.time()))
            if broken:
                error = InternalError("Inkstream failed while rendering this answer (see the server log).")
            self._end(owner, stopped=stopped, error=error, broken=broken)
