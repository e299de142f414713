"""Render operations address blocks by id (server/markdown/ops.py): the schema, the ids the
page stamps, their stability, and that the page's own code (static/patch.js) handles exactly
the schema's operations."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args, get_type_hints

from server.markdown import Markdown, StreamRenderer, ops
from tests.support.dom import Page
from tests.support.streaming import CHUNKERS, stream

ROOT = Path(__file__).resolve().parents[3]
TEXT = (
    "# Title\n\nSome words about [the docs][d].\n\n- one\n- two\n\n"
    "| a | b |\n|---|---|\n| 1 | 2 |\n\n```py\nx = 1\n```\n\n> a quote\n\nThe end.\n\n[d]: https://example.com\n"
)


def page_op_names() -> set[str]:
    return {get_args(get_type_hints(kind)["op"])[0] for kind in get_args(ops.PageOp)}


def test_the_protocol_page_documents_exactly_the_schema_s_operations() -> None:
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("## Render operations", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z]+)` \|", section, re.M))
    assert documented == page_op_names()


def test_patch_js_handles_exactly_the_schema_s_operations() -> None:
    source = (ROOT / "static" / "patch.js").read_text()
    handled = set(re.findall(r"^\s*op_([a-z]+)\(", source, re.M))
    assert handled == page_op_names()


def test_the_python_page_handles_exactly_the_schema_s_operations() -> None:
    handled = {name.removeprefix("_op_") for name in vars(Page) if name.startswith("_op_")}
    assert handled == page_op_names()


def test_frozen_blocks_keep_their_ids_and_ids_are_never_reused() -> None:
    renderer = StreamRenderer(Markdown())
    page = Page()
    history: dict[int, str] = {}
    for piece in CHUNKERS["random"](TEXT):
        renderer.feed(piece)
        page.apply(renderer.update())
        for block_id in page.ids:
            html = "".join(str(id(n)) for n in page.block(block_id))
            assert history.setdefault(block_id, html) == html  # the same nodes, as long as it is frozen
    page.apply(renderer.finish())
    final = page.ids
    assert len(final) == len(set(final))
    # The reference defined at the end changed one block: it came back under a new id.
    assert any(block_id not in history for block_id in final)
    assert len(set(history) - set(final)) == 1


def test_every_top_level_element_carries_its_block_s_id() -> None:
    run = stream(Markdown(), TEXT, CHUNKERS["char"])
    stamped = run.page.stamped_html()
    ids = re.findall(r'<(?:h1|p|ul|div|blockquote)[^>]*data-block="(\d+)"', stamped)
    assert len(ids) >= 6
    assert [int(i) for i in ids] == run.page.ids  # in page order
    assert "data-block" not in run.page.html()  # left out of what compares with markdown-it


def test_a_splice_names_what_it_removes_and_where_its_blocks_go() -> None:
    renderer = StreamRenderer(Markdown())
    page = Page()
    renderer.feed("See [x].\n\nMiddle.\n\n[x]: /u\n")
    page.apply(renderer.update())
    assert (page.ids, page.live_id) == ([1], 2)
    final = renderer.finish()
    assert final == [
        {"op": "freeze", "id": 2},
        {
            "op": "splice",
            "remove": [1],
            "before": 2,
            "blocks": [{"id": 3, "html": '<p>See <a href="/u">x</a>.</p>\n'}],
        },
    ]
    page.apply(final)
    assert page.content_html().startswith('<p>See <a href="/u">x</a>.</p>')
