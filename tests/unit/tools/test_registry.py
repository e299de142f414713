"""server/tools/registry.py: Tool.of's schema, and Registry.run never raising into a turn."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
from pydantic import Field

from server.tools.registry import MAX_RESULT, Outcome, Registry, Tool, ToolFailure


async def greet(
    name: Annotated[str, Field(description="Who to greet.")],
    times: int = 1,
    loud: bool = False,
) -> str:
    """Say hello.

    This second paragraph is not part of the description."""
    text = " ".join([f"hello {name}"] * times)
    return text.upper() if loud else text


async def refuse(reason: str) -> str:
    """Always refuses."""
    raise ToolFailure(f"cannot: {reason}")


async def crash() -> str:
    """Always has a bug."""
    raise RuntimeError("oops")


async def huge(size: int) -> str:
    """A long result."""
    return "x" * size


async def structured() -> dict[str, Any]:
    """A result that is not text."""
    return {"a": 1, "b": ["é"]}


async def sleepy() -> str:
    """Sleeps too long."""
    await asyncio.sleep(10)
    return "never"


def registry() -> Registry:
    tools = [Tool.of(f) for f in (greet, refuse, crash, huge, structured)]
    tools.append(Tool.of(sleepy, timeout=0.05))
    return Registry(tools)


def run(name: str, arguments: str) -> Outcome:
    return asyncio.run(registry().run(name, arguments))


def _keys(value: object) -> set[str]:
    """The schema keywords used anywhere in ``value`` (property names are not keywords)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, sub in value.items():
            found.add(key)
            subs = list(sub.values()) if key == "properties" and isinstance(sub, dict) else [sub]
            for item in subs:
                found |= _keys(item)
    elif isinstance(value, list):
        for item in value:
            found |= _keys(item)
    return found


def test_schema_from_type_hints() -> None:
    tool = Tool.of(greet)
    assert tool.name == "greet"
    assert tool.description == "Say hello."
    assert tool.source == "python"
    assert tool.parameters["type"] == "object"
    assert tool.parameters["required"] == ["name"]
    assert tool.parameters["properties"]["name"] == {"type": "string", "description": "Who to greet."}
    assert tool.parameters["properties"]["times"] == {"type": "integer", "default": 1}
    assert "title" not in _keys(tool.parameters)
    assert tool.spec()["function"]["parameters"] is tool.parameters


def test_schema_keeps_a_parameter_named_title() -> None:
    async def book(title: str) -> str:
        """Find a book."""
        return title

    tool = Tool.of(book)
    assert tool.parameters["required"] == ["title"]
    assert tool.parameters["properties"]["title"] == {"type": "string"}


def test_of_refuses_a_plain_function() -> None:
    def plain() -> str:
        return ""

    with pytest.raises(TypeError, match="not an async function"):
        Tool.of(plain)  # type: ignore[arg-type]


def test_success() -> None:
    outcome = run("greet", '{"name": "Ada", "times": 2, "loud": true}')
    assert outcome == Outcome(True, "HELLO ADA HELLO ADA", outcome.ms)
    assert outcome.ms >= 0
    assert run("structured", "").content == '{"a": 1, "b": ["é"]}'


def test_unknown_tool_lists_the_known() -> None:
    outcome = run("weather", "{}")
    assert not outcome.ok
    assert outcome.content.startswith("Error: there is no tool named 'weather' (the tools are: crash, greet")
    assert Registry().snapshot().get("x") is None
    assert "(the tools are: none)" in asyncio.run(Registry().run("x", "{}")).content


def test_invalid_json() -> None:
    outcome = run("greet", '{"name": ')
    assert not outcome.ok
    assert outcome.content.startswith("Error: the arguments are not valid JSON")


def test_json_that_is_not_an_object() -> None:
    for arguments in ('["Ada"]', '"Ada"', "3", "null"):
        outcome = run("greet", arguments)
        assert not outcome.ok
        assert outcome.content == "Error: the arguments must be a JSON object."


def test_validation_error_names_the_field() -> None:
    outcome = run("greet", '{"name": "Ada", "times": "many"}')
    assert not outcome.ok
    assert outcome.content.startswith("Error: the arguments do not fit the tool's parameters: times: ")
    missing = run("greet", "{}")
    assert not missing.ok
    assert "name: " in missing.content


def test_tool_failure_is_its_message() -> None:
    outcome = run("refuse", '{"reason": "no"}')
    assert outcome == Outcome(False, "Error: cannot: no", outcome.ms)


def test_a_raising_tool_is_reported_not_raised() -> None:
    outcome = run("crash", "{}")
    assert not outcome.ok
    assert outcome.content == "Error: crash failed: RuntimeError: oops"


def test_timeout() -> None:
    outcome = run("sleepy", "{}")
    assert not outcome.ok
    assert outcome.content == "Error: sleepy did not finish within 0.05 s and was stopped."
    assert outcome.ms < 5000


def test_registry_timeout_applies_when_the_tool_has_none() -> None:
    registry = Registry([Tool.of(sleepy)], timeout=lambda name: 0.02 if name == "sleepy" else 30.0)
    outcome = asyncio.run(registry.run("sleepy", ""))
    assert "within 0.02 s" in outcome.content


def test_result_is_cut_at_max_result() -> None:
    whole = run("huge", f'{{"size": {MAX_RESULT}}}')
    assert whole.ok
    assert whole.content == "x" * MAX_RESULT
    cut = run("huge", f'{{"size": {MAX_RESULT + 10}}}')
    assert cut.ok
    assert cut.content == "x" * MAX_RESULT + "\n… (10 more characters cut)"


def test_first_name_wins_and_sources_come_and_go() -> None:
    registry = Registry([Tool.of(greet, source="builtin")])
    assert not registry.add(Tool.of(greet, source="python"))
    assert registry.get("greet").source == "builtin"  # type: ignore[union-attr]
    registry.replace_source("mcp:x", [Tool.of(crash, source="mcp:x")])
    snapshot = registry.snapshot()
    registry.source_down("mcp:x", "exited")
    assert registry.get("crash") is None
    assert snapshot.get("crash") is not None
    assert registry.listing()["down"] == [{"source": "mcp:x", "why": "exited"}]
    assert len(registry) == 1
