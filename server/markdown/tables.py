"""Tables: the header shows at once, rows freeze inside the table as they finish (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markdown_it.token import Token

from .blocks import Lines, Span, children, top_level
from .cells import MAX_AUTOCOMPLETED_CELLS, cells, split_pipes
from .heal import Healed, heal
from .ops import Op
from .stream import Stream

_EMPTY_CELLS = re.compile(r"(?:<td[^>]*></td>\n)+(?=</tr>)")


@dataclass
class TableState:
    open_html: str
    header_src: str
    aligns: list[str]  # each column's cell opening tag
    rows_html: list[str] = field(default_factory=list)
    # The tail is one row being typed: text without a newline only changes its cells.
    simple: bool = False
    cells: dict[str, str] = field(default_factory=dict)  # cell source -> HTML, live row only
    autocompleted: int = 0  # empty cells added to short rows (markdown-it caps them)


class TableContainer:
    """A table streams as a container: finished rows freeze inside it; the row being typed is
    built cell by cell."""

    cheap = False
    growing = False

    def __init__(self, doc: Stream, state: TableState) -> None:
        self.doc = doc
        self.state = state

    @classmethod
    def enter(cls, doc: Stream, ops: list[Op], lines: Lines) -> bool:
        header_src = doc.tail[: lines.offset(2)]
        head = doc.parse(header_src, doc.scratch_env())
        html = doc.render(head, {})
        open_html = html.replace("</table>", "<tbody>\n</tbody>\n</table>", 1)
        aligns = [
            doc.md.render_token(head, i).replace("<th", "<td", 1)
            for i, t in enumerate(head)
            if t.type == "th_open"
        ]
        state = TableState(open_html, header_src, aligns)
        doc.shelve(len(header_src))
        return doc.open(ops, open_html, "tbody", cls(doc, state))

    def end(self, ops: list[Op]) -> None:
        self._end(ops, self.doc.container_end())

    def step(self, ops: list[Op]) -> bool:
        state = self.state
        if state.simple and not self.doc.new_line:
            return self._row_step(ops, state)
        state.simple = False
        # Finished lines that can only be rows (they start with a pipe) are rows: built here
        # as the table rule builds them, without parsing the table again (the cells of the
        # row that was being typed are rendered already).
        built: list[str] = []
        tail = self.doc.tail
        pos = 0
        while (newline := tail.find("\n", pos)) >= 0:
            row = self._row(state, tail[pos:newline])
            if row is None:
                break
            built.append(row)
            pos = newline + 1
        state.cells.clear()
        if built:
            self.doc.freeze_or_append(ops, built)
            state.rows_html.extend(built)
            self.doc.shelve(pos)
        if "\n" not in self.doc.tail and _PIPE_LED.match(self.doc.tail):
            state.simple = True
            return self._row_step(ops, state)
        if not self.doc.tail:
            self.doc.show(ops, "")
            return False
        region = state.header_src + self.doc.tail
        offset = len(state.header_src)
        env = self.doc.scratch_env()
        tokens = self.doc.parse(region, env)
        spans = top_level(tokens)
        lines = Lines(region)
        if not spans or tokens[spans[0].first].type != "table_open":
            return self._end(ops, 0)
        if len(spans) > 1 and lines.decided(spans[1].line):
            return self._end(ops, lines.offset(spans[1].line) - offset)
        rows = [r for r in children(tokens, spans[0], 2, "tr_open") if r.line >= 2]
        done = [r for r in rows if lines.complete(r.line)]
        if done:
            htmls = [self.doc.render(tokens[r.first : r.last], env) for r in done]
            self.doc.freeze_or_append(ops, htmls)
            state.rows_html.extend(htmls)
        live = rows[-1] if rows and not lines.complete(rows[-1].line) else None
        html = ""
        healed = None
        if live is not None:
            row_src = lines.get(live.line)
            healed = heal(row_src, tables=False)
            if healed.text == row_src:
                html = self.doc.render(tokens[live.first : live.last], env)
            elif healed.text.strip():
                again = self.doc.parse(state.header_src + healed.text, self.doc.scratch_env())
                found = [r for s in top_level(again)[:1] for r in children(again, s, 2, "tr_open")]
                body = [r for r in found if r.line >= 2]
                html = self.doc.render(again[body[0].first : body[0].last], env) if body else ""
            # The cells not typed yet stay off the live row, so its last cell is the one being
            # typed, and plain words go straight into it (the fast path).
            html = _EMPTY_CELLS.sub("", html)
        alone = live is not None and not self._pending_after(lines, live)
        # A line without a leading pipe may yet turn out to be a list or a heading.
        state.simple = alone and self.doc.tail.lstrip().startswith("|")
        self.doc.show(ops, html, healed=healed, fast=alone and _typing_in_a_cell(healed))
        if done:
            self.doc.shelve(lines.offset(done[-1].line + 1) - offset)
        return False

    def _row_step(self, ops: list[Op], state: TableState) -> bool:
        """The row being typed, cell by cell, without parsing the table: only its last cell
        usually changed. Cells not typed yet stay off, so the last one shown is the one being
        typed, and plain words go straight into it (the fast path)."""
        healed = heal(self.doc.tail, tables=False)
        parts = ["<tr>\n"]
        for opening, cell in zip(state.aligns, cells(healed.text), strict=False):
            if not cell:
                break
            parts.append(f"{opening}{self._cell(state, cell)}</td>\n")
        html = "".join(parts) + "</tr>\n" if len(parts) > 1 else ""
        self.doc.show(ops, html, healed=healed, fast=_typing_in_a_cell(healed))
        return False

    def _row(self, state: TableState, line: str) -> str | None:
        """A finished body line that starts with a pipe, as markdown-it's table rule makes it
        (rules_block/table.py); None for anything else, which the parse path decides."""
        if not _PIPE_LED.match(line):
            return None
        row = cells(line)
        state.autocompleted += len(state.aligns) - len(row)
        if state.autocompleted > MAX_AUTOCOMPLETED_CELLS:
            return None
        parts = ["<tr>\n"]
        for index, opening in enumerate(state.aligns):
            cell = row[index] if index < len(row) else ""
            parts.append(f"{opening}{self._cell(state, cell) if cell else ''}</td>\n")
        parts.append("</tr>\n")
        return "".join(parts)

    def _cell(self, state: TableState, source: str) -> str:
        inner = state.cells.get(source)
        if inner is None:
            self.doc.stats.parses += 1
            self.doc.stats.parsed_chars += len(source)
            inner = self.doc.md.render_inline(source, {"references": self.doc.env.get("references", {})})
            state.cells[source] = inner
        return inner

    @staticmethod
    def _pending_after(lines: Lines, row: Span) -> bool:
        """Whether text follows the live row (then it is not where typing happens)."""
        return row.line + 1 < len(lines)

    def _end(self, ops: list[Op], end: int) -> bool:
        """The table is over: as for lists, what froze stands if the finished table has the
        rows that streamed (a table with no body rows has no <tbody>: that one is replaced)."""
        state = self.state

        def stands(source: str, tokens: list[Token], spans: list[Span]) -> list[str] | None:
            if tokens[spans[0].first].type != "table_open":
                return None
            rows = [r for r in children(tokens, spans[0], 2, "tr_open") if r.line >= 2]
            done = len(state.rows_html)
            if not rows or len(rows) < done:
                return None
            rest = self.doc.finished_parts(tokens, rows[done:])
            body = "".join(state.rows_html) + "".join(rest)
            self.doc.close_container(ops, rest)
            return [state.open_html.replace("</tbody>", body + "</tbody>", 1)]

        self.doc.end_as_parsed(ops, end, stands)
        return True


# A table body line that can be nothing but a row: a pipe first, at most 3 spaces before it.
_PIPE_LED = re.compile(r" {0,3}\|")


def _typing_in_a_cell(healed: Healed | None) -> bool:
    """The live row's last cell has text: words typed next extend it. (After "| " they would
    start a new cell the display does not show yet.)"""
    if healed is None:
        return False
    parts = split_pipes(healed.text)
    return len(parts) > 1 and bool(parts[-1].strip())
