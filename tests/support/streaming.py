"""Drive the pure renderer the way the relay does, and watch what the page would show."""

from __future__ import annotations

import codecs
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from server.markdown.document import StreamRenderer
from server.markdown.engine import Markdown
from tests.support.dom import Element, Node, Page, Text, parse, serialize, strip_chrome

Chunker = Callable[[str], Iterator[str]]


def whole(text: str) -> Iterator[str]:
    yield text


def by_char(text: str) -> Iterator[str]:
    yield from text


def random_bytes(seed: int, largest: int = 12) -> Chunker:
    """Split the UTF-8 bytes at random points and decode incrementally, as the bridge does:
    a split inside a multi-byte character is held by the decoder."""

    def chunks(text: str) -> Iterator[str]:
        rng = random.Random(seed)
        data = text.encode("utf-8")
        decoder = codecs.getincrementaldecoder("utf-8")()
        pos = 0
        while pos < len(data):
            size = rng.randint(1, largest)
            piece = decoder.decode(data[pos : pos + size])
            pos += size
            if piece:
                yield piece
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    return chunks


CHUNKERS: dict[str, Chunker] = {"whole": whole, "char": by_char, "random": random_bytes(7)}


@dataclass
class Run:
    text: str
    page: Page
    renderer: StreamRenderer
    # The live part after each update: the only part that may differ from the final render
    # (frozen blocks are exact renders, checked at the end).
    displays: list[str] = field(default_factory=list)
    splices: int = 0
    frozen_lost: int = 0  # frozen top-level nodes replaced before the final reconcile


def stream(
    markdown: Markdown,
    text: str,
    chunker: Chunker,
    *,
    keep_displays: bool = False,
    probe: Callable[[int, Page], None] | None = None,
) -> Run:
    renderer = StreamRenderer(markdown)
    page = Page()
    run = Run(text, page, renderer)
    seen: set[int] = set()
    frozen: list[Node] = []
    for index, piece in enumerate(chunker(text)):
        renderer.feed(piece)
        ops = renderer.update()
        assert not any(op["op"] == "splice" for op in ops), "frozen blocks re-sent mid-stream"
        page.apply(ops)
        assert_ids(renderer, page)
        for block in page.levels[0].blocks[len(frozen) :]:
            for node in block:
                if id(node) not in seen:
                    seen.add(id(node))
                    frozen.append(node)
        if keep_displays:
            # Inside its parent, so that text in an open code block counts as code.
            tag = page.level.parent.tag
            run.displays.append(f"<{tag}>{serialize(page.level.live)}</{tag}>")
        if probe is not None:
            probe(index, page)
    final_ops = renderer.finish()
    run.splices = sum(len(op["remove"]) for op in final_ops if op["op"] == "splice")
    page.apply(final_ops)
    assert_ids(renderer, page)
    attached = {id(n) for n in _walk(page.root)}
    run.frozen_lost = sum(1 for n in frozen if id(n) not in attached)
    return run


def assert_ids(renderer: StreamRenderer, page: Page) -> None:
    """The page's blocks are the renderer's, id for id, and each element of a top-level block
    carries its block's id."""
    assert renderer.addresses is not None
    assert page.ids == renderer.addresses.frozen
    assert len(page.ids) == len(renderer.blocks) == len(set(page.ids))
    assert page.live_id == renderer.addresses.live or not page.levels[0].live
    stamped = dict(zip(page.ids, page.levels[0].blocks, strict=True))
    if page.live_id is not None:
        stamped[page.live_id] = page.levels[0].live
    for block_id, nodes in stamped.items():
        for node in nodes:
            if isinstance(node, Element):
                assert node.attr("data-block") == str(block_id)
    top = [n for n in page.root.children if isinstance(n, Element)]
    assert all(n.attr("data-block") is not None for n in top)


def _walk(node: Element) -> Iterator[Node]:
    for child in node.children:
        yield child
        if isinstance(child, Element):
            yield from _walk(child)


# -- raw syntax -----------------------------------------------------------------

MARKERS = ("**", "__", "~~", "`", "[", "](", "![", "<")


def visible_text(html: str) -> str:
    """Text a reader sees, outside code (where syntax characters are content)."""
    out: list[str] = []

    def walk(nodes: list[Node]) -> None:
        for node in nodes:
            if isinstance(node, Text):
                out.append(node.data)
            elif isinstance(node, Element) and node.tag not in ("code", "pre"):
                walk(node.children)
                out.append("\n")

    walk(strip_chrome(parse(html)))
    return "".join(out)


def raw_syntax_flashes(displays: list[str], final_html: str) -> list[tuple[int, str]]:
    """Displays that show more of a syntax marker than the finished answer does: the marker
    of a construct that was still open."""
    final = visible_text(final_html)
    budget = {m: final.count(m) for m in MARKERS}
    budget["*"] = len(re.findall(r"(?<!\*)\*(?!\*)", final))
    budget["_"] = len(re.findall(r"(?<!_)_(?!_)", final))
    flashes = []
    for index, display in enumerate(displays):
        text = visible_text(display)
        counts = {m: text.count(m) for m in MARKERS}
        counts["*"] = len(re.findall(r"(?<!\*)\*(?!\*)", text))
        counts["_"] = len(re.findall(r"(?<!_)_(?!_)", text))
        for marker, count in counts.items():
            if count > budget[marker]:
                flashes.append((index, marker))
    return flashes


def content_of(html: str) -> str:
    return serialize(strip_chrome(parse(html)))
