"""An answer's HTML as its top-level elements, and what changed between two renders (pure).

An edit of an answer no turn streams re-renders it whole (turns/revisions.py); the page holds
the answer's top-level elements (as the stream left them, or as the stored HTML put them), so
only the elements that differ need to go: the ones between the common start and the common
end of the two lists. The HTML is our own renderer's (text escaped, every element closed), so
a scan of its tags is exact.
"""

from __future__ import annotations

import re

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*>")
_VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"})


def top_elements(html: str) -> list[str]:
    """The top-level elements of ``html``, each with the whitespace that follows it."""
    elements: list[str] = []
    depth = 0
    start = 0
    for match in _TAG.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            depth -= 1
        elif name not in _VOID and not match.group(0).endswith("/>"):
            depth += 1
        if depth == 0:
            end = match.end()
            while end < len(html) and html[end] in " \n\t\r":
                end += 1
            elements.append(html[start:end])
            start = end
    if start < len(html) and html[start:].strip():
        elements.append(html[start:])  # cannot happen with our renderer's HTML; kept whole
    return elements


def changed(old: list[str], new: list[str]) -> tuple[int, int]:
    """How many elements at the start and at the end ``old`` and ``new`` share (never
    overlapping)."""
    most = min(len(old), len(new))
    head = 0
    while head < most and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < most - head and old[len(old) - 1 - tail] == new[len(new) - 1 - tail]:
        tail += 1
    return head, tail
