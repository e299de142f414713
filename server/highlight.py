"""Pygments syntax highlighting, line by line.

The output never lets a ``<span>`` cross a newline, so a block's HTML is the concatenation of
its lines' HTML. That is what lets an open code fence stream: finished lines are highlighted
once and appended, and the one-shot render of the closed block is usually byte-identical to
what was streamed (when it is not, the renderer swaps it once at the close).
"""

from __future__ import annotations

from collections import OrderedDict

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound

# Lines of already-streamed code lexed again before new lines, so that a multi-line string or
# comment started a little earlier colours the new lines right. Bounded, so the cost of a
# batch does not grow with the block.
CONTEXT_LINES = 3

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"})


def escape(text: str) -> str:
    """markdown-it's escapeHtml, so escaped code compares equal to markdown-it's output."""
    return text.translate(_ESCAPES)


# Recently highlighted blocks, so the final render of an answer does not colour again the code
# blocks it just coloured when each block closed. Bounded by total characters.
CACHE_CHARS = 4 * 1024 * 1024
MAX_LEXERS = 256


class Highlighter:
    """Highlights code by language name; one instance per Markdown configuration."""

    def __init__(self) -> None:
        self._lexers: dict[str, Lexer | None] = {}
        self._classes: dict[_TokenType, str] = {}
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._cached_chars = 0

    def lexer(self, lang: str) -> Lexer | None:
        key = lang.lower()
        if key in self._lexers:
            return self._lexers[key]
        try:
            lexer = get_lexer_by_name(key, stripnl=False, stripall=False, ensurenl=False)
        except ClassNotFound:
            lexer = None
        # Model output names the languages: remember a bounded number of them.
        if len(self._lexers) < MAX_LEXERS:
            self._lexers[key] = lexer
        return lexer

    def knows(self, lang: str) -> bool:
        return bool(lang) and self.lexer(lang) is not None

    def block(self, code: str, lang: str) -> str:
        """HTML for a whole code block (markdown-it's ``highlight`` option)."""
        lexer = self.lexer(lang) if lang else None
        if lexer is None:
            return escape(code)
        key = (lang, code)
        html = self._cache.get(key)
        if html is not None:
            self._cache.move_to_end(key)
            return html
        html = "".join(self._format(lexer, code))
        self._cache[key] = html
        self._cached_chars += len(code) + len(html)
        while self._cached_chars > CACHE_CHARS and self._cache:
            (_, old_code), old_html = self._cache.popitem(last=False)
            self._cached_chars -= len(old_code) + len(old_html)
        return html

    def forget(self) -> None:
        """Drop the cache (benchmarks measure cold work)."""
        self._cache.clear()
        self._cached_chars = 0

    def lines(self, context: list[str], new: list[str], lang: str) -> list[str]:
        """HTML for each of ``new`` lines (each given without its newline).

        ``context`` are the lines just before them, lexed only to set the lexer's state.
        """
        lexer = self.lexer(lang) if lang else None
        if lexer is None:
            return [escape(line) for line in new]
        context = context[-CONTEXT_LINES:]
        text = "".join(line + "\n" for line in context + new)
        pieces = self._format(lexer, text)
        # _format ends every line with exactly one "\n" piece, so lines can be counted off.
        out: list[str] = []
        current: list[str] = []
        line_no = 0
        for piece in pieces:
            if piece == "\n":
                if line_no >= len(context):
                    out.append("".join(current))
                current = []
                line_no += 1
            else:
                current.append(piece)
        return out

    def _format(self, lexer: Lexer, code: str) -> list[str]:
        pieces: list[str] = []
        for ttype, value in lexer.get_tokens(code):
            css = self._css_class(ttype)
            parts = value.split("\n")
            for i, part in enumerate(parts):
                if i:
                    pieces.append("\n")
                if part:
                    text = escape(part)
                    pieces.append(f'<span class="{css}">{text}</span>' if css else text)
        return pieces

    def _css_class(self, ttype: _TokenType) -> str:
        css = self._classes.get(ttype)
        if css is None:
            probe = ttype
            while probe not in STANDARD_TYPES and probe.parent is not None:
                probe = probe.parent
            css = STANDARD_TYPES.get(probe, "")
            if css == "w":  # whitespace spans carry no colour
                css = ""
            self._classes[ttype] = css
        return css
