"""The tools the settings turn on: the built-in ones by name, then the deployer's Python
functions by import path (MCP servers' tools are added later, by mcp.py)."""

from __future__ import annotations

import importlib
import inspect

from ..errors import ConfigError
from ..settings import Settings
from .calculator import calculator
from .clock import convert_time, current_time
from .library import Library
from .registry import Registry, Tool

BUILTIN = ("calculator", "current_time", "convert_time", "search_docs")
CALCULATOR_TIMEOUT = 2.0  # arithmetic that takes longer is abuse, not a sum


def build(settings: Settings, *, library: Library | None = None) -> Registry:
    """A registry of the tools ``settings`` name; ConfigError says which setting is wrong."""
    chosen = _chosen(settings.tools)
    overridden = {name for name, _ in settings.tool_timeouts}
    builtin = {
        "calculator": Tool.of(
            calculator,
            source="builtin",
            timeout=None if "calculator" in overridden else CALCULATOR_TIMEOUT,
        ),
        "current_time": Tool.of(current_time, source="builtin"),
        "convert_time": Tool.of(convert_time, source="builtin"),
        "search_docs": (library or Library()).tool(),
    }
    tools = [builtin[name] for name in BUILTIN if name in chosen]
    tools.extend(python_tool(entry) for entry in settings.python_tools)
    return Registry(tools, timeout=settings.timeout_for)


def _chosen(names: tuple[str, ...]) -> frozenset[str]:
    if "all" in names:
        return frozenset(BUILTIN)
    if "none" in names:
        return frozenset()
    unknown = [name for name in names if name not in BUILTIN]
    if unknown:
        raise ConfigError(
            f"INKSTREAM_TOOLS names no built-in tool {unknown[0]!r}: "
            f"it takes all, none, or some of {', '.join(BUILTIN)}"
        )
    return frozenset(names)


def python_tool(entry: str) -> Tool:
    """The async function ``entry`` ("package.module:function") names, as a tool."""
    module_name, _, attribute = entry.partition(":")
    problem = f"INKSTREAM_PYTHON_TOOLS entry {entry!r}"
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        # Whatever the module raises on import is the deployer's to see, by name.
        raise ConfigError(
            f"{problem}: cannot import {module_name} ({type(error).__name__}: {error})"
        ) from error
    function = getattr(module, attribute, None)
    if function is None:
        raise ConfigError(f"{problem}: {module_name} has no {attribute}")
    if not inspect.iscoroutinefunction(function):
        raise ConfigError(f"{problem}: {attribute} is not an async function (write it as async def)")
    try:
        return Tool.of(function, source="python")
    except Exception as error:
        raise ConfigError(f"{problem}: its parameters cannot be described ({error})") from error
