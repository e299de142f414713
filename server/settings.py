"""Every setting Inkstream has, read once from the environment into a frozen object.

This is the only module that reads ``os.environ``, and only in ``Settings.from_environ``:
``Settings(...)`` is exactly what it is given (tests build their own). Each field's default is
written once, here; its variable is ``INKSTREAM_`` + its name in capitals unless it says
otherwise. docs/configuration.md describes each variable; keep the two in step.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource
from pydantic_settings import SettingsConfigDict as Config

from .errors import ConfigError

DEMO_PATH = "/demo/v1"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
PREFIX = "INKSTREAM_"

# Numbers: finite, never negative; rates and timeouts that must be greater than 0 say so.
Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=1)]
Level = Literal["critical", "error", "warning", "info", "debug", "trace"]
# How an upstream is asked to continue an answer (turns/continuation.py says what each sends).
ContinueMode = Literal["assistant", "continue_final_message", "user"]


_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,39}")


def is_url(target: str) -> bool:
    """An MCP server's target names a URL (streamable HTTP), not a command (stdio)."""
    return target.startswith(("http://", "https://"))


def _pairs(value: str, shape: str, accept: Callable[[str], Any]) -> tuple[tuple[str, Any], ...]:
    """Comma-separated ``name=value`` pairs; ``accept`` gives what a value means, or None when
    it means nothing (then the error says ``shape``)."""
    pairs = []
    for item in value.split(","):
        if not item.strip():
            continue
        name, equals, given = (part.strip() for part in item.partition("="))
        kept = accept(given) if equals and name else None
        if kept is None:
            raise ValueError(f"{shape} got {item.strip()!r}")
        pairs.append((name, kept))
    return tuple(pairs)


