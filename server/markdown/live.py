"""The live part of an answer on the page, and where plain words typed next go (pure).

Plain words typed at the end of a paragraph, list item or table cell need no parse: the page
appends them to the last text node (the ``tail`` operation). That is right only where the next
render would put them, which ``text_target`` finds in the live HTML: below the block elements
that end it, inside the inline elements healing opened around the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

INERT = re.compile(r"[^\W_]|[ ,;?'\"%!=+$^{}()\-.:/@]")
INERT_RUN = re.compile(r"(?:[^\W_]|[ ,;?'\"%!=+$^{}()\-.:/@])+")
LINKISH = re.compile(r"[.:@/]\S*[^\W_]")
_CLOSE_RUN = re.compile(r"(?:</[a-z0-9]+>\s*)+$")
_CLOSE_TAG = re.compile(r"</([a-z0-9]+)>")


BLOCK_TAGS = frozenset(
    ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "td", "th",
    "tr", "tbody", "thead", "table", "div", "pre", "section")
)  # fmt: skip


# The live part of a streaming paragraph is inline content in one wrapper <span>.
INLINE_ROOT = frozenset({"span"})


@dataclass
class Live:
    """What the page shows as the live part at the current level."""

    html: str = ""
    fast: bool = False  # plain text typed next may be appended as is
    depth: int = 0  # ... into this element: levels below the last live node
    at: int = 0  # ... which is this index in ``html``
    debt: str = ""  # white space the render trimmed off the end, owed to the next append


_LINE_MARKERS = re.compile(
    r"(?:[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t])|#{1,6}(?=[ \t])|\[[ xX]\](?=[ \t])))*"
)


def line_content(line: str) -> str:
    """A line without its block markers (quote, list, heading, task box)."""
    match = _LINE_MARKERS.match(line)
    return line[match.end() :] if match else line


# Closing tags at the end of a live block fit in far fewer characters than this; searching only
# there keeps each plain-word append from scanning the whole paragraph.
_END_WINDOW = 400


def closing_run(body: str) -> re.Match[str] | None:
    return _CLOSE_RUN.search(body, max(0, len(body) - _END_WINDOW))


def text_target(html: str, opened: int, roots: frozenset[str]) -> tuple[int, int] | None:
    """Where text typed next goes: how many elements below the live root (through the block
    elements that end here, then into the inline elements healing opened), and at which index
    of ``html`` that is."""
    body = html.rstrip()
    run = closing_run(body)
    if run is None or not body[: run.start()] or body[: run.start()].endswith(">"):
        return None
    tags = list(_CLOSE_TAG.finditer(body, run.start()))
    blocks = 0
    for tag in reversed(tags):
        if tag.group(1) not in roots:
            break
        blocks += 1
    if blocks == 0 or opened > len(tags) - blocks:
        return None
    depth = blocks - 1 + opened
    # The element at ``depth`` is closed by the (depth+1)-th closing tag counted from the end.
    return depth, tags[len(tags) - 1 - depth].start()
