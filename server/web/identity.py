"""Who is asking (edge): every request and socket gets an *owner*, the key its conversations
are stored under.

By default the owner is a random id in a signed cookie (itsdangerous; HttpOnly, SameSite=Lax,
Secure over HTTPS), given to any request that comes without a valid one: a forged or
tampered cookie counts as none, so it only ever yields a new, empty owner. Behind a reverse
proxy that authenticates users, ``INKSTREAM_TRUSTED_USER_HEADER`` names the header it puts the
user in; the header is then the owner, and a request without it is refused (401). Trusting a
header is only safe when nothing but that proxy can reach this server: anyone who can send
the header directly can be anyone (docs/configuration.md).

The middleware puts the owner in ``scope["state"]["owner"]`` for the endpoints.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from http.cookies import SimpleCookie
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("inkstream.identity")

COOKIE = "inkstream_owner"
COOKIE_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie
SALT = "inkstream.owner"
SECRET_FILE = "secret_key"


def load_secret(configured: str | None, data_dir: str) -> str:
    """INKSTREAM_SECRET_KEY, else the key this server generated once into its data dir (made
    owner-readable only), so cookies outlive restarts."""
    if configured:
        return configured
    path = Path(data_dir) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text().strip()
        if len(secret) < 32:
            raise RuntimeError(f"{path} holds no usable key; delete it to have a new one made") from None
        return secret
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    log.info("generated the cookie signing key into %s", path)
    return secret


class Identity:
    def __init__(self, secret: str, trusted_header: str | None) -> None:
        self._signer = URLSafeSerializer(secret, salt=SALT)
        self.trusted_header = trusted_header

    def owner_of_cookie(self, value: str | None) -> str | None:
        if not value:
            return None
        try:
            owner = self._signer.loads(value)
        except BadSignature:
            return None
        return owner if isinstance(owner, str) and owner.startswith("u_") else None

    def cookie(self, owner: str, *, secure: bool) -> bytes:
        value = self._signer.dumps(owner)
        attributes = f"{COOKIE}={value}; Path=/; Max-Age={COOKIE_AGE}; HttpOnly; SameSite=Lax"
        return (attributes + ("; Secure" if secure else "")).encode("latin-1")

    @staticmethod
    def new_owner() -> str:
        return "u_" + secrets.token_urlsafe(16)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _cookie(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:  # a malformed Cookie header is a missing cookie
        return None
    morsel = jar.get(COOKIE)
    return morsel.value if morsel is not None else None


class Owners:
    """The middleware: finds (or makes) the owner of every HTTP request and WebSocket."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        identity: Identity = scope["app"].state.identity
        state = scope.setdefault("state", {})
        if identity.trusted_header is not None:
            user = _header(scope, identity.trusted_header.encode("latin-1"))
            if not user or not user.strip():
                await _refuse(scope, receive, send)
                return
            state["owner"] = "h:" + user.strip()[:200]
            await self.app(scope, receive, send)
            return
        owner = identity.owner_of_cookie(_cookie(scope))
        if owner is not None or scope["type"] == "websocket":
            # A socket without a cookie (not from our page) gets an owner of its own that
            # lasts as long as it does.
            state["owner"] = owner or identity.new_owner()
            await self.app(scope, receive, send)
            return
        owner = state["owner"] = identity.new_owner()
        cookie = identity.cookie(owner, secure=scope.get("scheme") == "https")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": "not signed in"})
        return
    body = json.dumps(
        {"error": {"code": "unauthenticated", "message": "Sign in through the proxy in front of Inkstream."}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
