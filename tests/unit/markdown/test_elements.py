"""An answer's HTML as its top-level elements, and the elements two renders share (pure)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from server.markdown.blocks import top_level
from server.markdown.elements import changed, top_elements
from server.markdown.engine import Markdown

MD = Markdown()
BLOCKS = [
    "Para *one*.",
    "# Head",
    "```py\nx = '<b>'\n```",
    "- a\n- b",
    "> quote",
    "---",
    "| a |\n|---|\n| 1 |",
    "a  \nb",
]


@given(st.lists(st.sampled_from(BLOCKS), max_size=8))
def test_the_elements_are_the_html_cut_at_its_top_level(blocks: list[str]) -> None:
    source = "\n\n".join(blocks)
    html = MD.render(source, {})
    elements = top_elements(html)
    assert "".join(elements) == html
    assert len(elements) == len(top_level(MD.parse(source, {})))  # one element per block of these


def test_what_two_renders_share() -> None:
    old = top_elements(MD.render("A.\n\nB.\n\nC.", {}))
    new = top_elements(MD.render("A.\n\nB, edited.\n\nC.", {}))
    assert changed(old, new) == (1, 1)
    assert changed(old, old) == (3, 0)
    assert changed(old, top_elements(MD.render("A.\n\nA.", {}))) == (1, 0)
    assert changed([], new) == (0, 0)