def _seconds(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if 0 < number < float("inf") else None


def _named(variable: str) -> Any:
    """A field read from ``variable`` rather than from INKSTREAM_ + its own name."""
    return AliasChoices(variable)


class Settings(BaseSettings):
    model_config = Config(frozen=True, env_prefix=PREFIX, validate_by_name=True)

    # Upstream: the OpenAI SDK's own variable names, so an existing setup just works.
    openai_base_url: str | None = Field(None, validation_alias=_named("OPENAI_BASE_URL"))
    openai_api_key: str | None = Field(None, validation_alias=_named("OPENAI_API_KEY"), repr=False)
    model: str | None = None

    # Where this server can reach itself over HTTP; the demo model is called through it
    # exactly like any upstream. Filled in by the CLI (or a test) once the socket is bound.
    self_url: str = "http://127.0.0.1:8000"

    # Origins allowed to open /ws besides the page's own origin.
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # Host names this server answers to (DNS rebinding); empty: loopback names when bound to a
    # loopback address, any otherwise. The CLI fills in bind_host.
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    bind_host: str = "127.0.0.1"

    # Upstream client.
    connect_timeout: Positive = 10.0
    idle_timeout: Positive = 60.0  # no bytes from the upstream for this long ends the turn
    max_upstream_connections: Count = 2000
    models_cache_seconds: Seconds = 60.0
    # Continue: how the upstream is asked to go on from an answer's text, and per model
    # (INKSTREAM_CONTINUE_MODELS="gpt-4o=user,qwen3=continue_final_message").
    continue_mode: ContinueMode = Field("assistant", validation_alias=_named(PREFIX + "CONTINUE"))
    continue_models: Annotated[tuple[tuple[str, ContinueMode], ...], NoDecode] = ()

    # Tools (server/tools): the built-in ones on ("all", "none", or their names), Python
    # functions named by import path ("package.module:function"), MCP servers (a command line
    # for stdio or an http(s) URL for streamable HTTP, ";"-separated, each maybe "name=" first).
    tools: Annotated[tuple[str, ...], NoDecode] = ("all",)
    python_tools: Annotated[tuple[str, ...], NoDecode] = ()
    mcp_servers: Annotated[tuple[tuple[str, str], ...], NoDecode] = ()
    tool_timeout: Positive = 30.0  # seconds a tool may run before its call fails
    tool_timeouts: Annotated[tuple[tuple[str, float], ...], NoDecode] = ()  # per tool name
    max_tool_rounds: Count = 8  # rounds of tool calls one answer may take

    # Turns.
    # An unwatched turn is cancelled after this; 0: never (a disconnect is never a stop: the
    # answer is stored, and the page finds it when it comes back).
    grace_period: Seconds = 0.0
    turn_retention: Seconds = 300.0  # a finished turn's log stays replayable this long
    max_turn_log_bytes: Count = 64 * 1024 * 1024
    max_fps: Positive = 30.0  # frames per second per turn, after the first
    burst_frames: Count = 4  # frames a turn may send back to back before max_fps applies
    render_interval_ms: Seconds = 50.0  # text that needs a parse is rendered at most this often

    # WebSocket limits (uvicorn queues incoming frames without bound: we enforce these).
    max_frame_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
    client_frames_per_second: Positive = Field(20.0, validation_alias=_named(PREFIX + "CLIENT_RATE"))
    client_burst: Count = 40
    flood_strikes: Annotated[int, Field(ge=0)] = 50  # refused frames tolerated before a close
    send_timeout: Positive = 15.0  # a socket that cannot take a frame for this long is dropped
    max_turns_per_socket: Count = 8

    # Demo model pacing.
    demo_ttft_ms: Seconds = 350.0
    demo_tokens_per_second: Positive = 60.0

    # Storage: SQLite in data_dir unless DATABASE_URL names another database.
    data_dir: str = "./data"
    database_url: str | None = Field(None, validation_alias=_named("DATABASE_URL"), repr=False)
    save_interval_ms: Positive = 1000.0  # a streaming answer is written at most this often
    # Identity: the signing key of the owner cookie (generated into data_dir when unset), and
    # the header an authenticating reverse proxy names the user in (off unless set).
    secret_key: str | None = Field(None, repr=False)
    trusted_user_header: str | None = None

    log_level: Level = "info"

    # Set by the CLI or a test, never read from the environment.
    _NOT_FROM_ENVIRONMENT: ClassVar[frozenset[str]] = frozenset({"self_url", "bind_host"})

    def __init__(self, **values: Any) -> None:
        # Keyword-only: BaseSettings' own positional parameters are source options.
        super().__init__(**values)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @classmethod
    def variables(cls) -> dict[str, str]:
        """Field name -> the environment variable it is read from."""
        names = {}
        for name, field in cls.model_fields.items():
            if name in cls._NOT_FROM_ENVIRONMENT:
                continue
            alias = field.validation_alias
            names[name] = alias.choices[0] if isinstance(alias, AliasChoices) else PREFIX + name.upper()
        return names  # type: ignore[return-value]

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment (``os.environ`` unless given) asks for. A malformed
        value is a ``ConfigError`` naming its variable; blank values count as unset."""
        env = os.environ if environ is None else environ
        known = set(cls.variables().values())
        given = {name: env[name].strip() for name in known if name in env and env[name].strip()}
        values = _Environment(cls, given)()
        try:
            return cls(**values)
        except ValidationError as error:
            raise _config_error(error, given) from None

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated like the original."""
        return type(self)(**{**self.model_dump(), **changes})

    # ------------------------------------------------------------------ derived

    @property
    def demo(self) -> bool:
        return self.openai_base_url is None

    @property
    def upstream_base_url(self) -> str:
        if self.openai_base_url is not None:
            return self.openai_base_url.rstrip("/")
        return self.self_url.rstrip("/") + DEMO_PATH

    @property
    def render_interval(self) -> float:
        return self.render_interval_ms / 1000.0

    @property
    def save_interval(self) -> float:
        return self.save_interval_ms / 1000.0

    @property
    def storage_url(self) -> str:
        """The SQLAlchemy URL of the database: DATABASE_URL, else SQLite in data_dir."""
        if self.database_url is not None:
            return self.database_url
        return "sqlite+aiosqlite:///" + os.path.join(os.path.abspath(self.data_dir), "inkstream.db")

    @property
    def demo_ttft(self) -> float:
        return self.demo_ttft_ms / 1000.0

    def with_self_url(self, host: str, port: int) -> Settings:
        # A wildcard bind address is not something to connect to.
        reach = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        if ":" in reach and not reach.startswith("["):
            reach = f"[{reach}]"
        return self.replace(self_url=f"http://{reach}:{port}", bind_host=host)

    def trusted_hosts(self) -> tuple[str, ...]:
        """Host names requests may carry. On loopback only local names: a page on another
        site that rebinds its DNS name to 127.0.0.1 then still cannot talk to this server."""
        if self.allowed_hosts:
            return self.allowed_hosts
        if self.bind_host in LOOPBACK:
            return ("localhost", "127.0.0.1", "[::1]")
        return ("*",)

    # ------------------------------------------------------------------ what values look like

    @field_validator("openai_base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http(s) URL such as http://host:port/v1, got {value!r}")
        return value.rstrip("/")

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        result = []
        for item in value.split(","):
            item = item.strip().rstrip("/")
            if not item:
                continue
            parts = urlsplit(item)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ValueError(f"takes comma-separated origins like https://app.example.com, got {item!r}")
            result.append(f"{parts.scheme}://{parts.netloc}".lower())
        return tuple(result)

    @field_validator("continue_models", mode="before")
    @classmethod
    def _continue_models(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        modes = ("assistant", "continue_final_message", "user")
        return _pairs(
            value,
            "takes comma-separated model=mode pairs, the mode one of assistant, "
            "continue_final_message, user;",
            lambda mode: mode if mode in modes else None,
        )

    @field_validator("tools", "python_tools", mode="before")
    @classmethod
    def _names(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return tuple(item.strip() for item in value.split(",") if item.strip())

    @field_validator("python_tools")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            module, colon, name = item.partition(":")
            if not colon or not _DOTTED.fullmatch(module) or not name.isidentifier():
                raise ValueError(f"takes comma-separated package.module:function paths, got {item!r}")
        return value

    @field_validator("mcp_servers", mode="before")
    @classmethod
    def _mcp(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        servers: list[tuple[str, str]] = []
        for item in value.split(";"):
            item = item.strip()
            if not item:
                continue
            name, equals, rest = item.partition("=")
            if equals and _NAME.fullmatch(name.strip()) and rest.strip():
                name, target = name.strip(), rest.strip()
            else:
                target = item
                name = urlsplit(target).hostname or "" if is_url(target) else target.split()[0]
                name = re.sub(r"[^A-Za-z0-9_-]+", "_", name.rsplit("/", 1)[-1]).strip("_") or "mcp"
            if any(name == taken for taken, _ in servers):
                raise ValueError(f"names two MCP servers {name!r}; put name= before one of them")
            servers.append((name, target))
        return tuple(servers)

    @field_validator("tool_timeouts", mode="before")
    @classmethod
    def _timeouts(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return _pairs(value, "takes comma-separated tool=seconds pairs,", _seconds)

    def timeout_for(self, tool: str) -> float:
        """How long ``tool`` may run before its call fails."""
        return next((seconds for name, seconds in self.tool_timeouts if name == tool), self.tool_timeout)

    def continue_mode_for(self, model: str) -> ContinueMode:
        """How ``model`` is asked to continue an answer."""
        return next((mode for name, mode in self.continue_models if name == model), self.continue_mode)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        hosts = []
        for item in value.split(","):
            host = item.strip().lower()
            if not host:
                continue
            if host != "*" and not _HOST.fullmatch(host):
                raise ValueError(
                    f"takes comma-separated host names like app.example.com or *.example.com, got {host!r}"
                )
            hosts.append(host)
        return tuple(hosts)

    @field_validator("database_url")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split("://", 1)[0] if "://" in value else ""
        # The plain names the rest of the world uses mean the async drivers this server runs on.
        aliases = {
            "postgres": "postgresql+asyncpg",
            "postgresql": "postgresql+asyncpg",
            "sqlite": "sqlite+aiosqlite",
        }
        scheme = aliases.get(scheme, scheme)
        if scheme not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
            raise ValueError(
                "must be a postgresql:// (or postgresql+asyncpg://) or sqlite+aiosqlite:// URL, "
                f"got one starting {value.split(':', 1)[0]!r}"
            )
        return scheme + "://" + value.split("://", 1)[1]

    @field_validator("trusted_user_header")
    @classmethod
    def _header(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise ValueError(f"must be a header name such as X-Forwarded-User, got {value!r}")
        return value.lower()

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


_HOST = re.compile(r"(?:\*\.)?[a-z0-9.\-]+|\[[0-9a-f:.]+\]")


class _Environment(EnvSettingsSource):
    """pydantic-settings' environment source over a given mapping rather than os.environ
    (``_load_env_vars`` is the hook its dotenv source overrides the same way)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Matched as pydantic-settings matches os.environ, without regard to case (from_environ
        # has already kept only the variables Inkstream knows, in capitals).
        return {name.lower(): value for name, value in self._given.items()}


def _config_error(error: ValidationError, given: Mapping[str, str]) -> ConfigError:
    """The first problem, naming its variable and quoting the value as it was read."""
    variables = Settings.variables()
    by_alias = {variable: variable for variable in variables.values()}
    problem = error.errors()[0]
    key = str(problem["loc"][0]) if problem["loc"] else ""
    variable = variables.get(key) or by_alias.get(key) or key
    if problem["type"] == "value_error":
        return ConfigError(f"{variable} {problem['msg'].removeprefix('Value error, ')}")
    message = str(problem["msg"])
    message = message[:1].lower() + message[1:]
    return ConfigError(f"{variable}: {message}, got {given.get(variable, '')!r}")
