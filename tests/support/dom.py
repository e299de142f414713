"""A tiny DOM and the page's patch logic, in Python, so pure renderer tests can see exactly
what the page would display after every update without a browser.

It mirrors static/patch.js operation for operation; the browser tests check that the real
page ends up with the same HTML.
"""

from __future__ import annotations

import html as htmllib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, get_args, get_type_hints

from pydantic import TypeAdapter

from server.markdown import ops

VOID = frozenset(
    ("br", "hr", "img", "input", "meta", "link", "area", "base", "col", "embed", "source",
    "track", "wbr")
)  # fmt: skip
BLOCK = frozenset(
    ("p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "table", "thead",
    "tbody", "tr", "td", "th", "div", "pre", "section", "hr")
)  # fmt: skip


@dataclass(eq=False)
class Node:
    parent: Element | None = field(default=None, repr=False)


@dataclass(eq=False)
class Text(Node):
    data: str = ""


@dataclass(eq=False)
class Element(Node):
    tag: str = ""
    attrs: list[tuple[str, str | None]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def append(self, node: Node) -> None:
        node.parent = self
        self.children.append(node)

    def insert_before(self, node: Node, ref: Node | None) -> None:
        node.parent = self
        if ref is None:
            self.children.append(node)
        else:
            self.children.insert(self.children.index(ref), node)

    def remove(self, node: Node) -> None:
        self.children.remove(node)
        node.parent = None

    def find(self, tag: str) -> Element | None:
        for child in self.children:
            if isinstance(child, Element):
                if child.tag == tag:
                    return child
                found = child.find(tag)
                if found is not None:
                    return found
        return None

    def attr(self, name: str) -> str | None:
        for key, value in self.attrs:
            if key == name:
                return value
        return None


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element(tag="#fragment")
        self.stack: list[Element] = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag=tag, attrs=attrs)
        self.stack[-1].append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].append(Element(tag=tag, attrs=attrs))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        parent = self.stack[-1]
        if parent.children and isinstance(parent.children[-1], Text):
            parent.children[-1].data += data
        else:
            parent.append(Text(data=data))


def parse(html: str) -> list[Node]:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    nodes = list(builder.root.children)
    for node in nodes:
        node.parent = None
    return nodes


def serialize(nodes: list[Node], *, in_pre: bool = False, ids: bool = False) -> str:
    """HTML of ``nodes``; the page's block ids (``data-block``) only with ``ids``."""
    out: list[str] = []
    for index, node in enumerate(nodes):
        if isinstance(node, Text):
            if not in_pre and not node.data.strip() and _between_blocks(nodes, index):
                continue
            out.append(htmllib.escape(node.data, quote=True).replace("&#x27;", "'"))
        elif isinstance(node, Element):
            attrs = "".join(
                f" {k}" if v is None else f' {k}="{htmllib.escape(v, quote=True)}"'
                for k, v in node.attrs
                if ids or k != "data-block"
            )
            if node.tag in VOID:
                out.append(f"<{node.tag}{attrs}>")
            else:
                inner = serialize(node.children, in_pre=in_pre or node.tag == "pre", ids=ids)
                out.append(f"<{node.tag}{attrs}>{inner}</{node.tag}>")
    return "".join(out)


def _between_blocks(nodes: list[Node], index: int) -> bool:
    """White space next to block elements (or the ends of a container) is layout, not text."""
    before = nodes[index - 1] if index > 0 else None
    after = nodes[index + 1] if index + 1 < len(nodes) else None
    return all(n is None or (isinstance(n, Element) and n.tag in BLOCK) for n in (before, after))


def canonical(html: str) -> str:
    """Comparable form of an HTML fragment."""
    return serialize(parse(html))


