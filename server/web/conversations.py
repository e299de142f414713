"""The stored conversations over HTTP (edge): the sidebar's list, a conversation's page and
transcript, rename, delete, and the Markdown / JSON exports.

Every endpoint reads the owner the identity middleware found and passes it to the store,
which matches it in SQL: another owner's conversation answers the same 404 as one that never
existed, on every route. Changes (rename, delete) also check the Origin, like the socket.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import Busy, NotFound, StorageError
from ..storage.store import Store
from .pages import render_page
from .protocol import branch_frame
from .socket import origin_allowed
from .transcript import PAGE_RENDERED, as_json, as_markdown, filename, page_boot

log = logging.getLogger("inkstream.web")

NOT_FOUND = "No such conversation (it was deleted, or it is not yours)."
MAX_BODY = 16 * 1024


def _store(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def _owner(request: Request) -> str:
    owner: str = request.state.owner
    return owner


def _error(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def not_found() -> JSONResponse:
    return _error("not_found", NOT_FOUND, 404)


def _unavailable(error: StorageError) -> JSONResponse:
    log.warning("storage failed serving a request: %s", error.message)
    return _error(error.code, "The database is unavailable right now; try again in a moment.", 503)


async def list_conversations(request: Request) -> Response:
    try:
        found = await _store(request).conversations(_owner(request))
    except StorageError as error:
        return _unavailable(error)
    return JSONResponse({"conversations": [c.to_wire() for c in found]})


async def conversation(request: Request) -> Response:
    method = request.method
    if method in ("PATCH", "DELETE") and not _same_origin(request):
        return _error("forbidden_origin", "Changes come from this site's own pages only.", 403)
    store, owner, cid = _store(request), _owner(request), request.path_params["cid"]
    try:
        if method == "GET":
            found, branch, versions = await store.transcript(owner, cid)
            return JSONResponse(page_boot(found, branch, request.app.state.markdown, versions=versions))
        if method == "PATCH":
            title = await _title(request)
            if title is None:
                return _error("invalid", "Send a JSON object with a string 'title' (1–200 characters).", 400)
            return JSONResponse({"conversation": (await store.rename(owner, cid, title)).to_wire()})
        streaming = await store.delete(owner, cid)
    except NotFound:
        return not_found()
    except StorageError as error:
        return _unavailable(error)
    # Its answers still streaming stop now (their last writes find no row and are dropped).
    hub = request.app.state.hub
    for turn in streaming:
        try:
            await hub.cancel(turn, "the conversation was deleted")
        except Exception:
            log.debug("turn %s of a deleted conversation had already gone", turn)
    return Response(status_code=204)


async def branch(request: Request) -> Response:
    """``PUT /api/conversations/<id>/branch`` with ``{"message": id}``: show the branch through
    that message (a version the navigator switched to); the conversation as GET gives it."""
    if not _same_origin(request):
        return _error("forbidden_origin", "Changes come from this site's own pages only.", 403)
    message = await _field(request, "message")
    if message is None:
        return _error("invalid", "Send a JSON object with a string 'message' (a message's id).", 400)
    store, owner, cid = _store(request), _owner(request), request.path_params["cid"]
    try:
        head = await store.show(owner, cid, message)
        found, messages, versions = await store.transcript(owner, cid)
    except NotFound:
        return not_found()
    except Busy:
        return _error("conversation_busy", "An answer is still streaming here: wait for it to end.", 409)
    except StorageError as error:
        return _unavailable(error)
    # Other tabs on this conversation show the branch too: a question asked there goes after it.
    request.app.state.services.watchers.tell(cid, branch_frame(cid, head))
    return JSONResponse(page_boot(found, messages, request.app.state.markdown, versions=versions))


async def page(request: Request) -> Response:
    """``/c/<id>``: the page, with the stored transcript in it."""
    try:
        found, branch, versions = await _store(request).transcript(
            _owner(request), request.path_params["cid"]
        )
    except NotFound:
        return render_page(request, None, status=404)
    except StorageError as error:
        log.warning("storage failed serving a page: %s", error.message)
        return render_page(request, None, status=503)
    boot = page_boot(found, branch, request.app.state.markdown, rendered=PAGE_RENDERED, versions=versions)
    return render_page(request, boot)


async def export(request: Request) -> Response:
    """``/c/<id>.md`` and ``/c/<id>.json``: the branch on screen, as a download."""
    kind = request.path_params["kind"]
    if kind not in ("md", "json"):
        return not_found()
    try:
        found, branch, _ = await _store(request).transcript(_owner(request), request.path_params["cid"])
    except NotFound:
        return not_found()
    except StorageError as error:
        return _unavailable(error)
    if kind == "md":
        body, media = as_markdown(found, branch), "text/markdown; charset=utf-8"
    else:
        body, media = as_json(found, branch), "application/json"
    disposition = f'attachment; filename="{filename(found, kind)}"'
    return Response(body, media_type=media, headers={"content-disposition": disposition})


def _same_origin(request: Request) -> bool:
    return origin_allowed(
        request.headers.get("origin"),
        request.headers.get("host"),
        request.url.scheme,
        request.app.state.settings.allowed_origins,
    )


async def _field(request: Request, name: str, most: int = 200) -> str | None:
    """The string ``name`` of the request's JSON object (not blank, at most ``most``
    characters), or None."""
    body = await request.body()
    if len(body) > MAX_BODY:
        return None
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, str) or not value.strip() or len(value) > most:
        return None
    return value


async def _title(request: Request) -> str | None:
    return await _field(request, "title")
