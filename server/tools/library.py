"""The search_docs tool: Inkstream's own documentation, split at its headings, ranked by BM25.

The markdown is docs/*.md and README.md next to the package in a checkout or editable install,
or docs/*.md under ``<prefix>/share/inkstream/docs`` when installed from a wheel (the same two
places server/web/assets.py looks for the page's files). A ``Library`` reads and indexes it on
its first search, once.
"""

from __future__ import annotations

import math
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field

from .registry import Tool

SNIPPET = 600  # characters of a section shown per hit
K1, B = 1.5, 0.75  # BM25's usual constants

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_WORD = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


def words(text: str) -> list[str]:
    """``text``'s search terms: lower-cased words, and the parts of snake_case ones too (so
    "database url" finds DATABASE_URL)."""
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        terms.append(word)
        if "_" in word:
            terms.extend(word.split("_"))
    return terms


@dataclass(frozen=True, slots=True)
class Section:
    document: str  # as the repository names it: docs/configuration.md
    heading: str
    body: str

    def snippet(self, terms: Iterable[str]) -> str:
        """At most SNIPPET characters of the body, from the line that holds the most of
        ``terms``."""
        text = self.body.strip()
        if len(text) <= SNIPPET:
            return text
        wanted = set(terms)
        lines = text.splitlines()
        best = max(range(len(lines)), key=lambda i: (sum(w in wanted for w in words(lines[i])), -i))
        piece = "\n".join(lines[best:])
        piece = ("…" if best else "") + piece
        return piece if len(piece) <= SNIPPET else piece[: SNIPPET - 1] + "…"


def sections(document: str, text: str) -> list[Section]:
    """``text`` cut at each heading (not those inside code fences); text before the first
    heading is a section named after the document."""
    found: list[Section] = []
    heading, lines, fenced = document, [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match is None:
            lines.append(line)
            continue
        if "\n".join(lines).strip():
            found.append(Section(document, heading, "\n".join(lines)))
        heading, lines = match.group(2), []
    if "\n".join(lines).strip() or heading != document:
        found.append(Section(document, heading, "\n".join(lines)))
    return found


class _Index:
    """BM25 over sections; a heading's words count twice, being what the section is about."""

    def __init__(self, parts: Sequence[Section]) -> None:
        self.sections = parts
        self.counts = [Counter(words(s.heading) * 2 + words(s.body)) for s in parts]
        self.lengths = [sum(c.values()) for c in self.counts]
        self.average = sum(self.lengths) / len(parts) if parts else 0.0
        frequency: Counter[str] = Counter()
        for counts in self.counts:
            frequency.update(counts.keys())
        total = len(parts)
        self.idf = {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}

    def search(self, terms: Sequence[str], limit: int) -> list[Section]:
        scored: list[tuple[float, int]] = []
        for i, counts in enumerate(self.counts):
            score = 0.0
            for term in set(terms):
                tf = counts.get(term, 0)
                if tf:
                    norm = K1 * (1 - B + B * self.lengths[i] / self.average)
                    score += self.idf[term] * tf * (K1 + 1) / (tf + norm)
            if score > 0:
                scored.append((score, i))
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return [self.sections[i] for _, i in scored[:limit]]


def doc_files() -> list[tuple[str, Path]]:
    """The documentation's markdown files, each with the name the repository gives it."""
    root = Path(__file__).resolve().parents[2]
    if (root / "docs").is_dir():
        files = [(f"docs/{path.name}", path) for path in sorted((root / "docs").glob("*.md"))]
        if (root / "README.md").is_file():
            files.append(("README.md", root / "README.md"))
        return files
    shared = Path(sys.prefix) / "share" / "inkstream" / "docs"
    return [(f"docs/{path.name}", path) for path in sorted(shared.glob("*.md"))]


class Library:
    """The documentation, indexed on first use (by one Library: the toolbox keeps one)."""

    def __init__(self, files: Sequence[tuple[str, Path]] | None = None) -> None:
        self._files = files
        self._index: _Index | None = None

    def _indexed(self) -> _Index:
        if self._index is None:
            parts: list[Section] = []
            for name, path in doc_files() if self._files is None else self._files:
                parts.extend(sections(name, path.read_text(encoding="utf-8")))
            self._index = _Index(parts)
        return self._index

    def search(self, query: str, limit: int = 3) -> str:
        terms = words(query)
        hits = self._indexed().search(terms, limit) if terms else []
        if not hits:
            return f"Nothing in Inkstream's documentation matches {query!r}."
        return "\n\n".join(f"{hit.document} — {hit.heading}\n{hit.snippet(terms)}" for hit in hits)

    def tool(self) -> Tool:
        """search_docs over this library."""

        async def search_docs(
            query: Annotated[
                str, Field(description="Words to look for, e.g. 'DATABASE_URL' or 'continue mode'.")
            ],
            limit: Annotated[int, Field(ge=1, le=10, description="How many sections to return.")] = 3,
        ) -> str:
            """Search Inkstream's own documentation (configuration, protocol, architecture,
            README) and return the best matching sections."""
            return self.search(query, limit)

        return Tool.of(search_docs, source="builtin")
