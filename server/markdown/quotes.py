"""Block quotes: the quoted text streams through a renderer of its own (pure).

A quote's content is a document of its own: each line without its ``>`` marker. Re-parsing
the whole quote on every line would make a long quote cost the square of its length, so an
open quote streams as a container whose content goes, line by line and without the markers, to
a nested renderer: the quote's finished paragraphs, lists and code blocks freeze inside it
and only its live block is parsed again. The nested renderer shares the answer's reference
definitions.

Lines that are not quote lines are rare inside a quote: a blank line ends it; any other line
is a lazy continuation of its last paragraph, or the start of what follows it, which a parse
of the quote decides. When the quote ends, it is rendered once from its source: if that is
what streamed (as it is but in corner cases: tabs after ``>``, a lazy line the nested
renderer reads otherwise), the quote closes as shown, otherwise it is replaced once.
"""

from __future__ import annotations

import re
from typing import Protocol

from .blocks import top_level
from .ops import Op
from .stream import Stream

QUOTE_OPEN = "<blockquote>\n"
QUOTE_CLOSE = "</blockquote>\n"

_MARKER = re.compile(r" {0,3}>")


class Content(Protocol):
    """The renderer of a quote's content: a whole renderer of its own (document.py)."""

    @property
    def blocks(self) -> list[str]: ...

    def feed(self, text: str) -> None: ...

    def update(self) -> list[Op]: ...

    def freeze_all(self) -> list[Op]: ...


class QuoteContainer:
    """An open block quote streams as a container, its content through a nested renderer."""

    cheap = False
    growing = False

    def __init__(self, doc: Stream, content: Content) -> None:
        self.doc = doc
        self.content = content  # renders the quote's content, a document of its own
        self.fed = 0  # characters of the line being typed given to it already

    @classmethod
    def enter(cls, doc: Stream, ops: list[Op], content: Content) -> bool:
        return doc.open(ops, QUOTE_OPEN + QUOTE_CLOSE, None, cls(doc, content))

    def end(self, ops: list[Op]) -> None:
        self._end(ops, self.doc.container_end())

    def step(self, ops: list[Op]) -> bool:
        content = self.content
        tail = self.doc.tail
        pos = 0
        while (newline := tail.find("\n", pos)) >= 0:
            line = tail[pos:newline]
            text = quote_content(line)
            if text is None:
                if not line.strip() or not self._lazy(newline + 1):
                    self.doc.shelve(pos)
                    return self._end(ops, 0)
                text = line  # a lazy continuation line, as it is
            content.feed(text[self.fed :] + "\n")
            self.fed = 0
            pos = newline + 1
        self.doc.shelve(pos)
        # The line being typed goes in as it comes, once it is known to be a quote line.
        text = quote_content(self.doc.tail)
        if text is not None and len(text) > self.fed:
            content.feed(text[self.fed :])
            self.fed = len(text)
        ops.extend(content.update())
        return False

    def _lazy(self, end: int) -> bool:
        """Whether the quote goes on to ``end`` in the tail (its last line is not a quote
        line: a lazy continuation or the start of the next block). Rare: parse and see."""
        source = "".join(self.doc.shelf) + self.doc.tail[:end]
        tokens = self.doc.md.parse_blocks(source, self.doc.scratch_env())
        spans = top_level(tokens)
        return len(spans) == 1 and tokens[0].type == "blockquote_open"

    def _end(self, ops: list[Op], end: int) -> bool:
        """The quote is over (it ends ``end`` characters into the tail)."""
        # At the end of the answer the quote's last lines may not have gone in yet (a lazy
        # line waits for its newline).
        for index, line in enumerate(self.doc.tail[:end].splitlines(keepends=True)):
            body = line.rstrip("\n")
            text = quote_content(body)
            text = body if text is None else text
            self.content.feed(text[self.fed if index == 0 else 0 :] + line[len(body) :])
        ops.extend(self.content.freeze_all())
        source = "".join(self.doc.shelf) + self.doc.tail[:end]
        tokens = self.doc.parse(source, self.doc.env)
        spans = top_level(tokens)
        htmls = [self.doc.render(tokens[s.first : s.last], self.doc.env) for s in spans]
        matched = htmls == [QUOTE_OPEN + "".join(self.content.blocks) + QUOTE_CLOSE]
        if matched:
            ops.append({"op": "close"})
        self.doc.end_container(ops, end, htmls, matched)
        return True


def quote_content(line: str) -> str | None:
    """A quote line without its marker (and the one space after it), as markdown-it reads it;
    None for a line that is not a quote line (or not yet known to be one)."""
    match = _MARKER.match(line)
    if match is None:
        return None
    rest = line[match.end() :]
    if rest.startswith(" "):
        return rest[1:]
    if rest.startswith("\t"):
        # The tab after ">" counts as the spaces up to the next tab stop, one of which is the
        # marker's own.
        return " " * (3 - match.end() % 4) + rest[1:]
    return rest
