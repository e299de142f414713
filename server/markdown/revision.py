"""The streaming renderer after an edit of the text it has rendered (pure, no I/O).

A page's edit (turns/merge.py) replaces ranges of an answer's markdown, anywhere in it, while
the model keeps appending. The page must then show what the edited text renders to, and only
the blocks that changed may be touched: a block the user did not edit keeps its DOM nodes.

Top-level blocks are frozen in *segments* (``Stream.committed``; ``Stream.marks`` counts the
frozen blocks once each is in). An edit changes the blocks of the segments it touches, and can
reach further: a ``` opened swallows what follows, a blank line removed joins two blocks, a
line under a paragraph makes it a heading, an indented line continues the list above. So:

* **local**: the segments from the one before the edit (when the text before it does not end
  in a blank line, or ends in a list, one more) to the one the edit ends in are rendered again,
  one-shot, with the segment after them; if that next segment renders exactly as it did, the
  edit stayed inside and the new blocks replace the old ones (a ``splice``), else the region
  grows by a segment and is tried again;
* **tail**: an edit that reaches the live part (or a region that would not close) keeps the
  segments before it and feeds the rest of the text to a renderer that continues from them:
  the page drops every block after the last one kept (``truncate``) and gets the rest anew;
* **finished**: an answer that has ended is rendered again whole and compared block by block
  with what the page holds; only blocks that differ are spliced.

References defined in an edited region may change blocks elsewhere; the final reconcile at the
answer's end (document.py) gives every block its one-shot render, as it does for references
defined after their use.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from .blocks import Lines, top_level
from .document import StreamRenderer, span_source
from .ops import Op

REGION_TRIES = 8  # segments a local region may grow by before the tail path takes over

Replacement = tuple[int, int, str]  # (start, end, text), on the text as it stands


def revise(renderer: StreamRenderer, edits: Sequence[Replacement]) -> tuple[StreamRenderer, list[Op]]:
    """The renderer for the text ``edits`` (descending, non-overlapping) make of the one
    ``renderer`` was fed, and the operations that bring the page from one to the other."""
    if not edits:
        return renderer, []
    old = renderer.source
    text = old
    for start, end, insert in edits:
        text = text[:start] + insert + text[end:]
    if text == old:
        return renderer, []
    low = min(start for start, _, _ in edits)
    high = max(end for _, end, _ in edits)
    if _touches_definition(old, low, high) or _touches_definition(text, low, high + len(text) - len(old)):
        # A definition made or unmade changes blocks anywhere: the final render looks again
        # at every block that could use one.
        renderer.redefined = True
    if renderer.finished:
        return _whole(renderer, text)
    ends = _ends(renderer.committed)
    committed = ends[-1] if ends else 0
    growth = len(text) - len(old)
    if high < committed:
        ops = _local(renderer, text, ends, low, high, growth)
        if ops is not None:
            return renderer, ops
    return _tail(renderer, text, _kept(renderer, ends, low))


def _touches_definition(text: str, low: int, high: int) -> bool:
    """The lines ``low:high`` touches (with the one after: a definition's title may follow on
    it) hold what could be a reference definition."""
    start = text.rfind("\n", 0, low) + 1
    end = text.find("\n", high)
    end = len(text) if end < 0 else text.find("\n", end + 1)
    return "]:" in text[start : len(text) if end < 0 else end]


def _ends(segments: list[str]) -> list[int]:
    ends: list[int] = []
    at = 0
    for segment in segments:
        at += len(segment)
        ends.append(at)
    return ends


def _kept(renderer: StreamRenderer, ends: list[int], low: int) -> int:
    """How many leading segments an edit starting at ``low`` cannot change."""
    kept = 0
    while kept < len(ends) and ends[kept] <= low:
        kept += 1
    while kept:
        segment = renderer.committed[kept - 1]
        blocks = renderer.marks[kept - 1]
        last = renderer.frozen[blocks - 1] if blocks else ""
        # A blank line ends every block but a list (an indented line continues its item) and a
        # quote or paragraph (a lazy line, a setext underline) right before the edit.
        if segment.endswith("\n\n") and not last.startswith(("<ul", "<ol")) and ends[kept - 1] < low:
            return kept
        kept -= 1
    return 0


def _local(
    renderer: StreamRenderer, text: str, ends: list[int], low: int, high: int, growth: int
) -> list[Op] | None:
    first = _kept(renderer, ends, low)
    start = ends[first - 1] if first else 0
    last = first
    while last < len(ends) and ends[last] <= high:
        last += 1
    # ``last`` is the segment the edit ends in (or the first after it when it ends on a
    # boundary): it is rendered again too.
    for _ in range(REGION_TRIES):
        if last + 1 >= len(ends):
            return None  # the next segment would be the live part
        region_end = ends[last] + growth
        region = text[start:region_end]
        following = renderer.committed[last + 1]
        htmls, sources = _render(renderer, region + following)
        before = renderer.marks[last]
        after = renderer.marks[last + 1]
        count = after - before
        settled = htmls[len(htmls) - count :] == renderer.frozen[before:after]
        if region.endswith("\n\n") and count <= len(htmls) and settled:
            new_html = htmls[: len(htmls) - count]
            new_sources = sources[: len(sources) - count]
            at = renderer.marks[first - 1] if first else 0
            removed = before - at
            renderer.committed[first : last + 1] = [region]
            renderer.frozen[at:before] = new_html
            renderer.sources[at:before] = new_sources
            shift = len(new_html) - removed
            renderer.marks[first : last + 1] = [at + len(new_html)]
            for index in range(first + 1, len(renderer.marks)):
                renderer.marks[index] += shift
            ops: list[Op] = [{"op": "splice_at", "at": at, "remove": removed, "blocks": new_html}]
            return ops if renderer.addresses is None else renderer.addresses.translate(ops)
        last += 1
    return None


def _render(renderer: StreamRenderer, source: str) -> tuple[list[str], list[str]]:
    """One-shot HTML and source of each top-level block of ``source``."""
    tokens = renderer.parse(source, renderer.env)
    spans = top_level(tokens)
    lines = Lines(source)
    htmls = [renderer.render(tokens[s.first : s.last], renderer.env) for s in spans]
    return htmls, [span_source(lines, s) for s in spans]


def _tail(renderer: StreamRenderer, text: str, kept: int) -> tuple[StreamRenderer, list[Op]]:
    blocks = renderer.marks[kept - 1] if kept else 0
    start = sum(len(s) for s in renderer.committed[:kept])
    fresh = StreamRenderer(renderer.md, doc_id=renderer.doc_id, fast_path=renderer.fast_path)
    fresh.env = renderer.scratch_env()
    fresh.known = renderer.known
    fresh.stats = renderer.stats
    fresh.redefined = renderer.redefined
    fresh.committed = renderer.committed[:kept]
    fresh.marks = renderer.marks[:kept]
    fresh.frozen = renderer.frozen[:blocks]
    fresh.sources = renderer.sources[:blocks]
    ops: list[Op] = []
    if renderer.addresses is not None:
        fresh.addresses, truncate = renderer.addresses.truncated(blocks)
        ops.append(truncate)
    fresh.feed(text[start:])
    ops += fresh.update()
    return fresh, ops


def _whole(renderer: StreamRenderer, text: str) -> tuple[StreamRenderer, list[Op]]:
    fresh = StreamRenderer(renderer.md, doc_id=renderer.doc_id, fast_path=renderer.fast_path)
    fresh.addresses = None
    fresh.stats = renderer.stats
    fresh.feed(text)
    fresh.finish()
    matcher = difflib.SequenceMatcher(None, renderer.frozen, fresh.frozen, autojunk=False)
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
        if tag != "equal":
            ops.append({"op": "splice_at", "at": i1, "remove": i2 - i1, "blocks": fresh.frozen[j1:j2]})
    fresh.addresses = renderer.addresses
    return fresh, ops if fresh.addresses is None else fresh.addresses.translate(ops)
