"""What every part of the streaming renderer shares: its state, the live part of the page and
how it changes, the growing end of a live block, and what containers have in common (pure).

document.py describes the whole; paragraphs.py, lists.py, tables.py, fences.py and quotes.py
are the containers: objects the document holds while their kind of block is live, each given
the document's Stream to work on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from markdown_it.token import Token

from .blocks import Lines, Span, top_level
from .closers import balanced_points
from .engine import Markdown
from .heal import Healed, heal_inline
from .highlight import escape
from .live import BLOCK_TAGS, INERT, INERT_RUN, INLINE_ROOT, LINKISH, Live, line_content, text_target
from .ops import Op

PARAGRAPH_KEEP = 16  # characters left live after a freeze


class Container(Protocol):
    """A live block that streams as a container (a list, a table, an open code block, a long
    paragraph, a block quote): its finished parts freeze inside it while it is live."""

    # The next update costs next to nothing whatever the text (code being typed).
    cheap: bool

    @property
    def growing(self) -> bool:
        """Its live part is a block whose last line is being typed, and nothing else (a line
        ending may then be held, see StreamRenderer.update)."""
        ...

    def step(self, ops: list[Op]) -> bool:
        """Take in what the tail holds now; True once the container has ended (or given way)
        and what is left of the tail must be looked at again."""
        ...

    def end(self, ops: list[Op]) -> None:
        """No more text comes: end the container where it ends."""


@dataclass
class RenderStats:
    updates: int = 0
    parses: int = 0
    parsed_chars: int = 0  # the cost model: stays linear in the answer's length
    fast_appends: int = 0
    frozen_blocks: int = 0
    live_swaps: int = 0
    rewrites: int = 0  # a container replaced when it ended (list turned loose, odd table)
    highlighted_lines: int = 0
    reconciled: int = 0  # blocks the final one-shot render replaced or added
    reused: int = 0  # blocks the final render could take as frozen (same source, no "[")


MARK = "\x00inkstream:inline\x00"  # no source holds a NUL (feed() replaces it)
_UNKNOWN = "\x00"  # the source of a frozen block the final render must render again


@dataclass
class Growth:
    """A live block whose last line is paragraph text: text arriving without a newline only
    grows the content of its last inline."""

    before: str  # the block's HTML before that inline's content
    after: str  # ... and after it
    head: str  # the inline's content before the source's last line (earlier lines)
    cut: int  # where in the source's last line the content starts (after ">", "- ", indent)
    frozen: int = 0  # characters of the content rendered once and kept
    frozen_html: str = ""


class Stream:
    """State and plumbing every part of the streaming renderer shares: the document is one
    (document.py), and each container works on it."""

    def __init__(self, markdown: Markdown, *, doc_id: str | None = None, fast_path: bool = True) -> None:
        self.md = markdown
        self.fast_path = fast_path
        self.doc_id = doc_id
        self.env: dict[str, Any] = self.fresh_env()
        self.pending: list[str] = []
        self._cr = False
        self.tail = ""
        # Source of the open container's frozen children, kept out of the tail so an update
        # costs what its live part costs, not what the whole list, table or code block does.
        self.shelf: list[str] = []
        self.committed: list[str] = []
        # How many frozen blocks there are once each committed segment is in (an edit finds
        # the blocks of the text it changed by them: revision.py).
        self.marks: list[int] = []
        # An edit made or unmade a reference definition: blocks frozen before it may be wrong.
        self.redefined = False
        self.frozen: list[str] = []
        # Each frozen block's source, so the final render can skip blocks that cannot differ.
        self.sources: list[str] = []
        self.live = Live()
        self.container: Container | None = None
        self.finished = False
        self.new_line = False
        self.held_line = False  # update() left a line ending for the next update
        self.known: dict[str, list[Token]] = {}  # inline content parsed already
        self._plain_checked: tuple[str, bool] | None = None
        self._not_plain = False
        # The live block is one paragraph or heading whose last line holds a letter: text
        # without a newline cannot change block structure, so only the live block is parsed.
        self.simple = False
        self.simple_kind = ""
        # The live block's last inline, re-rendered from its growing end (see Growth).
        self.growth: Growth | None = None
        self.stats = RenderStats()

    @property
    def cheap(self) -> bool:
        """Whether the next ``update()`` costs next to nothing (plain words, or code being
        typed), so a caller pacing renders need not wait for it."""
        if not self.pending:
            return True
        if self.container is not None and self.container.cheap:
            return True
        if self._not_plain:
            return False
        if len(self.pending) > 1:
            self.pending[:] = ["".join(self.pending)]
        checked = self._plain_checked
        if checked is not None and checked[0] is self.pending[0]:
            return checked[1]  # asked again before anything new arrived
        # Remembered for the update() that usually follows at once.
        self._plain_checked = (self.pending[0], self._plain(self.pending[0]))
        # Text that is not plain stays so as more arrives (a newline, a markup character or
        # a link-like word cannot go away): no need to look again until update() takes it.
        self._not_plain = not self._plain_checked[1]
        return self._plain_checked[1]

    def inline(self, text: str) -> str:
        """Inline HTML of paragraph text (its footnote tail, if any, left out)."""
        self.stats.parses += 1
        self.stats.parsed_chars += len(text)
        return self.md.render_inline(text, self.scratch_env())

    def parse(self, src: str, env: dict[str, Any]) -> list[Token]:
        self.stats.parses += 1
        self.stats.parsed_chars += len(src)
        return self.md.parse_reusing(src, env, self.known)

    def render(self, tokens: list[Token], env: dict[str, Any], *, live: bool = False) -> str:
        return self.md.render_tokens(tokens, env, live=live)

    def fresh_env(self) -> dict[str, Any]:
        env: dict[str, Any] = {"references": {}}
        if self.doc_id is not None:
            env["docId"] = self.doc_id
        return env

    def scratch_env(self) -> dict[str, Any]:
        """A copy of the committed env a live parse may scribble on."""
        env = dict(self.env)
        env["references"] = dict(self.env.get("references", {}))
        notes = self.env.get("footnotes")
        if isinstance(notes, dict):
            env["footnotes"] = {
                key: (
                    {k: dict(v) if isinstance(v, dict) else v for k, v in value.items()}
                    if isinstance(value, dict)
                    else value
                )
                for key, value in notes.items()
            }
        return env

    def show(
        self,
        ops: list[Op],
        html: str,
        *,
        healed: Healed | None = None,
        fast: bool = False,
        inline: bool = False,
    ) -> None:
        if html != self.live.html:
            ops.append({"op": "live", "html": html})
            self.stats.live_swaps += 1
        live = Live(html)
        if fast and healed is not None and healed.clean_end:
            last_line = line_content(healed.text.rsplit("\n", 1)[-1])
            target = text_target(html, healed.opened, INLINE_ROOT if inline else BLOCK_TAGS)
            # A heading's closing "#"s are dropped by the render: "## Fix #" + " 42" is not
            # "Fix" + " 42". Block markers are not content: "- [x] --" + "-" is a rule.
            if target is not None and has_letter(last_line) and not last_line.rstrip().endswith("#"):
                live.fast = True
                live.depth, live.at = target
                # A block render trims trailing white space. An inline one keeps it, but outside
                # the elements healing closed around the end, where the next words go.
                trailing = healed.text[len(healed.text.rstrip(" \t")) :]
                live.debt = trailing if (not inline or healed.opened) else ""
        self.live = live

    def _plain(self, new: str) -> bool:
        """Whether ``new`` can take the fast path: plain words at the end of a paragraph,
        list item or table cell, which need no parse."""
        live = self.live
        if not self.fast_path or not live.fast or "\n" in new or not INERT_RUN.fullmatch(new):
            return False
        tail = self.tail
        if not tail or not INERT.fullmatch(tail[-1]):
            return False
        word_start = max(tail.rfind(" "), tail.rfind("\n"), tail.rfind("\t")) + 1
        # Might be turning into a linkified URL or e-mail address.
        return not any(LINKISH.search(word) for word in (tail[word_start:] + new).split())

    def _append_plain(self, new: str, ops: list[Op]) -> bool:
        checked = self._plain_checked
        self._plain_checked = None
        plain = checked[1] if checked is not None and checked[0] is new else self._plain(new)
        if not plain:
            return False
        live = self.live
        text = live.debt + new
        ops.append({"op": "tail", "text": text, "depth": live.depth})
        escaped = escape(text)
        live.html = live.html[: live.at] + escaped + live.html[live.at :]
        live.at += len(escaped)
        live.debt = ""
        self.tail += new
        self.stats.fast_appends += 1
        return True

    def freeze_or_append(self, ops: list[Op], htmls: list[str]) -> None:
        if len(htmls) == 1 and self.live.html and htmls[0] == self.live.html:
            # The page already shows exactly this: keep its nodes (and any selection in them).
            ops.append({"op": "freeze"})
        else:
            if self.live.html:
                ops.append({"op": "live", "html": ""})
            ops.append({"op": "append", "blocks": htmls})
        self.live = Live()

    def growth_of(
        self, tokens: list[Token], first: int, last: int, source: str, env: dict[str, Any]
    ) -> Growth | None:
        """The live block ``tokens[first:last]`` (parsed from ``source``) as a Growth, if it
        ends with paragraph text on the source's last line."""
        index = last - 1
        while index > first and tokens[index].nesting < 0:
            index -= 1
        inline = tokens[index]
        if inline.type != "inline" or index == first or tokens[index - 1].type != "paragraph_open":
            return None
        line = source.rsplit("\n", 1)[-1].rstrip()
        content = inline.content
        last_line = content.rsplit("\n", 1)[-1]
        if not last_line or not line.endswith(last_line) or content.lstrip()[:1] in ("|", "["):
            return None
        children = inline.children
        inline.children = [Token("text", "", 0, content=MARK)]
        try:
            parts = self.render(tokens[first:last], env, live=True).split(MARK)
        finally:
            inline.children = children
        if len(parts) != 2:
            return None
        return Growth(
            parts[0], parts[1], content[: len(content) - len(last_line)], len(line) - len(last_line)
        )

    def grow(self, growth: Growth, source: str) -> tuple[str, Healed]:
        """The live block's HTML after its last line grew to the end of ``source``: the
        inline's beginning up to a word before which nothing is open is rendered once and kept
        (as a long paragraph's is), only the rest is parsed."""
        content = growth.head + source.rsplit("\n", 1)[-1][growth.cut :]
        rest = content[growth.frozen :]
        if len(rest) >= 2 * PARAGRAPH_KEEP:
            points = [p for p in balanced_points(rest) if PARAGRAPH_KEEP <= p <= len(rest) - PARAGRAPH_KEEP]
            points = [p for p in points if "\n" not in rest[p - 1 : p + 1]]
            if points:
                cut = points[-1]
                growth.frozen_html += self.inline(rest[:cut])
                growth.frozen += cut
                rest = rest[cut:]
        healed = heal_inline(rest)
        html = growth.before + growth.frozen_html + self.inline(healed.text.rstrip()) + growth.after
        return html, healed

    def open(self, ops: list[Op], html: str, slot: str | None, container: Container) -> bool:
        """Show ``html`` as a container the page enters (its children go into ``slot``) and
        let ``container`` take the tail from now on."""
        ops.append({"op": "open", "html": html, "slot": slot})
        self.live = Live()
        self.container = container
        return True

    def shelve(self, size: int) -> None:
        """Move the first ``size`` characters of the tail (frozen inside the open container)
        onto the shelf."""
        if size:
            self.shelf.append(self.tail[:size])
            self.tail = self.tail[size:]

    def container_end(self) -> int:
        """Where in the tail the open list or table ends, once no more text will come: a
        block after it may still have been undecided."""
        shelf = "".join(self.shelf)
        source = shelf + self.tail
        spans = top_level(self.md.parse_blocks(source, self.scratch_env()))
        if len(spans) < 2:
            return len(self.tail)
        return max(0, Lines(source).offset(spans[1].line) - len(shelf))

    def final_render(self, src: str) -> tuple[list[Token], list[Span], list[str]]:
        tokens = self.parse(src, self.env)
        spans = top_level(tokens)
        return tokens, spans, [self.render(tokens[s.first : s.last], self.env) for s in spans]

    def close_container(self, ops: list[Op], rest: list[str]) -> None:
        """The container as shown is right: add its last children and close it."""
        if len(rest) == 1 and rest[0] == self.live.html:
            ops.append({"op": "freeze"})
        else:
            if self.live.html:
                ops.append({"op": "live", "html": ""})
            if rest:
                ops.append({"op": "append", "blocks": rest})
        ops.append({"op": "close"})

    def end_container(self, ops: list[Op], end: int, htmls: list[str], matched: bool) -> None:
        """The container ends ``end`` characters into the tail and is frozen: as shown when it
        ``matched`` its one-shot render ``htmls``, else replaced by them (none, if what it held
        turned out to belong to the block after it)."""
        source = "".join(self.shelf) + self.tail[:end]
        if matched:
            self.frozen.append("".join(htmls))
            self.sources.append(source.rstrip())
        else:
            # The page freezes what it is given block by block, as the final reconcile counts.
            ops.append({"op": "replace", "html": ""})
            if htmls:
                ops.append({"op": "append", "blocks": htmls})
            self.frozen.extend(htmls)
            self.sources.extend(_UNKNOWN for _ in htmls)
            self.stats.rewrites += 1
        self.committed.append(source)
        self.marks.append(len(self.frozen))
        self.shelf.clear()
        self.tail = self.tail[end:]
        self.stats.frozen_blocks += len(htmls)
        self.live = Live()
        self.container = None

    def end_as_parsed(
        self, ops: list[Op], end: int, stands: Callable[[str, list[Token], list[Span]], list[str] | None]
    ) -> None:
        """The open list or table is over, ``end`` characters into the tail. Its block
        structure is parsed once; ``stands`` says whether what froze inside it stands (then it
        closes the container and returns its HTML) or not (None: its one-shot render
        replaces it)."""
        source = "".join(self.shelf) + self.tail[:end]
        tokens = self.blocks_of(source)
        spans = top_level(tokens)
        htmls = stands(source, tokens, spans) if len(spans) == 1 else None
        if htmls is None:
            self.end_container(ops, end, self.finished_parts(tokens, spans), matched=False)
        else:
            self.end_container(ops, end, htmls, matched=True)

    def finished_parts(self, tokens: list[Token], parts: list[Span]) -> list[str]:
        """HTML of parts of a finished container's tokens (from _blocks_of), inline content
        filled in with the answer's env, part after part."""
        htmls = []
        for part in parts:
            block = tokens[part.first : part.last]
            self.md.fill_inline(block, self.env)
            htmls.append(self.render(block, self.env))
        return htmls

    def blocks_of(self, source: str) -> list[Token]:
        """Block structure of a finished container's source, with the answer's env (a
        definition inside the container counts from now on)."""
        self.stats.parses += 1
        self.stats.parsed_chars += len(source)
        return self.md.parse_blocks(source, self.env)


def has_letter(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


def ends_in_text(tokens: list[Token], span: Span) -> bool:
    """Whether the block ends with inline content of a paragraph or heading."""
    index = span.last - 1
    while index > span.first and tokens[index].nesting < 0:
        index -= 1
    return (
        tokens[index].type == "inline"
        and index > 0
        and tokens[index - 1].type in ("paragraph_open", "heading_open")
    )
