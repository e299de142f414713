"""server/tools/library.py: the documentation cut at headings and ranked by BM25."""

from __future__ import annotations

import asyncio
from pathlib import Path

from server.tools.library import SNIPPET, Library, sections, words


def test_finds_the_database_url_section_of_the_real_docs() -> None:
    text = Library().search("DATABASE_URL", limit=1)
    assert text.startswith("docs/configuration.md — Storage and owners\n")
    assert "DATABASE_URL" in text
    assert len(text.split("\n", 1)[1]) <= SNIPPET


def test_snake_case_parts_match_plain_words() -> None:
    assert words("DATABASE_URL now") == ["database_url", "database", "url", "now"]
    assert Library().search("database url", limit=1).startswith("docs/configuration.md — Storage and owners")


def test_sections_split_at_headings_but_not_inside_fences() -> None:
    found = sections("docs/x.md", "intro\n# One\nalpha\n```\n# not a heading\n```\n## Two ##\nbeta\n")
    assert [(s.heading, s.body.strip()) for s in found] == [
        ("docs/x.md", "intro"),
        ("One", "alpha\n```\n# not a heading\n```"),
        ("Two", "beta"),
    ]


def _library(tmp_path: Path) -> Library:
    (tmp_path / "a.md").write_text(
        "# Tools\nThe calculator tool does arithmetic.\n\n# Storage\nSQLite by default.\n", encoding="utf-8"
    )
    (tmp_path / "b.md").write_text(
        "# Logging\nLogs go to stderr. Tools log their failures.\n" + "filler words here\n" * 100,
        encoding="utf-8",
    )
    return Library([("docs/a.md", tmp_path / "a.md"), ("docs/b.md", tmp_path / "b.md")])


def test_ranking_prefers_the_heading_and_the_shorter_section(tmp_path: Path) -> None:
    text = _library(tmp_path).search("tools", limit=3)
    blocks = text.split("\n\n")
    assert blocks[0] == "docs/a.md — Tools\nThe calculator tool does arithmetic."
    assert blocks[1].startswith("docs/b.md — Logging\n")
    assert len(blocks) == 2  # Storage does not mention tools


def test_limit_and_no_match(tmp_path: Path) -> None:
    library = _library(tmp_path)
    assert library.search("tools", limit=1).count(" — ") == 1
    assert library.search("kubernetes") == "Nothing in Inkstream's documentation matches 'kubernetes'."
    assert library.search("!!!").startswith("Nothing")


def test_long_sections_are_cut_to_the_snippet(tmp_path: Path) -> None:
    body = "\n".join(f"line {i} of padding" for i in range(100)) + "\nthe needle is here\n"
    (tmp_path / "c.md").write_text("# Long\n" + body, encoding="utf-8")
    text = Library([("docs/c.md", tmp_path / "c.md")]).search("needle")
    snippet = text.split("\n", 1)[1]
    assert snippet.startswith("…the needle is here")
    assert len(snippet) <= SNIPPET


def test_index_is_built_once(tmp_path: Path) -> None:
    library = _library(tmp_path)
    assert "calculator" in library.search("calculator")
    (tmp_path / "a.md").unlink()  # read already: a second search needs no file
    assert "calculator" in library.search("calculator")


def test_tool_schema_and_call(tmp_path: Path) -> None:
    tool = _library(tmp_path).tool()
    assert tool.name == "search_docs"
    assert tool.source == "builtin"
    assert tool.parameters["required"] == ["query"]
    assert tool.parameters["properties"]["limit"]["maximum"] == 10

    async def call() -> str:
        return await tool.call({"query": "sqlite"})

    assert asyncio.run(call()).startswith("docs/a.md — Storage")