def strip_chrome(nodes: list[Node]) -> list[Node]:
    """Drop ``data-chrome="ui"`` elements and unwrap ``data-chrome="wrap"`` ones."""
    out: list[Node] = []
    for node in nodes:
        if isinstance(node, Element):
            chrome = node.attr("data-chrome")
            if chrome == "ui":
                continue
            node.children = strip_chrome(node.children)
            if chrome == "wrap":
                out.extend(node.children)
                continue
        out.append(node)
    return out


@dataclass
class _Level:
    parent: Element
    live: list[Node] = field(default_factory=list)
    blocks: list[list[Node]] = field(default_factory=list)
    container: Element | None = None


_OPS: dict[str, type] = {get_args(get_type_hints(kind)["op"])[0]: kind for kind in get_args(ops.PageOp)}
_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def check(op: dict[str, Any]) -> None:
    """``op`` is one of the schema's page operations (server/markdown/ops.py), with exactly
    its fields, and an id wherever the schema has one."""
    kind = _OPS.get(op.get("op", ""))
    assert kind is not None, f"not a page operation: {op!r}"
    fields = set(get_type_hints(kind))
    assert set(op) <= fields, f"unknown fields {set(op) - fields} in {op!r}"
    assert "id" not in fields or "id" in op, f"no block id in {op!r}"
    adapter = _ADAPTERS.get(op["op"])
    if adapter is None:
        adapter = _ADAPTERS[op["op"]] = TypeAdapter(kind)
    adapter.validate_python(op, strict=True)


