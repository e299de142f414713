"""The ``/ws`` endpoint: origin check, limits, frames in -> turns, turn logs -> frames out (edge).

uvicorn queues incoming WebSocket messages without bound, so limits are enforced here: a
frame over ``max_frame_bytes`` closes the socket with 1009 (uvicorn already does, this is the
second line), more than ``client_frames_per_second`` frames are refused with a
``rate_limited`` error and a sustained flood closes the socket with 1008.

Outgoing, each socket holds a feed of each turn it follows (a cursor into the turn's frames in
the hub, turns/hub.py): the sender writes what the socket can take; one that cannot take a
frame for ``send_timeout`` is closed (4008) and may come back with ``subscribe``/``after`` to
resume where it was.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from .. import __version__
from ..errors import Busy, NotFound, ProtocolError, StorageError, UnknownTurn
from ..markdown.engine import Markdown
from ..settings import Settings
from ..turns.frames import encode
from ..turns.history import Ask, History
from ..turns.hub import Feed
from ..turns.merge import Edit
from ..turns.rate import TokenBucket
from ..turns.revisions import Revisions
from ..turns.runner import USER_STOP, Turns
from ..turns.stored import StoredHub
from .protocol import (
    ClientFrame,
    EditText,
    Ping,
    Start,
    Stop,
    Subscribe,
    Watch,
    error_frame,
    hello_frame,
    message_frame,
    parse_client_frame,
    pong_frame,
    revised_frame,
    storage_frame,
)
from .transcript import message_wire
from .watchers import Watchers

log = logging.getLogger("inkstream.ws")

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TOO_SLOW = 4008
FOLLOWED_KEPT = 64
REVISIONS_PER_SECOND = 2.0  # edits of stored answers per socket (each renders the answer whole)
REVISIONS_BURST = 4


def origin_allowed(origin: str | None, host: str | None, scheme: str, allowed: tuple[str, ...]) -> bool:
    """Same origin as the page, or one of INKSTREAM_ALLOWED_ORIGINS.

    No Origin header means no browser (browsers always send it on WebSocket handshakes),
    and the check exists to stop cross-site WebSocket hijacking by browsers.
    """
    if origin is None:
        return True
    origin = origin.strip().lower().rstrip("/")
    if origin in allowed:
        return True
    if not host:
        return False
    parts = urlsplit(origin)
    page_scheme = "https" if scheme in ("wss", "https") else "http"
    return parts.scheme == page_scheme and parts.netloc == host.strip().lower() and not parts.path


NOT_FOUND = "No such conversation (it was deleted, or it is not yours)."
NO_MESSAGE = "No such message (it was deleted, or it is not yours)."
NOT_LAST = "Only the last answer on screen can be continued: another message follows this one."
BUSY = "An answer is still streaming in this conversation: stop it, or wait for it to end."
UNSAVED = "The database is unavailable, so this message could not be recorded; try again in a moment."
GONE = "This answer is no longer on the server (it restarted, or the answer expired)."


@dataclass(frozen=True)
class Services:
    """What every socket uses, from the app's lifespan."""

    settings: Settings
    turns: Turns
    hub: StoredHub
    history: History
    watchers: Watchers
    markdown: Markdown
    revisions: Revisions


