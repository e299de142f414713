"""Edits of a streaming (or finished) answer: the page, patched with what revise() sends, shows
the one-shot render of the edited text; blocks the edit did not reach keep their nodes."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.markdown.document import StreamRenderer
from server.markdown.engine import Markdown
from server.markdown.revision import revise
from tests.support.dom import Page, canonical
from tests.unit.markdown.test_render_property import chunked, document

MARKDOWN = Markdown()

snippets = st.sampled_from(
    ["", "x", " word ", "**", "\n", "\n\n", "```\n", "# ", "- ", "1. ", "| a |", "> ", "    ", "===\n",
     "`", "[a]: /u\n"]
)  # fmt: skip


def random_edit(rng: random.Random, text: str, snippet: str) -> tuple[int, int, str]:
    start = rng.randint(0, len(text))
    end = min(len(text), start + rng.choice([0, 0, 1, 3, 20]))
    return start, end, snippet


def stream_with_edits(text: str, cuts: list[int], edits: list[tuple[int, str]], seed: int) -> None:
    rng = random.Random(seed)
    renderer = StreamRenderer(MARKDOWN)
    page = Page()
    source = ""
    pieces = chunked(text, cuts)
    when = {at % (len(pieces) + 1): snippet for at, snippet in edits}
    for index, piece in enumerate(pieces):
        renderer.feed(piece)
        page.apply(renderer.update())
        source += piece
        if index in when:
            edit = random_edit(rng, source, when[index])
            renderer, ops = revise(renderer, [edit])
            page.apply(ops)
            source = source[: edit[0]] + edit[2] + source[edit[1] :]
            assert renderer.source == source
    page.apply(renderer.finish())
    assert canonical(page.html()) == canonical(MARKDOWN.render(source))
    if len(pieces) in when:  # and once more, after the end
        edit = random_edit(rng, source, when[len(pieces)])
        renderer, ops = revise(renderer, [edit])
        page.apply(ops)
        source = source[: edit[0]] + edit[2] + source[edit[1] :]
        assert canonical(page.html()) == canonical(MARKDOWN.render(source))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document,
    st.lists(st.integers(0, 10_000), max_size=30),
    st.lists(st.tuples(st.integers(0, 40), snippets), max_size=6),
    st.integers(0, 2**32),
)
def test_edits_while_streaming_end_as_the_one_shot_render_of_the_edited_text(
    text: str, cuts: list[int], edits: list[tuple[int, str]], seed: int
) -> None:
    stream_with_edits(text, cuts, edits, seed)


def blocks_of(count: int) -> str:
    return "".join(f"Paragraph {n} says something.\n\n" for n in range(count))


def test_an_edit_in_one_frozen_block_replaces_that_block_alone() -> None:
    renderer = StreamRenderer(MARKDOWN)
    page = Page()
    renderer.feed(blocks_of(30) + "The live one is still")
    page.apply(renderer.update())
    before = {block_id: page.block(block_id) for block_id in page.ids}
    at = renderer.source.index("Paragraph 12") + len("Paragraph 12")
    renderer, ops = revise(renderer, [(at, at, " (edited)")])
    assert [op["op"] for op in ops] == ["splice"]
    page.apply(ops)
    kept = [block_id for block_id in page.ids if block_id in before]
    assert len(kept) == 29
    assert all(page.block(block_id) is before[block_id] for block_id in kept)
    renderer.feed(" growing.")
    page.apply(renderer.update())
    page.apply(renderer.finish())
    assert "Paragraph 12 (edited) says" in page.html()
    assert canonical(page.html()) == canonical(MARKDOWN.render(renderer.source))


def test_a_fence_opened_by_an_edit_takes_the_rest_and_the_page_follows() -> None:
    renderer = StreamRenderer(MARKDOWN)
    page = Page()
    renderer.feed(blocks_of(10) + "tail")
    page.apply(renderer.update())
    at = renderer.source.index("Paragraph 3")
    renderer, ops = revise(renderer, [(at, at, "```\n")])
    page.apply(ops)
    assert ops[0]["op"] == "truncate"
    page.apply(renderer.finish())
    assert canonical(page.html()) == canonical(MARKDOWN.render(renderer.source))
    assert "<pre" in page.html()


def test_an_edit_of_a_finished_answer_splices_only_what_differs() -> None:
    renderer = StreamRenderer(MARKDOWN)
    page = Page()
    renderer.feed(blocks_of(20))
    page.apply(renderer.update())
    page.apply(renderer.finish())
    ids = list(page.ids)
    at = renderer.source.index("Paragraph 5 says") + len("Paragraph 5 says")
    renderer, ops = revise(renderer, [(at, at + len(" something"), " nothing")])
    page.apply(ops)
    assert [op["op"] for op in ops] == ["splice"]
    assert len(ops[0]["remove"]) == 1
    assert len(set(page.ids) & set(ids)) == 19
    assert canonical(page.html()) == canonical(MARKDOWN.render(renderer.source))
