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
import unicodedata
from dataclasses import dataclass

from .cells import cells
from .fence import Fence

_CONTAINER_PREFIX = re.compile(r"[ \t]*(?:>|(?:[-*+]|\d{1,9}[.)])(?=[ \t]))[ \t]*")
_BLOCK_SYNTAX = re.compile(r"[-*_=+ \t]*|#{1,6}[ \t]*|\d{1,9}[.)]?|\|[ \t|:\-]*|`+|~+|\[[ xX]?\]?[ \t]*")
_BLOCK_PREFIX = re.compile(
    r"(?:[ \t]*>)*\s*(?:(?:[-*+]|\d{1,9}[.)])(?:[ \t]+\[[ xX]\])?(?=\s|$)|#{1,6}(?=\s|$))?[ \t]*"
)
_PARTIAL_TAIL = re.compile(r"(?:<[A-Za-z/!?][^<>\n]*|<|&#?[A-Za-z0-9]*|\\)$")
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
    body, opened, body_clean = _heal_inline(scope)
    if tables:
        body = _infer_table(body)
    text = (head + "\n" + body) if scope_line else body
    return Healed(text, opened, clean and body_clean)


def heal_inline(text: str) -> Healed:
    """Healing for inline text alone: the growing end of a paragraph, after a point before which
    nothing is open (``balanced_points``). There is no block syntax there to hold back."""
    body, opened, clean = _heal_inline(text)
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


def _is_space(ch: str) -> bool:
    return ch == "" or ch.isspace()


def _is_punct(ch: str) -> bool:
    return ch != "" and unicodedata.category(ch)[0] in "PS"


@dataclass(slots=True)
class _Delim:
    char: str
    pos: int
    length: int
    run: int = 0  # length of the whole run, for CommonMark's rule of three
    closes: bool = False  # the run could also close
    healable: bool = True  # "2*3" is text: never add a closer for it


def balanced_points(text: str) -> list[int]:
    """Word starts in ``text`` (a paragraph's inline source) before which nothing is open: no
    code span, bracket, link destination or emphasis run that later text could close.

    Splitting a paragraph there and rendering both parts inline gives the paragraph's own
    HTML, so a long paragraph can freeze its beginning while it streams."""
    points: list[int] = []
    _heal_inline(text, points)
    return points


def _heal_inline(text: str, points: list[int] | None = None) -> tuple[str, int, bool]:
    """Close what the last paragraph-like run of ``text`` leaves open."""
    clean = True
    tail = _PARTIAL_TAIL.search(text)
    # Only outside code spans; checked again below once code spans are known.
    openers: list[_Delim] = []
    brackets: list[tuple[int, bool]] = []  # (position of "[", is image)
    dest_start: int | None = None  # position of "](" of a link whose destination is open
    dest_bracket: tuple[int, bool] | None = None
    code: _Delim | None = None
    trailing_run: tuple[int, int] | None = None
    depth = 0  # parentheses open inside a link destination
    last_bracket: tuple[int, int] | None = None  # the last closed "[...]": (start, end)
    n = len(text)
    i = 0
    line_start = True
    while i < n:
        if line_start:
            prefix = _BLOCK_PREFIX.match(text, i)
            line_start = False
            if prefix and prefix.end() > i:
                i = prefix.end()
                continue
        ch = text[i]
        if (
            points is not None
            and text[i - 1] == " "
            and ch != " "
            and code is None
            and dest_start is None
            and not brackets
            and not openers
        ):
            points.append(i)
        if ch == "\n":
            line_start = True
            i += 1
            continue
        if code is not None:
            if ch == "`":
                run = _run(text, i)
                if run == code.length:
                    code = None
                i += run
            else:
                i += 1
            continue
        if dest_start is not None:
            if ch == "\\":
                i += 2
                continue
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0:
                    dest_start = None
                    dest_bracket = None
                else:
                    depth -= 1
            i += 1
            continue
        if ch == "\\":
            i += 2
            continue
        if ch == "`":
            run = _run(text, i)
            code = _Delim("`", i, run)
            i += run
            continue
        if ch == "!" and i + 1 < n and text[i + 1] == "[":
            brackets.append((i, True))
            i += 2
            continue
        if ch == "[":
            brackets.append((i, False))
            i += 1
            continue
        if ch == "]":
            if brackets:
                bracket = brackets.pop()
                last_bracket = (bracket[0], i + 1) if not bracket[1] else (-bracket[0] - 1, i + 1)
                if i + 1 < n and text[i + 1] == "(":
                    dest_start = i
                    dest_bracket = bracket
                    depth = 0
                    i += 2
                    continue
            i += 1
            continue
        if ch in "*_~":
            run = _run(text, i)
            if i + run == n and _undecided(text, i, run, openers):
                # A run at the very end whose meaning depends on what comes next (``foo **``,
                # ``*(**``): showing it would flash raw syntax; hide it until then.
                trailing_run = (i, n)
            else:
                _delimiter(text, i, run, openers)
            i += run
            continue
        i += 1

    removals: list[tuple[int, int]] = []  # [start, end) spans to drop
    closers: list[str] = []
    opened = 0
    end = len(text)
    if code is not None:
        if text[code.pos + code.length :].strip():
            # A closer right after a backtick would merge with it into a longer run.
            pad = " " if text.rstrip().endswith("`") else ""
            closers.append(pad + "`" * code.length)
            opened += 1
        else:
            removals.append((code.pos, end))
            clean = False
        # Delimiters inside the open code span are code, not emphasis.
        openers = [o for o in openers if o.pos < code.pos]
        brackets = [b for b in brackets if b[0] < code.pos]
    elif tail is not None:
        removals.append((tail.start(), end))
        clean = False
    if trailing_run is not None and code is None:
        removals.append(trailing_run)
        openers = [o for o in openers if o.pos < trailing_run[0]]
        clean = False
    if dest_start is not None and dest_bracket is not None:
        start, is_image = dest_bracket
        if is_image:
            removals.append((start, end))
        else:
            removals.append((dest_start, end))
            removals.append((start, start + 1))
        clean = False
    if last_bracket is not None and last_bracket[1] == end and code is None and dest_start is None:
        # "[text]" just typed may be the start of "[text](url)": show the text only, for now.
        start, close = last_bracket
        if start < 0:  # an image: nothing of it shows until its destination does
            removals.append((-start - 1, close))
            clean = False
        elif not text.startswith("[^", start):
            removals.append((start, start + 1))
            removals.append((close - 1, close))
            clean = False
    for start, is_image in brackets:
        if is_image:
            removals.append((start, end))
        else:
            removals.append((start, start + 1))
        clean = False
    cut = min((s for s, e in removals if e == end), default=end)
    emphasis_closers: list[str] = []
    for opener in reversed(openers):
        if opener.pos >= cut or not opener.healable:
            continue
        if _visible(text, opener.pos + opener.length, cut, removals):
            emphasis_closers.append(opener.char * opener.length)
            opened += 2 if opener.length >= 3 else 1
        else:
            removals.append((opener.pos, opener.pos + opener.length))
            clean = False
    closers = emphasis_closers + closers if code is None else closers + emphasis_closers
    healed = _apply(text, removals)
    if closers:
        # Before trailing white space, and before a trailing delimiter run that closes
        # nothing ("*foo bar *"): a closer glued to it would make a different run.
        at = len(healed.rstrip())
        if code is None:
            while at > 0 and (healed[at - 1] in "*_~" or healed[at - 1].isspace()):
                at -= 1
        before = healed[:at]
        if code is None and (len(before) - len(before.rstrip("\\"))) % 2:
            before += "\\"  # a lone backslash would escape the closer: make it a literal one
        healed = before + "".join(closers) + healed[at:]
    return healed, opened, clean