class Connection:
    """One socket: whose it is, what it follows and watches, and its sender."""

    def __init__(self, websocket: WebSocket, send: Send, services: Services, user: str) -> None:
        self._ws = websocket
        # Frames go straight to the ASGI send: WebSocket.send_text adds a state check and a
        # coroutine per frame, and frames are most of what this server sends.
        self._send = send
        self._services = services
        self._user = user
        self._turns = services.turns
        self._hub = services.hub
        self._settings = settings = services.settings
        self._watching: str | None = None
        self._posts: set[asyncio.Task[None]] = set()
        self._feeds: dict[str, Feed] = {}
        self._wake: asyncio.Future[None] | None = None  # the sender waits on it for frames
        self._woken = False  # frames arrived while the sender was busy
        loop = asyncio.get_running_loop()
        self._bucket = TokenBucket(settings.client_frames_per_second, settings.client_burst, loop.time())
        self._revising = TokenBucket(REVISIONS_PER_SECOND, REVISIONS_BURST, loop.time())
        self._strikes = 0
        self._last_warning = -1e9
        self._loop = loop
        self._sender: asyncio.Task[None] | None = None
        self._sending_since: float | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self.too_slow = False
        self._started: list[str] = []  # turns this socket started, while they run
        # Turns this socket has followed: news of their saving still concerns it after their
        # feed has drained (the last write lands after the end frame went out).
        self._followed: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._strike_window = loop.time()

    def notify(self) -> None:
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        else:
            self._woken = True

    def post(self, frame: dict[str, Any]) -> None:
        """Send a frame outside any turn's feed soon (watchers, the saver's news)."""
        task = self._loop.create_task(self._send_now(frame))
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    def saving(self, turn: str, ok: bool, message: str) -> None:
        if turn in self._feeds or turn in self._followed:
            self.post(storage_frame(turn, ok, message))

    def _follows(self, turn: str) -> None:
        self._followed[turn] = None
        if len(self._followed) > FOLLOWED_KEPT:
            self._followed.popitem(last=False)

    async def run(self) -> None:
        sender = self._sender = asyncio.create_task(self._send_loop())
        self._hub.listen(self)
        try:
            await self._send_now(
                hello_frame(
                    server=f"inkstream/{__version__}",
                    demo=self._settings.demo,
                    limits={
                        "max_frame_bytes": self._settings.max_frame_bytes,
                        "frames_per_second": self._settings.client_frames_per_second,
                        "max_turns": self._settings.max_turns_per_socket,
                    },
                )
            )
            await self._receive_loop(sender)
        finally:
            # Stop watching first: the grace period of the turns this socket followed must
            # start even if closing below hangs on a full socket.
            self._hub.unlisten(self)
            if self._watching is not None:
                self._services.watchers.unwatch(self._watching, self)
            for task in self._posts:
                task.cancel()
            for feed in self._feeds.values():
                feed.close()
            self._feeds.clear()
            if self._watchdog is not None:
                self._watchdog.cancel()
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
        if self.too_slow:
            log.info("closing a socket that took no frame for %ss", self._settings.send_timeout)
            await self._close(CLOSE_TOO_SLOW, "too slow")

    async def _close(self, code: int, reason: str) -> None:
        """Close, but do not wait long: a close frame queues behind data a stalled peer never
        reads."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._ws.close(code, reason), timeout=1.0)

    async def _receive_loop(self, sender: asyncio.Task[None]) -> None:
        while True:
            receive = asyncio.ensure_future(self._ws.receive())
            done, _ = await asyncio.wait({receive, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done:
                receive.cancel()
                return
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                await self._refuse(
                    ProtocolError(
                        "binary_unsupported",
                        "Send text frames with JSON; binary frames are not part of the protocol.",
                    )
                )
                continue
            if len(text.encode("utf-8", "surrogatepass")) > self._settings.max_frame_bytes:
                await self._close(CLOSE_TOO_BIG, "frame too large")
                return
            now = self._loop.time()
            if not self._bucket.take(now):
                # Refused frames count within a 10 s window: a flood closes the socket, a
                # client that was briefly too eager does not accumulate strikes forever.
                if now - self._strike_window > 10.0:
                    self._strike_window = now
                    self._strikes = 0
                self._strikes += 1
                if self._strikes > self._settings.flood_strikes:
                    await self._close(CLOSE_POLICY, "too many frames")
                    return
                if self._loop.time() - self._last_warning >= 1.0:
                    self._last_warning = self._loop.time()
                    await self._send_now(
                        error_frame(
                            "rate_limited",
                            f"More than {self._settings.client_frames_per_second:g} frames a second; "
                            "frames are being dropped.",
                        )
                    )
                continue
            try:
                await self._handle(parse_client_frame(text))
            except ProtocolError as error:
                await self._refuse(error)

    async def _handle(self, frame: ClientFrame) -> None:
        if isinstance(frame, Start):
            await self._start(frame)
        elif isinstance(frame, Stop):
            with self._known(frame.ref):
                await self._hub.cancel(frame.turn, USER_STOP, user=self._user)
        elif isinstance(frame, Subscribe):
            await self._subscribe(frame)
        elif isinstance(frame, Watch):
            if frame.conversation is not None:
                with self._stored(frame.ref):
                    await self._services.history.store.conversation(self._user, frame.conversation)
            self._services.watchers.watch(frame.conversation, self, self._watching)
            self._watching = frame.conversation
        elif isinstance(frame, EditText):
            try:
                await self._edit(frame)
            except ProtocolError as error:
                raise ProtocolError(error.code, error.message, ref=frame.ref) from None
        elif isinstance(frame, Ping):
            await self._send_now(pong_frame(frame.ref))

    async def _edit(self, frame: EditText) -> None:
        edits = [Edit(start, end, text) for start, end, text in frame.edits]
        if frame.turn is not None:
            with self._known(frame.ref):
                await self._hub.edit(frame.turn, frame.base, edits, frame.client, frame.ref, user=self._user)
            return
        assert frame.message is not None
        # Each renders the answer again whole: a page sends at most one a second.
        if not self._revising.take(self._loop.time()):
            raise ProtocolError("rate_limited", "Edits of a stored answer come at most a few a second.")
        with self._stored(frame.ref):
            revised = await self._services.revisions.edit(
                self._user, frame.message, frame.base, edits, frame.client
            )
        stored = revised.message
        replaced = [[e.start, e.end, e.text] for change in revised.changes for e in change.edits]
        update = revised_frame(
            stored.conversation, stored.id, stored.version, replaced, frame.client, frame.ref,
            html=revised.html, keep=revised.keep, was=revised.was,
        )  # fmt: skip
        if self._watching != stored.conversation:
            await self._send_now(update)  # the acknowledgement (the watchers get theirs below)
        self._services.watchers.tell(stored.conversation, update)

    async def _start(self, frame: Start) -> None:
        self._started = [t for t in self._started if self._turns.running(t)]
        if len(self._started) >= self._settings.max_turns_per_socket:
            raise ProtocolError(
                "too_many_turns",
                ref=frame.ref,
                message=f"At most {self._settings.max_turns_per_socket} answers may stream at once "
                "per connection.",
            )
        ask = Ask(
            user=self._user,
            ref=frame.ref,
            conversation=frame.conversation,
            text=frame.text,
            regenerate=frame.regenerate,
            model=frame.model,
            max_tokens=frame.max_tokens,
            resume=frame.continues,
            replaces=frame.replaces,
        )
        with self._stored(frame.ref):
            turn, begun = await self._services.history.start(ask)
        self._started.append(turn)
        self._feeds[turn] = await self._hub.follow(turn, -1, self, user=self._user)
        self._follows(turn)
        self.notify()
        self._services.watchers.started(begun.conversation.id, turn, self)

    async def _subscribe(self, frame: Subscribe) -> None:
        try:
            # Frames up to `after` are the client's already: start right after, even if the
            # turn has not got that far yet.
            feed = await self._hub.follow(frame.turn, frame.after, self, user=self._user)
        except UnknownTurn:
            # Not in memory any more: what the store has of it is the answer, whole.
            try:
                stored = await self._services.history.store.message_of_turn(self._user, frame.turn)
            except (NotFound, StorageError):
                raise ProtocolError("unknown_turn", GONE, ref=frame.ref) from None
            wire = message_wire(stored, self._services.markdown)
            await self._send_now(message_frame(frame.turn, stored.conversation, wire))
            return
        old = self._feeds.get(frame.turn)
        self._feeds[frame.turn] = feed
        self._follows(frame.turn)
        if old is not None:
            old.close()
        self.notify()

    @staticmethod
    @contextlib.contextmanager
    def _stored(ref: str | None) -> Iterator[None]:
        try:
            yield
        except NotFound as missing:
            if missing.what == "message":
                raise ProtocolError("message_not_found", NO_MESSAGE, ref=ref) from None
            if missing.what == "last answer":
                raise ProtocolError("not_last", NOT_LAST, ref=ref) from None
            raise ProtocolError("not_found", NOT_FOUND, ref=ref) from None
        except Busy:
            raise ProtocolError("conversation_busy", BUSY, ref=ref) from None
        except StorageError as error:
            log.warning("a start could not be recorded: %s", error.message)
            raise ProtocolError("storage_unavailable", UNSAVED, ref=ref) from None

    @staticmethod
    @contextlib.contextmanager
    def _known(ref: str | None) -> Iterator[None]:
        try:
            yield
        except UnknownTurn:
            raise ProtocolError("unknown_turn", GONE, ref=ref) from None

    async def _refuse(self, error: ProtocolError) -> None:
        await self._send_now(error_frame(error.code, error.message, ref=error.ref))

    async def _send_now(self, frame: dict[str, object]) -> None:
        """A frame outside any turn (hello, pong, errors). A client that sends but never reads
        cannot block this socket's receive loop past send_timeout."""
        try:
            await asyncio.wait_for(self._ws.send_text(encode(frame)), timeout=self._settings.send_timeout)
        except TimeoutError:
            self.too_slow = True
            if self._sender is not None:
                self._sender.cancel()

    async def _send_loop(self) -> None:
        while True:
            if not self._woken:
                self._wake = self._loop.create_future()
                await self._wake
                self._wake = None
            self._woken = False
            for turn, feed in list(self._feeds.items()):
                for frame in feed.take():
                    self._sending_since = self._loop.time()
                    if self._watchdog is None:
                        self._watchdog = self._loop.call_later(self._settings.send_timeout, self._watch)
                    await self._send({"type": "websocket.send", "text": frame})
                    self._sending_since = None
                # (Only if a subscribe did not replace this feed while a frame was going out.)
                if feed.finished and self._feeds.get(turn) is feed:
                    del self._feeds[turn]
                    feed.close()

    def _watch(self) -> None:
        """A send that has not finished after ``send_timeout``: the socket is too slow.

        One timer per connection, re-armed only while frames keep going out, costs less than
        a timeout around every send."""
        self._watchdog = None
        since = self._sending_since
        if since is None:
            return
        waited = self._loop.time() - since
        if waited >= self._settings.send_timeout:
            self.too_slow = True
            if self._sender is not None:
                self._sender.cancel()
        else:
            self._watchdog = self._loop.call_later(self._settings.send_timeout - waited, self._watch)


class WebSocketEndpoint:
    """``/ws``. An ASGI app (a class, so Starlette routes to it as one) rather than an endpoint
    function, so that frames can go to ``send`` directly."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _serve(scope, receive, send)


async def _serve(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive=receive, send=send)
    state = websocket.app.state
    settings: Settings = state.settings
    if not origin_allowed(
        websocket.headers.get("origin"),
        websocket.headers.get("host"),
        websocket.url.scheme,
        settings.allowed_origins,
    ):
        # Closing before accept() makes uvicorn answer the handshake with HTTP 403.
        log.info("refused a WebSocket from origin %r (403)", websocket.headers.get("origin"))
        await websocket.close(CLOSE_POLICY)
        return
    await websocket.accept()
    connection = Connection(websocket, send, state.services, websocket.scope["state"]["owner"])
    with contextlib.suppress(WebSocketDisconnect, OSError):
        await connection.run()
