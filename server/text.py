"""Text as it crosses Inkstream: valid Unicode, and short enough to quote back (pure).

JSON escapes can carry UTF-16 surrogates: an emoji escaped as ``"\\ud83d\\ude00"`` and cut
between two chunks arrives as two lone halves, and a lone half cannot be encoded as UTF-8 —
sending one would break the socket. Every string from the upstream or a client goes through
``clean_text`` (or, for a stream of pieces, ``Characters``) before it is stored or sent.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def has_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def clean_text(text: str) -> str:
    """``text`` as valid Unicode: surrogate pairs joined, lone surrogates replaced (U+FFFD)."""
    if not _SURROGATE.search(text):
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class Characters:
    """Pieces of one text (an answer's deltas) -> whole characters: a surrogate pair split
    across two pieces is joined, any other lone surrogate replaced."""

    def __init__(self) -> None:
        self._high = ""  # the first half of a pair, waiting for the second

    def feed(self, piece: str) -> str:
        if self._high:
            piece = self._high + piece
            self._high = ""
        if piece and "\ud800" <= piece[-1] <= "\udbff":
            self._high = piece[-1]
            piece = piece[:-1]
        return clean_text(piece)

    def flush(self) -> str:
        """What is left once no more pieces come: half a pair that never completed."""
        high, self._high = self._high, ""
        return clean_text(high)


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, marked with an ellipsis where cut."""
    return text if len(text) <= limit else text[:limit] + "…"
