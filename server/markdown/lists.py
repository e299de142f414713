"""Lists: items freeze inside the list as they finish (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it.token import Token

from .blocks import Lines, Span, children, is_list, list_is_loose, loosen, top_level
from .heal import heal
from .live import Live
from .ops import Op
from .stream import Growth, Mode, StreamBase, ends_in_text, has_letter

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


class Lists(StreamBase):
    """A list streams as a container: finished items freeze inside it, and only the live item
    is parsed again."""

    _list: ListState | None = None

    def _enter_list(self, ops: list[Op], tokens: list[Token], span: Span) -> bool:
        first = tokens[span.first]
        items = children(tokens, span, 1, "list_item_open")
        marker = tokens[items[0].first].markup if items else first.markup
        open_html = self._md.render_token(tokens, span.first)
        self._list = ListState(open_html, first.type == "ordered_list_open", marker)
        return self._open(ops, open_html, None, Mode.LIST)

    def _list_step(self, ops: list[Op]) -> bool:
        state = self._list
        assert state is not None
        if state.simple and not self._new_line:
            # Only the live item's last line grew: items, looseness and where the list ends
            # cannot have changed, so only the end of the item's last inline is parsed (or,
            # when the item does not end in paragraph text, the item).
            if state.growth is not None:
                html, healed = self._grow(state.growth, self._tail)
                self._show(ops, html, healed=healed, fast=True)
                return False
            healed = heal(self._tail)
            html, fast = self._render_items(healed.text, state.loose)
            self._show(ops, html, healed=healed, fast=fast)
            return False
        state.simple = False
        state.growth = None
        region = self._tail
        env = self._scratch_env()
        tokens = self._parse(region, env)
        spans = top_level(tokens)
        lines = Lines(region)
        if not spans or spans[0].line != 0 or not self._continues(tokens[spans[0].first], state):
            return self._end_list(ops, 0)
        span = spans[0]
        if len(spans) > 1 and lines.decided(spans[1].line):
            return self._end_list(ops, lines.offset(spans[1].line))
        items = children(tokens, span, 1, "list_item_open")
        if not items:
            return self._end_list(ops, 0)
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
            htmls = [self._render(tokens[i.first : i.last], env) for i in items[:keep]]
            self._freeze_or_append(ops, htmls)
            state.items_html.extend(htmls)
        live_src = region[live_start:]
        state.simple = len(spans) == 1 and keep == len(items) - 1 and has_letter(region.rsplit("\n", 1)[-1])
        if state.simple:
            state.growth = self._growth_of(tokens, items[keep].first, items[-1].last, live_src, env)
        if live_start:
            self._shelve(live_start)
        if state.growth is not None:
            html, healed = self._grow(state.growth, live_src)
            self._show(ops, html, healed=healed, fast=True)
            return False
        healed = heal(live_src)
        if healed.text == live_src:
            html = self._render(tokens[items[keep].first : items[-1].last], env, live=True)
            fast = keep == len(items) - 1 and ends_in_text(tokens, items[-1])
        else:
            html, fast = self._render_items(healed.text, state.loose)
        # Text after the list not shown yet (a block still undecided) would make the next
        # words land in the wrong place.
        fast = fast and len(spans) == 1
        self._show(ops, html, healed=healed, fast=fast)
        return False

    def _continues(self, token: Token, state: ListState) -> bool:
        if not is_list(token) or (token.type == "ordered_list_open") != state.ordered:
            return False
        return token.markup == state.marker

    def _render_items(self, src: str, loose: bool) -> tuple[str, bool]:
        env = self._scratch_env()
        tokens = self._parse(src, env)
        spans = top_level(tokens)
        if not spans or not is_list(tokens[spans[0].first]):
            return "", False
        items = children(tokens, spans[0], 1, "list_item_open")
        if not items:
            return "", False
        if loose:
            loosen(tokens, items[0].first, items[-1].last)
        html = self._render(tokens[items[0].first : items[-1].last], env, live=True)
        return html, len(items) == 1 and ends_in_text(tokens, items[-1])

    def _loosen_frozen_items(self, ops: list[Op], state: ListState) -> None:
        """The list turned loose: its frozen items must show their paragraphs. Once per list."""
        env = self._scratch_env()
        tokens = self._parse("".join(self._shelf), env)
        spans = top_level(tokens)
        items = children(tokens, spans[0], 1, "list_item_open") if spans else []
        loosen(tokens, 0, len(tokens))
        state.items_html = [self._render(tokens[i.first : i.last], env) for i in items]
        ops.append({"op": "reopen", "html": state.open_html + "".join(state.items_html), "slot": None})
        self._live = Live()
        self.stats.rewrites += 1

    def _end_list(self, ops: list[Op], end: int) -> bool:
        """The list is over. Its items froze from parses that held each of them whole, so if
        the finished list has the structure that streamed (same opening tag, as loose or
        tight, no fewer items) they stand, and only the items not frozen yet are rendered.
        Otherwise (rare) the whole list is rendered and replaces what streamed."""
        state = self._list
        assert state is not None

        def stands(source: str, tokens: list[Token], spans: list[Span]) -> list[str] | None:
            span = spans[0]
            if not is_list(tokens[span.first]):
                return None
            items = children(tokens, span, 1, "list_item_open")
            done = len(state.items_html)
            if (
                len(items) < done
                or self._md.render_token(tokens, span.first) != state.open_html
                or list_is_loose(tokens, span, items, Lines(source)) != state.loose
            ):
                return None
            rest = self._finished_parts(tokens, items[done:])
            close = self._md.render_token(tokens, span.last - 1)
            self._close_container(ops, rest)
            return [state.open_html + "".join(state.items_html) + "".join(rest) + close]

        self._end_as_parsed(ops, end, stands)
        self._list = None
        return True


def item_decided(lines: Lines, line: int) -> bool:
    """A list item's first line is complete, or has text after its marker."""
    return lines.complete(line) or _ITEM_WITH_TEXT.match(lines.get(line)) is not None