def _visible(text: str, start: int, end: int, removals: list[tuple[int, int]]) -> bool:
    """Whether ``text[start:end]`` keeps any non-space character after ``removals``."""
    return any(not text[k].isspace() and not any(s <= k < e for s, e in removals) for k in range(start, end))


def _run(text: str, i: int) -> int:
    j = i
    ch = text[i]
    while j < len(text) and text[j] == ch:
        j += 1
    return j - i


def _undecided(text: str, i: int, run: int, openers: list[_Delim]) -> bool:
    """A delimiter run ending the text is settled only when it follows a letter and exactly
    closes the nearest open run of its kind (``**bold**``); otherwise the next character
    decides (``foo **``, ``*(**``, ``**bold*`` on its way to ``**``)."""
    ch = text[i]
    before = text[i - 1] if i > 0 else ""
    if ch == "~" and run != 2:
        return run == 1
    if not before or _is_space(before) or _is_punct(before):
        return True
    nearest = next((o for o in reversed(openers) if o.char == ch), None)
    return nearest is None or nearest.length != run


def _delimiter(text: str, i: int, run: int, openers: list[_Delim]) -> None:
    """CommonMark's flanking rules, enough to know what is still open at the end."""
    ch = text[i]
    if ch == "~" and run != 2:
        return
    before = text[i - 1] if i > 0 else ""
    after = text[i + run] if i + run < len(text) else ""
    left = not _is_space(after) and (not _is_punct(after) or _is_space(before) or _is_punct(before))
    right = not _is_space(before) and (not _is_punct(before) or _is_space(after) or _is_punct(after))
    if ch == "_":
        can_open = left and (not right or _is_punct(before))
        can_close = right and (not left or _is_punct(after))
    else:
        can_open, can_close = left, right
    remaining = run
    if can_close:
        k = len(openers) - 1
        while k >= 0 and remaining:
            opener = openers[k]
            if opener.char != ch or (
                (can_open or opener.closes)
                and (opener.run + run) % 3 == 0
                and not (opener.run % 3 == 0 and run % 3 == 0)
            ):
                k -= 1
                continue
            used = 2 if opener.length >= 2 and remaining >= 2 else 1
            opener.length -= used
            remaining -= used
            # Openers between a matched pair can no longer close anything (CommonMark drops them).
            del openers[k + 1 :]
            if opener.length == 0:
                del openers[k]
                k -= 1
    if remaining and can_open:
        # Intraword: "snake_case" and "2*3" are text, but "这是**重要**的" is bold.
        intraword = before.isalnum() and after.isalnum()
        openers.append(
            _Delim(
                ch,
                i + run - remaining,
                remaining,
                run,
                can_close,
                healable=not intraword or (ch == "*" and remaining >= 2),
            )
        )


def _apply(text: str, removals: list[tuple[int, int]]) -> str:
    if not removals:
        return text
    keep = []
    pos = 0
    for start, end in sorted(removals):
        if start > pos:
            keep.append(text[pos:start])
        pos = max(pos, end)
    keep.append(text[pos:])
    return "".join(keep)


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
