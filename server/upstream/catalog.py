"""The upstream's models, fetched from ``/models`` and kept for a while (edge)."""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import UpstreamProtocolError
from ..settings import Settings
from .client import Upstream


class Catalog:
    def __init__(self, settings: Settings, upstream: Upstream) -> None:
        self._settings = settings
        self._upstream = upstream
        self._models: list[dict[str, Any]] | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def models(self) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        async with self._lock:
            fresh = loop.time() - self._fetched_at < self._settings.models_cache_seconds
            if self._models is None or not fresh:
                self._models = await self._upstream.models()
                self._fetched_at = loop.time()
            return self._models

    async def default_model(self) -> str:
        """``INKSTREAM_MODEL``, else the first model the upstream lists."""
        if self._settings.model:
            return self._settings.model
        models = await self.models()
        if not models:
            raise UpstreamProtocolError("The upstream lists no models; set INKSTREAM_MODEL.")
        return str(models[0]["id"])
