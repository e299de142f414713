"""The demo model asked to continue an answer (pure): where its script goes on from.

A request that ends with an assistant message asks for that message's continuation (assistant
prefill), as does one whose last user message asks, in words, to continue the assistant
message before it exactly (what Inkstream sends an upstream configured for it). The demo
continues its scripted answer from the point where the given text leaves the script, so a
Continue after an edit visibly follows the edit:

* the text is the script's beginning (a stopped answer): the rest of the script;
* the text ends as the script does somewhere further on (an edit in the middle, the model's
  words after it): the script from there;
* the text ends with words of the user's own: the script from where the text left it, past
  the word it left it in, or the word in place of which the user's last one stands.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import accumulate

# "Continue your previous answer exactly from where it stops" and its like.
_ASKED = re.compile(r"^\s*continue\b[^\n]{0,200}?\bexactly\b", re.IGNORECASE)
RESYNC = 24  # characters of the text's end looked for further on in the script


def given_text(texts: Sequence[tuple[str, str]]) -> str | None:
    """The text to continue, if the request (its messages' roles and texts) asks for one."""
    if not texts:
        return None
    role, text = texts[-1]
    if role == "assistant":
        return text
    if role == "user" and len(texts) >= 2 and texts[-2][0] == "assistant" and _ASKED.match(text):
        return texts[-2][1]
    return None


def rest_of(script: str, given: str) -> str:
    """What the demo sends to continue ``given``, an answer it gave (maybe edited) from
    ``script``."""
    same = 0
    limit = min(len(script), len(given))
    while same < limit and script[same] == given[same]:
        same += 1
    if same == len(given):
        return script[same:]
    end = given.rstrip()[-RESYNC:]
    if len(end) == RESYNC:
        found = script.find(end, same)
        if found >= 0:
            return script[found + len(end) :]
    at = same
    inside = 0 < at < len(script) and _word(script[at - 1]) and _word(script[at])
    if inside or _word(given[-1]):
        # The user's words end inside a word of the script's, or a word of their own stands
        # where the script had one: that word of the script's is theirs now.
        while at < len(script) and _word(script[at]):
            at += 1
    return script[at:]


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def rest_chunks(chunks: Sequence[str], given: str) -> tuple[str, ...]:
    """The script's chunks (as it streams them) that continue ``given``, the first one cut
    where the continuation starts."""
    whole = "".join(chunks)
    at = len(whole) - len(rest_of(whole, given))
    ends = list(accumulate(len(chunk) for chunk in chunks))
    index = next((i for i, end in enumerate(ends) if end > at), len(chunks))
    if index == len(chunks):
        return ()
    start = ends[index] - len(chunks[index])
    return (chunks[index][at - start :], *chunks[index + 1 :])
