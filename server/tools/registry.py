"""The tools a model may call, from every source, behind one name each (edge: runs them).

Two sources fill it: plain async Python functions (``Tool.of``: the schema is derived from the
type hints by pydantic, the description from the docstring; nothing is written by hand) and MCP
servers (mcp.py adds theirs, and takes them away while a server is down). A turn takes a
``snapshot`` when it starts, so tools appearing or leaving mid-answer never change what one
round offered.

Running a tool never raises into the turn: a tool that raises, times out, is unknown, or gets
arguments that are not JSON or do not validate gives an ``Outcome`` with ``ok`` False, whose
text goes back to the model like any result (it can then correct itself). Only cancellation
(Stop) goes through.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import TypeAdapter, ValidationError

from ..text import clean_text, shorten

log = logging.getLogger("inkstream.tools")

MAX_RESULT = 32 * 1024  # characters of a result the model (and the page) get; the rest is cut
MAX_ERROR = 500  # characters of an exception's message quoted back

Call = Callable[[dict[str, Any]], Awaitable[str]]


class ToolFailure(Exception):
    """A tool's own way of saying it could not do what was asked: its message is the result."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a call gave: ``content`` goes back to the model as the ``tool`` message."""

    ok: bool
    content: str
    ms: float = 0.0


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object
    call: Call = field(repr=False, compare=False)
    source: str = "builtin"  # builtin | python | mcp:<server>
    timeout: float | None = None  # None: the settings' INKSTREAM_TOOL_TIMEOUT

    @classmethod
    def of(
        cls,
        function: Callable[..., Awaitable[Any]],
        *,
        name: str | None = None,
        source: str = "python",
        timeout: float | None = None,
    ) -> Tool:
        """A tool from an async function: its parameters' types (``Annotated[..., Field(
        description=...)]`` describes one) make the schema and validate the arguments, the
        docstring's first paragraph is the description."""
        if not inspect.iscoroutinefunction(function):
            raise TypeError(f"{function.__qualname__} is not an async function")
        adapter: TypeAdapter[Any] = TypeAdapter(cast(Any, function))
        schema = _plain(adapter.json_schema())
        doc = inspect.getdoc(function) or ""
        description = doc.split("\n\n", 1)[0].replace("\n", " ").strip()

        async def call(arguments: dict[str, Any]) -> str:
            result = await adapter.validate_python(arguments)
            return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)

        return cls(name or function.__name__, description, schema, call, source, timeout)

    def spec(self) -> dict[str, Any]:
        """The tool as the chat completions API's ``tools`` list takes it."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


class Registry:
    """Every tool on, by name. A name taken twice keeps the first (the built-ins, then Python
    tools, then MCP servers in the order configured) and logs the second."""

    def __init__(self, tools: Iterable[Tool] = (), *, timeout: Callable[[str], float] | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        self._timeout = timeout or (lambda _name: 30.0)
        self._down: dict[str, str] = {}  # source -> why its tools are missing
        for tool in tools:
            self.add(tool)

    def __len__(self) -> int:
        return len(self._tools)

    def add(self, tool: Tool) -> bool:
        taken = self._tools.get(tool.name)
        if taken is not None:
            log.warning("tool %r of %s is not offered: %s has one of that name", tool.name, tool.source,
                        taken.source)  # fmt: skip
            return False
        self._tools[tool.name] = tool
        return True

    def replace_source(self, source: str, tools: Iterable[Tool]) -> None:
        """The tools of ``source`` are now ``tools`` (an MCP server (re)started)."""
        self._tools = {name: tool for name, tool in self._tools.items() if tool.source != source}
        self._down.pop(source, None)
        for tool in tools:
            self.add(tool)

    def source_down(self, source: str, why: str) -> None:
        """``source``'s tools are gone until it is back (an MCP server died)."""
        self._tools = {name: tool for name, tool in self._tools.items() if tool.source != source}
        self._down[source] = why

    def snapshot(self) -> Registry:
        """The tools as they are now, for one turn."""
        copy = Registry(timeout=self._timeout)
        copy._tools = dict(self._tools)
        copy._down = dict(self._down)
        return copy

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def specs(self) -> list[dict[str, Any]]:
        return [tool.spec() for tool in self._tools.values()]

    def listing(self) -> dict[str, Any]:
        """What the page shows: the tools on, and the sources that are down."""
        return {
            "tools": [
                {"name": t.name, "description": t.description, "source": t.source}
                for t in self._tools.values()
            ],
            "down": [{"source": source, "why": why} for source, why in self._down.items()],
        }

    def timeout_of(self, tool: Tool) -> float:
        return tool.timeout if tool.timeout is not None else self._timeout(tool.name)

    async def run(self, name: str, arguments: str) -> Outcome:
        """Call ``name`` with ``arguments`` (the model's JSON text). Never raises but for
        cancellation."""
        started = time.perf_counter()

        def outcome(ok: bool, content: str) -> Outcome:
            return Outcome(ok, _cut(clean_text(content)), round((time.perf_counter() - started) * 1000, 1))

        tool = self._tools.get(name)
        if tool is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return outcome(False, f"Error: there is no tool named {name!r} (the tools are: {known}).")
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except ValueError as error:
            return outcome(False, f"Error: the arguments are not valid JSON ({error}).")
        if not isinstance(parsed, dict):
            return outcome(False, "Error: the arguments must be a JSON object.")
        seconds = self.timeout_of(tool)
        try:
            async with asyncio.timeout(seconds):
                content = await tool.call(parsed)
        except TimeoutError:
            return outcome(False, f"Error: {name} did not finish within {seconds:g} s and was stopped.")
        except ValidationError as error:
            return outcome(
                False, "Error: the arguments do not fit the tool's parameters: " + _problems(error)
            )
        except ToolFailure as error:
            return outcome(False, f"Error: {shorten(str(error), MAX_ERROR)}")
        except Exception as error:
            # A tool's bug is the tool's: the model is told, the turn goes on, the log has it.
            log.warning("tool %s failed", name, exc_info=True)
            detail = shorten(str(error), MAX_ERROR)
            return outcome(
                False, f"Error: {name} failed: {type(error).__name__}" + (f": {detail}" if detail else "")
            )
        return outcome(True, content)


def _problems(error: ValidationError) -> str:
    parts = []
    for problem in error.errors(include_url=False, include_input=False)[:8]:
        where = ".".join(str(part) for part in problem["loc"]) or "arguments"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts) + "."


def _cut(text: str) -> str:
    if len(text) <= MAX_RESULT:
        return text
    return text[:MAX_RESULT] + f"\n… ({len(text) - MAX_RESULT} more characters cut)"


def _plain(schema: Mapping[str, Any]) -> dict[str, Any]:
    """pydantic's schema without its ``title`` noise (models read every token of it)."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: _plain(sub) if isinstance(sub, dict) else sub for name, sub in value.items()}
        elif isinstance(value, dict):
            out[key] = _plain(value)
        elif isinstance(value, list):
            out[key] = [_plain(item) if isinstance(item, dict) else item for item in value]
        else:
            out[key] = value
    return out
