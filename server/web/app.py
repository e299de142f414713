"""``create_app(settings)``: routes, middleware and the lifespan that owns shared clients.
Wiring only."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from ..demo import create_demo_app
from ..markdown.engine import Markdown
from ..settings import DEMO_PATH, Settings
from ..turns.memory import MemoryHub
from ..turns.runner import Turns
from ..upstream.catalog import Catalog
from ..upstream.client import Upstream, create_client
from .assets import asset_dir
from .headers import SecurityHeaders
from .pages import health, highlight_css, index, models, stylesheet
from .socket import WebSocketEndpoint


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = create_client(settings)
        upstream = Upstream(settings, client)
        catalog = Catalog(settings, upstream)
        hub = MemoryHub(
            grace=settings.grace_period,
            retention=settings.turn_retention,
            max_turn_size=settings.max_turn_log_bytes,
        )
        turns = Turns(settings, hub, Markdown(), upstream, catalog)
        app.state.settings = settings
        app.state.templates = Jinja2Templates(directory=str(asset_dir("templates")))
        app.state.catalog = catalog
        app.state.hub = hub
        app.state.turns = turns
        app.state.highlight_css = highlight_css()
        try:
            yield
        finally:
            await turns.aclose()
            await hub.aclose()
            await client.aclose()

    routes = [
        Route("/", index),
        Route("/api/models", models),
        Route("/healthz", health),
        Route("/assets/highlight.css", stylesheet),
        WebSocketRoute("/ws", WebSocketEndpoint()),
        Mount("/static", app=StaticFiles(directory=str(asset_dir("static"))), name="static"),
    ]
    if settings.demo:
        demo = create_demo_app(ttft=settings.demo_ttft, tokens_per_second=settings.demo_tokens_per_second)
        routes.append(Mount(DEMO_PATH.removesuffix("/v1"), app=demo))
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.trusted_hosts()), www_redirect=False),
        Middleware(SecurityHeaders),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
