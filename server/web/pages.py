"""HTTP endpoints other than the WebSocket: the page, the model list, stylesheet, health."""

from __future__ import annotations

from typing import Any

from pygments.formatters import HtmlFormatter
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from .. import __version__
from ..errors import UpstreamError


def render_page(request: Request, boot: dict[str, Any] | None, *, status: int = 200) -> Response:
    """The chat page: empty (a new chat), with a stored conversation (``boot``), or, with
    404 or 503, saying the conversation cannot be shown."""
    settings = request.app.state.settings
    templates = request.app.state.templates
    context = {
        "demo": settings.demo,
        "version": __version__,
        "model": settings.model or "",
        "boot": boot,
        "status": status,
    }
    response: Response = templates.TemplateResponse(request, "index.html", context, status_code=status)
    return response


async def index(request: Request) -> Response:
    return render_page(request, None)


async def tools(request: Request) -> Response:
    """The tools on (names, descriptions, where each comes from) and the MCP servers' states:
    the page shows them; nothing of a server's command line or URL reaches the browser."""
    state = request.app.state
    listing = state.tools.listing()
    servers = [{k: v for k, v in s.items() if k in ("name", "state", "tools")} for s in state.mcp.status()]
    return JSONResponse({"tools": listing["tools"], "servers": servers})


async def models(request: Request) -> Response:
    """The model picker's list. The upstream's own answer is trimmed to ids: nothing else of
    it reaches the browser."""
    state = request.app.state
    try:
        listed = await state.catalog.models()
        default = await state.catalog.default_model()
    except UpstreamError as error:
        return JSONResponse({"error": error.to_wire()}, status_code=502)
    ids = [str(m["id"]) for m in listed]
    return JSONResponse({"models": ids, "default": default, "demo": state.settings.demo})


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True, "turns": len(request.app.state.hub)})


def highlight_css() -> str:
    """Pygments colours for both schemes, scoped to code blocks."""
    light = HtmlFormatter(style="default").get_style_defs(".inkstream .codeblock pre")  # type: ignore[no-untyped-call]
    dark = HtmlFormatter(style="monokai").get_style_defs(".inkstream .codeblock pre")  # type: ignore[no-untyped-call]
    return f"{light}\n@media (prefers-color-scheme: dark) {{\n{dark}\n}}\n"


async def stylesheet(request: Request) -> Response:
    css: str = request.app.state.highlight_css
    return PlainTextResponse(css, media_type="text/css", headers={"cache-control": "public, max-age=3600"})
