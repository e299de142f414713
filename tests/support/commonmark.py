"""The CommonMark spec examples (tests/data/commonmark-spec-0.31.2.txt)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SPEC = Path(__file__).resolve().parent.parent / "data" / "commonmark-spec-0.31.2.txt"


@dataclass(frozen=True)
class Example:
    number: int
    section: str
    markdown: str


def examples() -> list[Example]:
    """Extracted the way the npm package's index.js does; "→" stands for a tab."""
    text = SPEC.read_text(encoding="utf-8").replace("\r\n", "\n")
    text = re.sub(r"^<!-- END TESTS -->(.|\n)*", "", text, flags=re.M)
    found = []
    section = ""
    pattern = re.compile(r"^`{32} example\n([\s\S]*?)^\.\n([\s\S]*?)^`{32}$|^#{1,6} *(.*)$", re.M)
    for match in pattern.finditer(text):
        if match.group(3) is not None:
            section = match.group(3)
        else:
            found.append(Example(len(found) + 1, section, match.group(1).replace("→", "\t")))
    return found
