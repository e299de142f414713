"""server/tools/toolbox.py: the tools the settings turn on."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from server.errors import ConfigError
from server.settings import Settings
from server.tools.toolbox import BUILTIN, CALCULATOR_TIMEOUT, build, python_tool

ROOT = Path(__file__).resolve().parents[3]


def names(settings: Settings) -> list[str]:
    return [tool["name"] for tool in build(settings).listing()["tools"]]


def test_all_is_the_default() -> None:
    assert names(Settings()) == list(BUILTIN)
    assert names(Settings(tools=("all",))) == ["calculator", "current_time", "convert_time", "search_docs"]
    assert all(tool["source"] == "builtin" for tool in build(Settings()).listing()["tools"])


def test_none_and_a_chosen_few() -> None:
    assert names(Settings(tools=("none",))) == []
    assert names(Settings(tools=("search_docs", "calculator"))) == ["calculator", "search_docs"]
    assert names(Settings.from_environ({"INKSTREAM_TOOLS": "current_time, convert_time"})) == [
        "current_time",
        "convert_time",
    ]


def test_unknown_name_names_the_variable_and_the_choices() -> None:
    with pytest.raises(ConfigError, match="INKSTREAM_TOOLS") as caught:
        build(Settings(tools=("calculator", "weather")))
    assert "'weather'" in str(caught.value)
    for name in BUILTIN:
        assert name in str(caught.value)


def test_timeouts() -> None:
    registry = build(Settings(tool_timeout=12.0))
    calculator, clock = registry.get("calculator"), registry.get("current_time")
    assert calculator is not None
    assert clock is not None
    assert registry.timeout_of(calculator) == CALCULATOR_TIMEOUT
    assert registry.timeout_of(clock) == 12.0
    overridden = build(Settings(tool_timeouts=(("calculator", 7.0), ("current_time", 3.0))))
    assert overridden.timeout_of(overridden.get("calculator")) == 7.0  # type: ignore[arg-type]
    assert overridden.timeout_of(overridden.get("current_time")) == 3.0  # type: ignore[arg-type]


def test_builtins_run() -> None:
    registry = build(Settings())
    outcome = asyncio.run(registry.run("calculator", '{"expression": "6 * 7"}'))
    assert outcome.ok
    assert outcome.content == "42"
    outcome = asyncio.run(registry.run("search_docs", '{"query": "DATABASE_URL", "limit": 1}'))
    assert outcome.ok
    assert outcome.content.startswith("docs/configuration.md")


def test_python_tools_load_after_the_builtins() -> None:
    settings = Settings(tools=("calculator",), python_tools=("tests.support.tools:slow_echo",))
    registry = build(settings)
    assert names(settings) == ["calculator", "slow_echo"]
    tool = registry.get("slow_echo")
    assert tool is not None
    assert tool.source == "python"
    assert tool.parameters["required"] == ["text"]
    outcome = asyncio.run(registry.run("slow_echo", '{"text": "hi", "seconds": 0}'))
    assert outcome.ok
    assert outcome.content == "hi"


def test_a_broken_python_tool_fails_its_call_not_the_turn() -> None:
    registry = build(Settings(tools=("none",), python_tools=("tests.support.tools:broken",)))
    outcome = asyncio.run(registry.run("broken", '{"x": 1}'))
    assert not outcome.ok
    assert outcome.content == "Error: broken failed: RuntimeError: broken on purpose"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("tests.support.no_such_module:f", "cannot import tests.support.no_such_module"),
        ("tests.support.tools:missing", "tests.support.tools has no missing"),
        ("tests.support.tools:asyncio", "asyncio is not an async function"),
        ("os.path:join", "join is not an async function"),
    ],
)
def test_python_tool_errors_name_the_variable_and_the_entry(entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build(Settings(python_tools=(entry,)))
    text = str(caught.value)
    assert text.startswith(f"INKSTREAM_PYTHON_TOOLS entry {entry!r}: ")
    assert message in text


def test_a_module_that_raises_on_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "exploding_tools.py").write_text("raise ValueError('boom')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ConfigError, match=r"cannot import exploding_tools \(ValueError: boom\)"):
            python_tool("exploding_tools:f")
    finally:
        sys.modules.pop("exploding_tools", None)
