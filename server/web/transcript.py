"""A stored conversation in the forms it leaves the server: the page's (messages with their
answers rendered once, whole), and the two exports, Markdown and JSON (pure).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..markdown.engine import Markdown
from ..storage.records import Conversation, Message

EXPORT_FORMAT = "inkstream.conversation/1"
STATE_NOTES = {
    "stopped": "stopped before the end",
    "error": "failed",
    "incomplete": "incomplete",
    "streaming": "still streaming when exported",
}


# How many of a conversation's newest messages the page itself carries rendered (the page's
# SHOWN_FIRST in static/transcript.js: those it builds before its first paint).
PAGE_RENDERED = 6


def message_wire(
    message: Message, markdown: Markdown, *, html: bool = True, versions: Sequence[str] = ()
) -> dict[str, Any]:
    """A stored message as the page takes it: an answer comes with its HTML, rendered from
    its whole text by the same renderer the stream uses (raw HTML off, links checked), or,
    ``html=False``, with neither its text nor its HTML but ``html_later``: the page fetches
    both once it has painted. ``versions``: the ids of all versions of it (its siblings and
    itself, oldest first), when it has more than one."""
    wire = message.to_wire()
    if len(versions) > 1:
        wire["versions"] = list(versions)
    if message.role == "assistant":
        if html or message.state == "streaming":
            # Footnote ids as the stream made them (named by the turn), unique on the page.
            env = {"docId": message.turn or message.id}
            wire["html"] = markdown.render(message.text, env) if message.text else ""
        else:
            del wire["text"]
            wire.pop("original", None)  # comes with the text, later
            wire["html_later"] = True
        if message.original is not None:
            wire["edited"] = True
    return wire


def page_boot(
    conversation: Conversation,
    branch: Sequence[Message],
    markdown: Markdown,
    *,
    rendered: int | None = None,
    versions: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The conversation and its messages; of these, answers among the newest ``rendered``
    messages (all, for None) come whole, older ones with ``html_later``. A page opening a long
    conversation waits for all it carries before its first paint: rendering, sending and parsing
    older answers (1.2 MB of HTML for 20 answers of 22 KB) would hold it up, and they are off
    screen above the newest."""
    first = 0 if rendered is None else max(0, len(branch) - rendered)
    return {
        "conversation": conversation.to_wire(),
        "messages": [
            message_wire(m, markdown, html=index >= first, versions=(versions or {}).get(m.id, ()))
            for index, m in enumerate(branch)
        ],
    }


def filename(conversation: Conversation, extension: str) -> str:
    """A download's name: the title's words, safe on every file system."""
    stem = re.sub(r"[^\w\- ]+", "", conversation.title, flags=re.ASCII).strip().replace(" ", "-")
    return f"{(stem or 'conversation')[:60]}.{extension}"


def as_markdown(conversation: Conversation, branch: Sequence[Message]) -> str:
    """The branch on screen as one Markdown document: a heading per message, the answers'
    own markdown as they are, the user's messages as they were typed."""
    lines = [f"# {conversation.title}", "", f"_Exported from Inkstream, {_when(conversation.updated_ms)}._"]
    for message in branch:
        who = "You" if message.role == "user" else "Assistant"
        note = STATE_NOTES.get(message.state)
        heading = f"## {who}"
        if message.role == "assistant" and message.model:
            heading += f" ({message.model})"
        lines += ["", heading, ""]
        lines.append(message.text.rstrip("\n") if message.text else "_(no text)_")
        if note:
            reason = (message.error or {}).get("message")
            lines += ["", f"> _This answer {note}{': ' + reason if reason else ''}._"]
    return "\n".join(lines) + "\n"


def as_json(conversation: Conversation, branch: Sequence[Message]) -> str:
    document = {
        "format": EXPORT_FORMAT,
        "conversation": conversation.to_wire(),
        "messages": [message.to_wire() for message in branch],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _when(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")
