"""Every setting Inkstream has, read once from the environment into a frozen object.

This is the only module that reads ``os.environ``. docs/configuration.md describes each
variable; keep the two in step.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import ConfigError

DEMO_PATH = "/demo/v1"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclass(frozen=True, kw_only=True)
class Settings:
    # Upstream: the OpenAI SDK's own variable names, so an existing setup just works.
    openai_base_url: str | None = None
    openai_api_key: str | None = dataclasses.field(default=None, repr=False)
    model: str | None = None

    # Where this server can reach itself over HTTP; the demo model is called through it
    # exactly like any upstream. Filled in by the CLI (or a test) once the socket is bound.
    self_url: str = "http://127.0.0.1:8000"

    # Origins allowed to open /ws besides the page's own origin.
    allowed_origins: tuple[str, ...] = ()
    # Host names this server answers to (DNS rebinding); empty: loopback names when bound to a
    # loopback address, any otherwise. The CLI fills in bind_host.
    allowed_hosts: tuple[str, ...] = ()
    bind_host: str = "127.0.0.1"

    # Upstream client.
    connect_timeout: float = 10.0
    idle_timeout: float = 60.0  # no bytes from the upstream for this long ends the turn
    max_upstream_connections: int = 2000
    models_cache_seconds: float = 60.0

    # Turns.
    grace_period: float = 30.0  # an unwatched turn is cancelled after this
    turn_retention: float = 300.0  # a finished turn's log stays replayable this long
    max_turn_log_bytes: int = 64 * 1024 * 1024
    max_fps: float = 30.0  # frames per second per turn, after the first
    burst_frames: int = 4  # frames a turn may send back to back before max_fps applies
    render_interval: float = 0.05  # text that needs a parse is rendered at most this often

    # WebSocket limits (uvicorn queues incoming frames without bound: we enforce these).
    max_frame_bytes: int = 1024 * 1024
    client_frames_per_second: float = 20.0
    client_burst: int = 40
    flood_strikes: int = 50  # rate-limited frames tolerated before the socket is closed
    send_timeout: float = 15.0  # a socket that cannot take a frame for this long is dropped
    max_turns_per_socket: int = 8

    # Demo model pacing.
    demo_ttft: float = 0.35
    demo_tokens_per_second: float = 60.0

    log_level: str = "info"

    @property
    def demo(self) -> bool:
        return self.openai_base_url is None

    @property
    def upstream_base_url(self) -> str:
        if self.openai_base_url is not None:
            return self.openai_base_url.rstrip("/")
        return self.self_url.rstrip("/") + DEMO_PATH

    def with_self_url(self, host: str, port: int) -> Settings:
        # A wildcard bind address is not something to connect to.
        reach = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        if ":" in reach and not reach.startswith("["):
            reach = f"[{reach}]"
        return dataclasses.replace(self, self_url=f"http://{reach}:{port}", bind_host=host)

    def trusted_hosts(self) -> tuple[str, ...]:
        """Host names requests may carry. On loopback only local names: a page on another
        site that rebinds its DNS name to 127.0.0.1 then still cannot talk to this server."""
        if self.allowed_hosts:
            return self.allowed_hosts
        if self.bind_host in LOOPBACK:
            return ("localhost", "127.0.0.1", "[::1]")
        return ("*",)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        reader = _Reader(env)
        base_url = reader.url("OPENAI_BASE_URL")
        return cls(
            openai_base_url=base_url,
            openai_api_key=reader.text("OPENAI_API_KEY"),
            model=reader.text("INKSTREAM_MODEL"),
            allowed_origins=reader.origins("INKSTREAM_ALLOWED_ORIGINS"),
            allowed_hosts=reader.hosts("INKSTREAM_ALLOWED_HOSTS"),
            connect_timeout=reader.number("INKSTREAM_CONNECT_TIMEOUT", 10.0, positive=True),
            idle_timeout=reader.number("INKSTREAM_IDLE_TIMEOUT", 60.0, positive=True),
            max_upstream_connections=reader.integer("INKSTREAM_MAX_UPSTREAM_CONNECTIONS", 2000),
            models_cache_seconds=reader.number("INKSTREAM_MODELS_CACHE_SECONDS", 60.0),
            grace_period=reader.number("INKSTREAM_GRACE_PERIOD", 30.0),
            turn_retention=reader.number("INKSTREAM_TURN_RETENTION", 300.0),
            max_turn_log_bytes=reader.integer("INKSTREAM_MAX_TURN_LOG_BYTES", 64 * 1024 * 1024),
            max_fps=reader.number("INKSTREAM_MAX_FPS", 30.0, positive=True),
            burst_frames=reader.integer("INKSTREAM_BURST_FRAMES", 4),
            render_interval=reader.number("INKSTREAM_RENDER_INTERVAL_MS", 50.0) / 1000.0,
            max_frame_bytes=reader.integer("INKSTREAM_MAX_FRAME_BYTES", 1024 * 1024, minimum=1024),
            client_frames_per_second=reader.number("INKSTREAM_CLIENT_RATE", 20.0, positive=True),
            client_burst=reader.integer("INKSTREAM_CLIENT_BURST", 40),
            flood_strikes=reader.integer("INKSTREAM_FLOOD_STRIKES", 50, minimum=0),
            send_timeout=reader.number("INKSTREAM_SEND_TIMEOUT", 15.0, positive=True),
            max_turns_per_socket=reader.integer("INKSTREAM_MAX_TURNS_PER_SOCKET", 8),
            demo_ttft=reader.number("INKSTREAM_DEMO_TTFT_MS", 350.0) / 1000.0,
            demo_tokens_per_second=reader.number("INKSTREAM_DEMO_TOKENS_PER_SECOND", 60.0, positive=True),
            log_level=reader.level("INKSTREAM_LOG_LEVEL"),
        )


_HOST = re.compile(r"(?:\*\.)?[a-z0-9.\-]+|\[[0-9a-f:.]+\]")


class _Reader:
    """Parses environment values, naming the variable in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def number(self, name: str, default: float, *, positive: bool = False) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a number, got {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{name} must be a finite number ≥ 0, got {raw!r}")
        if positive and value == 0:
            raise ConfigError(f"{name} must be greater than 0, got {raw!r}")
        return value

    def integer(self, name: str, default: int, *, minimum: int = 1) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
        return value

    def level(self, name: str) -> str:
        raw = (self.text(name) or "info").lower()
        if raw not in ("critical", "error", "warning", "info", "debug", "trace"):
            raise ConfigError(f"{name} must be one of debug, info, warning, error, critical; got {raw!r}")
        return raw

    def hosts(self, name: str) -> tuple[str, ...]:
        raw = self.text(name)
        if raw is None:
            return ()
        hosts = []
        for item in raw.split(","):
            host = item.strip().lower()
            if not host:
                continue
            if host != "*" and not _HOST.fullmatch(host):
                raise ConfigError(
                    f"{name} takes comma-separated host names like app.example.com or "
                    f"*.example.com, got {host!r}"
                )
            hosts.append(host)
        return tuple(hosts)

    def url(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        parts = urlsplit(raw)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{name} must be an http(s) URL such as http://host:port/v1, got {raw!r}")
        return raw.rstrip("/")

    def origins(self, name: str) -> tuple[str, ...]:
        raw = self.text(name)
        if raw is None:
            return ()
        result = []
        for item in raw.split(","):
            item = item.strip().rstrip("/")
            if not item:
                continue
            parts = urlsplit(item)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ConfigError(
                    f"{name} takes comma-separated origins like https://app.example.com, got {item!r}"
                )
            result.append(f"{parts.scheme}://{parts.netloc}".lower())
        return tuple(result)
