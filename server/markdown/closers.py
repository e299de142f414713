"""The closers an unfinished inline run needs to show as what it is becoming (pure): emphasis
(``**``, ``__``, ``*``, ``_``, ``~~``) by CommonMark's delimiter rules, inline code, partial
links and images, a half-typed tag or entity; and the points in a paragraph before which nothing
is open. heal.py applies this to the live block, after its block-level healing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

_BLOCK_PREFIX = re.compile(
    r"(?:[ \t]*>)*\s*(?:(?:[-*+]|\d{1,9}[.)])(?:[ \t]+\[[ xX]\])?(?=\s|$)|#{1,6}(?=\s|$))?[ \t]*"
)
_PARTIAL_TAIL = re.compile(r"(?:<[A-Za-z/!?][^<>\n]*|<|&#?[A-Za-z0-9]*|\\)$")


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
    close_inline(text, points)
    return points


def close_inline(text: str, points: list[int] | None = None) -> tuple[str, int, bool]:
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
    closed_at = -1  # where the last delimiter run that closed something ends
    # The openers as they were at each open "[": a link's text pairs its delimiters only among
    # themselves, so once it is a link, what is open outside is what was open before it.
    outside: list[list[_Delim]] = []
    dest_openers: list[_Delim] = []
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
                    # A link: what is open outside it is what was open before its "[".
                    openers = dest_openers
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
            outside.append([replace(o) for o in openers])
            i += 2
            continue
        if ch == "[":
            brackets.append((i, False))
            outside.append([replace(o) for o in openers])
            i += 1
            continue
        if ch == "]":
            if brackets:
                bracket = brackets.pop()
                before_bracket = outside.pop()
                last_bracket = (bracket[0], i + 1) if not bracket[1] else (-bracket[0] - 1, i + 1)
                if i + 1 < n and text[i + 1] == "(":
                    dest_start = i
                    dest_bracket = bracket
                    dest_openers = before_bracket
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
            elif _delimiter(text, i, run, openers):
                closed_at = i + run
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
        # A trailing run that closed something stays glued to what it closed.
        closes = 0 < closed_at <= cut and not _visible(text, closed_at, end, removals)
        if code is None and not closes:
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
    if ch == "_" and before.isalnum():
        return True  # "a_" may become "a_b", which closes nothing
    nearest = next((o for o in reversed(openers) if o.char == ch), None)
    return nearest is None or nearest.length != run


def _delimiter(text: str, i: int, run: int, openers: list[_Delim]) -> bool:
    """CommonMark's flanking rules, enough to know what is still open at the end. Whether the
    run closed something."""
    ch = text[i]
    if ch == "~" and run != 2:
        return False
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
    return remaining < run


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
