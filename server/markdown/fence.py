"""Fenced code blocks in the source: which line opens one, which closes it, and the language
its info string names (pure). The one place the renderer, healing and the code container
ask."""

from __future__ import annotations

import re
from dataclasses import dataclass

# CommonMark: up to three spaces, then three or more backticks or tildes. Inside a list item
# the item's content may be indented further: those lines are matched "nested", with any
# indentation (healing sees an item's lines with their indentation still on).
_OPENER = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
_NESTED_OPENER = re.compile(r"(\s*)(`{3,}|~{3,})(.*)")


def code_language(info: str) -> str:
    """The language a fence's info string names: its first word (``python {.x}`` -> python)."""
    words = info.split(maxsplit=1)
    return words[0] if words else ""


@dataclass(frozen=True, slots=True)
class Fence:
    char: str  # "`" or "~"
    length: int  # of the opening run: a closing run must be at least as long
    indent: int  # spaces before the opener, taken off each content line
    info: str

    @classmethod
    def opener(cls, line: str, *, nested: bool = False) -> Fence | None:
        """The fence ``line`` opens, or None. A backtick fence's info string may not hold a
        backtick (then the line is inline code, not a fence)."""
        match = (_NESTED_OPENER if nested else _OPENER).fullmatch(line)
        if match is None:
            return None
        marker, info = match.group(2), match.group(3)
        if marker[0] == "`" and "`" in info:
            return None
        return cls(marker[0], len(marker), len(match.group(1)), info.strip())

    @property
    def lang(self) -> str:
        return code_language(self.info)

    def closes(self, line: str, *, nested: bool = False) -> bool:
        """Whether ``line`` (complete) is this fence's closing line."""
        stripped = line.strip()
        return (
            len(stripped) >= self.length
            and set(stripped) == {self.char}
            and (nested or len(line) - len(line.lstrip(" ")) <= 3)
        )

    def may_close(self, partial: str, *, nested: bool = False) -> bool:
        """Whether ``partial``, a line still being typed, may yet turn out to close the fence
        (a run of the fence's character, however short so far): never show it as code."""
        stripped = partial.strip()
        return (
            bool(stripped)
            and set(stripped) == {self.char}
            and (nested or len(partial) - len(partial.lstrip(" ")) <= 3)
        )

    def content(self, line: str) -> str:
        """A content line with the opener's indentation taken off, as CommonMark does."""
        remove = 0
        while remove < self.indent and remove < len(line) and line[remove] == " ":
            remove += 1
        return line[remove:]