class Page:
    """One answer's content element, patched the way static/patch.js patches it.

    The top level holds the answer's blocks, each with its id stamped on its elements
    (``data-block``), frozen ones first, then the live one; inside the live block, each open
    container is a level of its own (``levels``)."""

    def __init__(self) -> None:
        self.root = Element(tag="div")
        self.levels = [_Level(self.root)]
        self.ids: list[int] = []  # of the frozen top-level blocks, as levels[0].blocks
        self.live_id: int | None = None

    @property
    def level(self) -> _Level:
        return self.levels[-1]

    def apply(self, ops: list[dict[str, Any]]) -> None:
        for op in ops:
            check(op)
            if "id" in op and op["op"] not in ("insert", "splice"):
                self._address(op["id"])
            getattr(self, "_op_" + op["op"])(op)

    def html(self) -> str:
        """What the page shows, as markdown-it would write it (block ids left out)."""
        return serialize(self.root.children)

    def stamped_html(self) -> str:
        """The page's HTML with its block ids."""
        return serialize(self.root.children, ids=True)

    def content_html(self) -> str:
        return serialize(strip_chrome(parse(self.html())))

    def live_html(self) -> str:
        return serialize(self.level.live)

    def frozen_nodes(self) -> list[Node]:
        return [n for block in self.levels[0].blocks for n in block]

    def block(self, block_id: int) -> list[Node]:
        """The nodes of the frozen block ``block_id``."""
        return self.levels[0].blocks[self.ids.index(block_id)]

    def _address(self, block_id: int) -> None:
        if len(self.levels) > 1:
            assert block_id == self.live_id, f"block {block_id} is not the live one ({self.live_id})"
        else:
            assert self.live_id in (None, block_id), f"block {block_id} while {self.live_id} is live"
            assert block_id not in self.ids, f"block {block_id} is frozen already"
            self.live_id = block_id

    # -- operations --------------------------------------------------------

    def _insert(self, level: _Level, html: str, block_id: int | None = None) -> list[Node]:
        nodes = parse(html)
        if block_id is not None:
            _stamp(nodes, block_id)
        ref = level.live[0] if level.live else None
        for node in nodes:
            level.parent.insert_before(node, ref)
        return nodes

    def _op_insert(self, op: dict[str, Any]) -> None:
        level = self.levels[0]
        assert len(self.levels) == 1, "insert inside a container"
        for block in op["blocks"]:
            assert block["id"] not in self.ids
            assert block["id"] != self.live_id
            level.blocks.append(self._insert(level, block["html"], block["id"]))
            self.ids.append(block["id"])

    def _op_append(self, op: dict[str, Any]) -> None:
        assert len(self.levels) > 1, "append at the top level"
        level = self.level
        for html in op["blocks"]:
            level.blocks.append(self._insert(level, html))

    def _op_live(self, op: dict[str, Any]) -> None:
        level = self.level
        for node in level.live:
            level.parent.remove(node)
        nodes = parse(op["html"])
        if len(self.levels) == 1:
            _stamp(nodes, op["id"])
        for node in nodes:
            level.parent.append(node)
        level.live = nodes

    def _op_tail(self, op: dict[str, Any]) -> None:
        target = _last_meaningful(self.level.live)
        for _ in range(op["depth"]):
            assert isinstance(target, Element), "tail: depth goes below a text node"
            target = _last_meaningful(target.children)
        assert isinstance(target, Element), "tail: no element to append to"
        last = _last_meaningful(target.children)
        if isinstance(last, Text) and target.children and target.children[-1] is last:
            last.data += op["text"]
        else:
            target.append(Text(data=op["text"]))

    def _op_freeze(self, op: dict[str, Any]) -> None:
        level = self.level
        if level.live:
            level.blocks.append(level.live)
            if len(self.levels) == 1:
                assert self.live_id is not None
                self.ids.append(self.live_id)
        if len(self.levels) == 1:
            self.live_id = None
        level.live = []

    def _op_open(self, op: dict[str, Any]) -> None:
        self._op_live(op)
        container = next(n for n in self.level.live if isinstance(n, Element))
        slot = container.find(op["slot"]) if op.get("slot") else container
        assert slot is not None, f"open: no {op['slot']} in {op['html']!r}"
        self.levels.append(_Level(slot, container=container))

    def _op_reopen(self, op: dict[str, Any]) -> None:
        inner = self.levels.pop()
        self._op_open(op)
        del inner

    def _op_leave(self, op: dict[str, Any]) -> None:
        self.levels.pop()

    def _op_close(self, op: dict[str, Any]) -> None:
        self.levels.pop()
        self._op_freeze(op)

    def _op_replace(self, op: dict[str, Any]) -> None:
        self.levels.pop()
        self._op_live(op)
        self._op_freeze(op)

    def _op_truncate(self, op: dict[str, Any]) -> None:
        level = self.levels[0]
        keep = 0 if op["after"] is None else self.ids.index(op["after"]) + 1
        for block in level.blocks[keep:]:
            for node in block:
                level.parent.remove(node)
        for node in level.live:
            level.parent.remove(node)
        del level.blocks[keep:]
        del self.ids[keep:]
        level.live = []
        self.levels = [level]
        self.live_id = None

    def _op_splice(self, op: dict[str, Any]) -> None:
        level = self.levels[0]
        for block_id in op["remove"]:
            index = self.ids.index(block_id)
            for node in level.blocks[index]:
                level.parent.remove(node)
            del level.blocks[index]
            del self.ids[index]
        at = self.ids.index(op["before"]) if op["before"] is not None else len(self.ids)
        ref = next((block[0] for block in level.blocks[at:] if block), level.live[0] if level.live else None)
        new_blocks = []
        for block in op["blocks"]:
            nodes = parse(block["html"])
            _stamp(nodes, block["id"])
            for node in nodes:
                level.parent.insert_before(node, ref)
            new_blocks.append(nodes)
        level.blocks[at:at] = new_blocks
        self.ids[at:at] = [block["id"] for block in op["blocks"]]


def _stamp(nodes: list[Node], block_id: int) -> None:
    for node in nodes:
        if isinstance(node, Element):
            node.attrs = [(k, v) for k, v in node.attrs if k != "data-block"] + [
                ("data-block", str(block_id))
            ]


def _last_meaningful(nodes: list[Node]) -> Node | None:
    for node in reversed(nodes):
        if isinstance(node, Text) and not node.data.strip():
            continue
        return node
    return None
