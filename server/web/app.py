"""``create_app(settings)``: routes, middleware and the lifespan that owns shared clients.
Wiring only."""

from __future__ import annotations

import contextlib
import logging
import os
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
from ..storage.engine import describe
from ..storage.store import Store
from ..tools.mcp import McpServers
from ..tools.toolbox import build as build_tools
from ..turns.history import History
from ..turns.memory import MemoryHub
from ..turns.revisions import Revisions
from ..turns.runner import Turns
from ..turns.stored import StoredHub
from ..upstream.catalog import Catalog
from ..upstream.client import Upstream, create_client
from .assets import asset_dir, module_graph
from .conversations import branch, conversation, export, list_conversations, page
from .headers import SecurityHeaders
from .identity import Identity, Owners, load_secret
from .pages import health, highlight_css, index, models, stylesheet, tools
from .socket import Services, WebSocketEndpoint
from .watchers import Watchers

log = logging.getLogger("inkstream.web")


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = create_client(settings)
        upstream = Upstream(settings, client)
        catalog = Catalog(settings, upstream)
        if settings.database_url is None:
            os.makedirs(settings.data_dir, exist_ok=True)
        identity = Identity(load_secret(settings.secret_key, settings.data_dir), settings.trusted_user_header)
        store = await Store.open(settings.storage_url)
        memory = MemoryHub(
            grace=settings.grace_period,
            retention=settings.turn_retention,
            max_turn_size=settings.max_turn_log_bytes,
        )
        hub = StoredHub(memory, store, interval=settings.save_interval)
        markdown = Markdown()
        registry = build_tools(settings)
        mcp = McpServers(settings.mcp_servers, registry)
        await mcp.start()
        turns = Turns(settings, hub, markdown, upstream, catalog, registry)
        app.state.tools = registry
        app.state.mcp = mcp
        app.state.settings = settings
        app.state.templates = Jinja2Templates(directory=str(asset_dir("templates")))
        app.state.templates.env.globals["page_modules"] = module_graph(asset_dir("static"), "main.js")
        app.state.catalog = catalog
        app.state.hub = hub
        app.state.store = store
        app.state.turns = turns
        app.state.markdown = markdown
        app.state.identity = identity
        history = History(store, turns, settle=hub.settle)
        revisions = Revisions(store, markdown, running=turns.running, settle=hub.settle)
        app.state.services = Services(settings, turns, hub, history, Watchers(), markdown, revisions)
        app.state.highlight_css = highlight_css()
        log.info("storage: %s", describe(settings.storage_url))
        try:
            yield
        finally:
            await turns.aclose()
            await mcp.aclose()
            await hub.aclose()
            await store.close()
            await client.aclose()

    routes = [
        Route("/", index),
        Route("/c/{cid:str}.{kind:str}", export),
        Route("/c/{cid:str}", page),
        Route("/api/conversations", list_conversations),
        Route("/api/conversations/{cid:str}", conversation, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/conversations/{cid:str}/branch", branch, methods=["PUT"]),
        Route("/api/models", models),
        Route("/api/tools", tools),
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
        Middleware(Owners),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
