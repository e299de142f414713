"""Pygments syntax highlighting, line by line.

The output never lets a ``<span>`` cross a newline, so a block's HTML is the concatenation of
its lines' HTML. That is what lets an open code fence stream: finished lines are highlighted
once and appended, and the one-shot render of the closed block is usually byte-identical to
what was streamed (when it is not, the renderer swaps it once at the close).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pygments.lexer import ExtendedRegexLexer, Lexer, RegexLexer
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES, Error, Token, Whitespace
from pygments.util import ClassNotFound

if TYPE_CHECKING:
    # The class of Pygments' token types (Token.Name, ...): Pygments and its stubs name it
    # only privately; at run time it is simply the type of Token.
    from pygments.token import _TokenType as TokenType
else:
    TokenType = type(Token)

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


# Growing code blocks remembered for live_block(), the most recently grown first to stay; their
# HTML is a few times their size.
GROWING_CHARS = 1024 * 1024


@dataclass
class _Growing:
    code: str  # whole lines, each with its newline
    stack: tuple[str, ...] | None  # where the lexer stopped after them
    lines: list[str]  # their HTML


class Highlighter:
    """Highlights code by language name; one instance per Markdown configuration."""

    def __init__(self) -> None:
        self._lexers: dict[str, Lexer | None] = {}
        self._classes: dict[TokenType, str] = {}
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._cached_chars = 0
        self._growing: OrderedDict[tuple[str, str], _Growing] = OrderedDict()  # see live_block()
        self._growing_chars = 0
        self.lexed_chars = 0  # the cost model of highlighting: characters lexed, all told

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

    def live_block(self, code: str, lang: str) -> str:
        """HTML for a code block that is still growing inside a live block (a list item
        being typed re-renders it on every line): lines highlighted for a shorter version of
        the same block are kept, and only the new ones are lexed, from where the lexer
        stopped. Usually what block() gives; where it is not (a construct across lines that
        the lexer reads otherwise whole), the block is highlighted whole once it freezes."""
        lexer = self.lexer(lang) if lang else None
        if lexer is None or not (isinstance(lexer, RegexLexer) and _resumable(lexer)):
            return self.block(code, lang)
        # Answers stream side by side through one Highlighter: a block is known by its
        # language and first line.
        key = (lang, code[: code.find("\n") + 1 or len(code)])
        known = self._growing.pop(key, None)
        if known is not None:
            self._growing_chars -= len(known.code)
        if known is not None and code.startswith(known.code):
            done, stack, htmls = known.code, known.stack, known.lines
        else:
            done, stack, htmls = "", None, []
        end = code.rfind("\n") + 1
        if end > len(done):
            new, stack = self.lines([], code[len(done) : end - 1].split("\n"), lang, stack)
            htmls = htmls + new
            done = code[:end]
        if done:
            self._growing[key] = _Growing(done, stack, htmls)
            self._growing_chars += len(done)
            while self._growing_chars > GROWING_CHARS and self._growing:
                _, old = self._growing.popitem(last=False)
                self._growing_chars -= len(old.code)
        html = "".join(line + "\n" for line in htmls)
        if end < len(code):
            html += self.lines([], [code[end:]], lang, stack)[0][0]
        return html

    def forget(self) -> None:
        """Drop the cache (benchmarks measure cold work)."""
        self._cache.clear()
        self._cached_chars = 0

    def lines(
        self, context: list[str], new: list[str], lang: str, stack: tuple[str, ...] | None
    ) -> tuple[list[str], tuple[str, ...] | None]:
        """HTML for each of ``new`` lines (each given without its newline), and where the
        lexer stopped.

        Most lexers are RegexLexers: those resume from ``stack``, the state the previous
        lines ended in (None: the start). Others re-lex ``context``, the lines just before,
        to get into the right state. Either way the block is highlighted once more, whole,
        when it closes."""
        lexer = self.lexer(lang) if lang else None
        if lexer is None:
            return [escape(line) for line in new], None
        if isinstance(lexer, RegexLexer) and _resumable(lexer):
            text = "".join(line + "\n" for line in new)
            tokens, stack = _lex_resuming(lexer, text, stack or ("root",))
            skip = 0
        else:
            context = context[-CONTEXT_LINES:]
            text = "".join(line + "\n" for line in context + new)
            tokens = [(ttype, value) for _, ttype, value in lexer.get_tokens_unprocessed(text)]
            skip = len(context)
        self.lexed_chars += len(text)
        pieces = self._pieces(tokens)
        # _pieces ends every line with exactly one "\n" piece, so lines can be counted off.
        out: list[str] = []
        current: list[str] = []
        line_no = 0
        for piece in pieces:
            if piece == "\n":
                if line_no >= skip:
                    out.append("".join(current))
                current = []
                line_no += 1
            else:
                current.append(piece)
        return out, stack

    def _format(self, lexer: Lexer, code: str) -> list[str]:
        self.lexed_chars += len(code)
        # get_tokens_unprocessed: get_tokens() only adds a generator that filters nothing (no
        # filters are set) and normalises what markdown-it has normalised already.
        return self._pieces((ttype, value) for _, ttype, value in lexer.get_tokens_unprocessed(code))

    def _pieces(self, tokens: Iterable[tuple[TokenType, str]]) -> list[str]:
        pieces: list[str] = []
        for ttype, value in tokens:
            css = self._css_class(ttype)
            parts = value.split("\n")
            for i, part in enumerate(parts):
                if i:
                    pieces.append("\n")
                if part:
                    text = escape(part)
                    pieces.append(f'<span class="{css}">{text}</span>' if css else text)
        return pieces

    def _css_class(self, ttype: TokenType) -> str:
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


def _resumable(lexer: Lexer) -> bool:
    """A RegexLexer that lexes the plain way (not an ExtendedRegexLexer, no override)."""
    return (
        isinstance(lexer, RegexLexer)
        and not isinstance(lexer, ExtendedRegexLexer)
        and type(lexer).get_tokens_unprocessed is RegexLexer.get_tokens_unprocessed
    )


def _lex_resuming(
    lexer: RegexLexer, text: str, stack: tuple[str, ...]
) -> tuple[list[tuple[TokenType, str]], tuple[str, ...]]:
    """``RegexLexer.get_tokens_unprocessed`` (Pygments 2), which also hands back the state stack
    it ended in: the next lines of an open code block are lexed from there, with no earlier
    line lexed again."""
    tokens: list[tuple[TokenType, str]] = []
    pos = 0
    # Pygments has no public way to learn the state a RegexLexer ended in (its
    # get_tokens_unprocessed takes a starting stack but never hands the last one back), so this
    # loop is RegexLexer's own, reading the compiled rule table RegexLexerMeta keeps in
    # ``_tokens`` (built when the class is first instantiated). Pinned Pygments; the
    # highlighting tests compare the result with a whole-block lex.
    tokendefs = lexer._tokens  # type: ignore[attr-defined]
    statestack = list(stack)
    statetokens = tokendefs[statestack[-1]]
    while True:
        for rexmatch, action, new_state in statetokens:
            m = rexmatch(text, pos)
            if m:
                if action is not None:
                    if type(action) is TokenType:
                        tokens.append((action, m.group()))
                    else:
                        tokens.extend((ttype, value) for _, ttype, value in action(lexer, m))
                pos = m.end()
                if new_state is not None:
                    if isinstance(new_state, tuple):
                        for state in new_state:
                            if state == "#pop":
                                if len(statestack) > 1:
                                    statestack.pop()
                            elif state == "#push":
                                statestack.append(statestack[-1])
                            else:
                                statestack.append(state)
                    elif isinstance(new_state, int):
                        if abs(new_state) >= len(statestack):
                            del statestack[1:]
                        else:
                            del statestack[new_state:]
                    elif new_state == "#push":
                        statestack.append(statestack[-1])
                    statetokens = tokendefs[statestack[-1]]
                break
        else:
            if pos >= len(text):
                break
            if text[pos] == "\n":
                statestack = ["root"]
                statetokens = tokendefs["root"]
                tokens.append((Whitespace, "\n"))
            else:
                tokens.append((Error, text[pos]))
            pos += 1
    return tokens, tuple(statestack)
