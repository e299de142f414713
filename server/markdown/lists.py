"""Lists: items freeze inside the list as they finish (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it.token import Token

from .blocks import Lines, Span, children, is_list, list_is_loose, loosen, top_level
from .heal import heal
from .live import Live
from .ops import Op
from .stream import Growth, Stream, ends_in_text, has_letter

_ITEM_WITH_TEXT = re.compile(r"\s*(?:[-*+]|\d{1,9}[.)])\s+\S*?[^\W\d_]")


@dataclass
class ListState:
    open_html: str
    ordered: bool
    marker: str
    loose: bool = False
    items_html: list[str] = field(default_factory=list)
    simple: bool = False  # the tail is one item whose last line holds a letter
    growth: Growth | None = None  # ... and ends with paragraph text


class ListContainer:
    """A list streams as a container: finished items freeze inside it, and only the live item
    is parsed again."""

    cheap = False

    def __init__(self, doc: Stream, state: ListState) -> None:
        self.doc = doc
        self.state = state

    @classmethod
    def enter(cls, doc: Stream, ops: list[Op], tokens: list[Token], span: Span) -> bool:
        first = tokens[span.first]
        items = children(tokens, span, 1, "list_item_open")
        marker = tokens[items[0].first].markup if items else first.markup
        open_html = doc.md.render_token(tokens, span.first)
        state = ListState(open_html, first.type == "ordered_list_open", marker)
        return doc.open(ops, open_html, None, cls(doc, state))

    @property
    def growing(self) -> bool:
        return self.state.growth is not None

    def end(self, ops: list[Op]) -> None:
        self._end(ops, self.doc.container_end())

    def step(self, ops: list[Op]) -> bool:
        state = self.state
        if state.simple and not self.doc.new_line:
            # Only the live item's last line grew: items, looseness and where the list ends
            # cannot have changed, so only the end of the item's last inline is parsed (or,
            # when the item does not end in paragraph text, the item).
            if state.growth is not None:
                html, healed = self.doc.grow(state.growth, self.doc.tail)
                self.doc.show(ops, html, healed=healed, fast=True)
                return False
            healed = heal(self.doc.tail)
            html, fast = self._render_items(healed.text, state.loose)
            self.doc.show(ops, html, healed=healed, fast=fast)
            return False
        state.simple = False
        state.growth = None
        region = self.doc.tail
        env = self.doc.scratch_env()
        tokens = self.doc.parse(region, env)
        spans = top_level(tokens)
        lines = Lines(region)
        if not spans or spans[0].line != 0 or not self._continues(tokens[spans[0].first], state):
            return self._end(ops, 0)
        span = spans[0]
        if len(spans) > 1 and lines.decided(spans[1].line):
            return self._end(ops, lines.offset(spans[1].line))
        items = children(tokens, span, 1, "list_item_open")
        if not items:
            return self._end(ops, 0)
        if not state.loose and list_is_loose(tokens, span, items, lines):
            state.loose = True
            if state.items_html:
                self._loosen_frozen_items(ops, state)
        if state.loose:
            loosen(tokens, span.first, span.last)
        keep = len(items) - 1
        if keep >= 1 and not item_decided(lines, items[-1].line):
            keep -= 1
        live_start = lines.offset(items[keep].line)
        if keep > 0:
            htmls = [self.doc.render(tokens[i.first : i.last], env) for i in items[:keep]]
            self.doc.freeze_or_append(ops, htmls)
            state.items_html.extend(htmls)
        live_src = region[live_start:]
        state.simple = len(spans) == 1 and keep == len(items) - 1 and has_letter(region.rsplit("\n", 1)[-1])
        if state.simple:
            state.growth = self.doc.growth_of(tokens, items[keep].first, items[-1].last, live_src, env)
        if live_start:
            self.doc.shelve(live_start)
        if state.growth is not None:
            html, healed = self.doc.grow(state.growth, live_src)
            self.doc.show(ops, html, healed=healed, fast=True)
            return False
        healed = heal(live_src)
        if healed.text == live_src:
            html = self.doc.render(tokens[items[keep].first : items[-1].last], env, live=True)
            fast = keep == len(items) - 1 and ends_in_text(tokens, items[-1])
        else:
            html, fast = self._render_items(healed.text, state.loose)
        # Text after the list not shown yet (a block still undecided) would make the next
        # words land in the wrong place.
        fast = fast and len(spans) == 1
        self.doc.show(ops, html, healed=healed, fast=fast)
        return False

    def _continues(self, token: Token, state: ListState) -> bool:
        if not is_list(token) or (token.type == "ordered_list_open") != state.ordered:
            return False
        return token.markup == state.marker

    def _render_items(self, src: str, loose: bool) -> tuple[str, bool]:
        env = self.doc.scratch_env()
        tokens = self.doc.parse(src, env)
        spans = top_level(tokens)
        if not spans or not is_list(tokens[spans[0].first]):
            return "", False
        items = children(tokens, spans[0], 1, "list_item_open")
        if not items:
            return "", False
        if loose:
            loosen(tokens, items[0].first, items[-1].last)
        html = self.doc.render(tokens[items[0].first : items[-1].last], env, live=True)
        return html, len(items) == 1 and ends_in_text(tokens, items[-1])

    def _loosen_frozen_items(self, ops: list[Op], state: ListState) -> None:
        """The list turned loose: its frozen items must show their paragraphs. Once per list."""
        env = self.doc.scratch_env()
        tokens = self.doc.parse("".join(self.doc.shelf), env)
        spans = top_level(tokens)
        items = children(tokens, spans[0], 1, "list_item_open") if spans else []
        loosen(tokens, 0, len(tokens))
        state.items_html = [self.doc.render(tokens[i.first : i.last], env) for i in items]
        ops.append({"op": "reopen", "html": state.open_html + "".join(state.items_html), "slot": None})
        self.doc.live = Live()
        self.doc.stats.rewrites += 1

    def _end(self, ops: list[Op], end: int) -> bool:
        """The list is over. Its items froze from parses that held each of them whole, so if
        the finished list has the structure that streamed (same opening tag, as loose or
        tight, no fewer items) they stand, and only the items not frozen yet are rendered.
        Otherwise (rare) the whole list is rendered and replaces what streamed."""
        state = self.state

        def stands(source: str, tokens: list[Token], spans: list[Span]) -> list[str] | None:
            span = spans[0]
            if not is_list(tokens[span.first]):
                return None
            items = children(tokens, span, 1, "list_item_open")
            done = len(state.items_html)
            if (
                len(items) < done
                or self.doc.md.render_token(tokens, span.first) != state.open_html
                or list_is_loose(tokens, span, items, Lines(source)) != state.loose
            ):
                return None
            rest = self.doc.finished_parts(tokens, items[done:])
            close = self.doc.md.render_token(tokens, span.last - 1)
            self.doc.close_container(ops, rest)
            return [state.open_html + "".join(state.items_html) + "".join(rest) + close]

        self.doc.end_as_parsed(ops, end, stands)
        return True


def item_decided(lines: Lines, line: int) -> bool:
    """A list item's first line is complete, or has text after its marker."""
    return lines.complete(line) or _ITEM_WITH_TEXT.match(lines.get(line)) is not None
