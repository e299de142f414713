"""Display-only healing of the live block, so that a half-written construct never shows its raw
syntax (pure).

The correct render of ``Use **bo`` is the literal text ``Use **bo``; the user should see
``Use <strong>bo</strong>``. So before the live block (and only it: committed blocks are always
rendered from the raw text) is rendered, its source is rewritten:

* unclosed ``**``, ``__``, ``*``, ``_``, ``~~`` and inline code get their closers, put before
  any trailing white space; an opener with nothing after it yet is held back;
* a partial link shows only its text, a partial image is held back;
* a last line that is still only syntax (``-``, ``1.``, ``>``, ``|--``, a fence opener being
  typed...) is held back, which is also what keeps ``text\\n-`` from flashing as a heading;
* a half-typed HTML tag, entity or trailing backslash is held back;
* a table header gets a delimiter row as soon as it is a header line, so the table appears as
  a table from its first row.

Healing knows about code: nothing inside fences or code spans is touched (streamdown #67,
coder/xum #909: ``$__timeFilter`` must not gain ``__``). The cost is linear in the live block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .cells import cells
from .closers import close_inline
from .fence import Fence

_CONTAINER_PREFIX = re.compile(r"[ \t]*(?:>|(?:[-*+]|\d{1,9}[.)])(?=[ \t]))[ \t]*")
_BLOCK_SYNTAX = re.compile(r"[-*_=+ \t]*|#{1,6}[ \t]*|\d{1,9}[.)]?|\|[ \t|:\-]*|`+|~+|\[[ xX]?\]?[ \t]*")
_HEADER_LINE = re.compile(r"^ {0,3}\|")
_LABEL = r" {0,3}\[(?:[^\]\\]|\\.)+\]:"
_GAP = r"[ \t]*\n?[ \t]*"
_TITLE = r"(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\))"
_TITLE_PART = r"(?:\"(?:[^\"\\]|\\.)*\\?|'(?:[^'\\]|\\.)*\\?|\((?:[^()\\]|\\.)*\\?)"
_DEST = r"(?:<[^<>\n]*>|[^\s<]\S*)"
# A whole reference definition (it may span lines), and what one looks like while typed.
_DEFINITION = re.compile(
    _LABEL + _GAP + _DEST + r"(?:(?:[ \t]+|[ \t]*\n[ \t]*)" + _TITLE + r")?[ \t]*(?:\n|$)"
)
_DEFINITION_PREFIX = re.compile(
    r" {0,3}\[(?:[^\]\\]|\\.)*\\?(?:\](?::" + _GAP + r"(?:<[^<>\n]*>?|[^\s<]\S*)?"
    r"(?:(?:[ \t]+|[ \t]*\n[ \t]*)" + _TITLE_PART + r"?)?)?)?[ \t]*\n?"
)
_LABEL_START = re.compile(r" {0,3}\[")
_FOOTNOTE_DEFINITION = re.compile(r" {0,3}\[\^[^\]\s]*(?:\](?::.*)?)?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Healed:
    text: str
    # Inline elements the added closers wrap around the end (``***x`` -> 2). Text typed next
    # belongs inside the innermost of them.
    opened: int
    # False when something at the end was held back or rewritten: then text typed next does not
    # simply extend what is shown.
    clean_end: bool


def heal(src: str, *, tables: bool = True) -> Healed:
    """The display source for ``src``, a live block (one or two top-level blocks, or a list
    item, or a table row)."""
    lines = src.split("\n")
    partial = lines[-1]
    # Where inline scanning may start: after the last blank line or closed fence.
    scope_line = 0
    fence: Fence | None = None
    for number, line in enumerate(lines):
        if fence is None:
            fence = Fence.opener(line, nested=True)
            if fence is not None:
                if number == len(lines) - 1:
                    # A fence opener still being typed: its info string may change the language.
                    return Healed("\n".join(lines[:-1]), 0, False)
            elif not line.strip() and number < len(lines) - 1:
                scope_line = number + 1
        elif fence.closes(line, nested=True):
            if number == len(lines) - 1:
                # Could still become a longer closer, or plain code: hold it back.
                return Healed("\n".join(lines[:-1]) + "\n", 0, False)
            fence = None
            scope_line = number + 1
    if fence is not None:
        if partial and fence.may_close(partial, nested=True):
            return Healed("\n".join(lines[:-1]) + "\n", 0, False)
        return Healed(src, 0, True)

    clean = True
    if partial and only_block_syntax(partial):
        lines = lines[:-1]
        lines.append("")
        clean = False
    if scope_line >= len(lines):
        return Healed("\n".join(lines), 0, clean)

    scope_lines = lines[scope_line:]
    if _FOOTNOTE_DEFINITION.match(scope_lines[0]):
        # A footnote definition shows only in the footnote section, once the answer is done.
        return Healed("\n".join(lines[:scope_line]) + ("\n" if scope_line else ""), 0, False)
    scope = "\n".join(scope_lines)
    if _LABEL_START.match(scope):
        # Reference definitions show nothing. Complete ones stay (links above resolve through
        # them); one still being typed would show as a paragraph: hold it back.
        pos = 0
        while (match := _DEFINITION.match(scope, pos)) and match.end() > pos:
            pos = match.end()
        rest = scope[pos:]
        if rest and _DEFINITION_PREFIX.fullmatch(rest):
            kept = "\n".join(lines[:scope_line]) + ("\n" if scope_line else "") + scope[:pos]
            return Healed(kept, 0, False)
    head = "\n".join(lines[:scope_line])
    scope = "\n".join(lines[scope_line:])
    body, opened, body_clean = close_inline(scope)
    if tables:
        body = _infer_table(body)
    text = (head + "\n" + body) if scope_line else body
    return Healed(text, opened, clean and body_clean)


def heal_inline(text: str) -> Healed:
    """Healing for inline text alone: the growing end of a paragraph, after a point before which
    nothing is open (``balanced_points``). There is no block syntax there to hold back."""
    body, opened, clean = close_inline(text)
    return Healed(body, opened, clean)


def only_block_syntax(line: str) -> bool:
    """A line still being typed that so far holds only block markers: ``-``, ``1.``, ``> -``,
    ``##``, ``|--``, ``- [x``, a fence or setext underline in the making."""
    pos = 0
    while True:
        match = _CONTAINER_PREFIX.match(line, pos)
        if not match or match.end() == pos:
            break
        pos = match.end()
    return _BLOCK_SYNTAX.fullmatch(line, pos) is not None


def _infer_table(text: str) -> str:
    """``| a | b |`` as the last line gets a delimiter row, so it shows as a table header."""
    lines = text.split("\n")
    last = len(lines) - 1
    while last >= 0 and not lines[last].strip():
        last -= 1
    if last < 0 or not _HEADER_LINE.match(lines[last]):
        return text
    if last > 0 and _HEADER_LINE.match(lines[last - 1]):
        return text  # already inside a table, or a header whose delimiter is being typed
    header = cells(lines[last])
    if not any(header):
        return text
    delimiter = "|" + "|".join(" --- " for _ in header) + "|"
    return "\n".join([*lines[: last + 1], delimiter, *lines[last + 1 :]])
