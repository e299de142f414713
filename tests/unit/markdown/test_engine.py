"""The Markdown configuration: render_inline's shortcut for plain text is what the rules give."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from linkify_it import LinkifyIt

from server.markdown.engine import Markdown

MD = Markdown()

# Letters, digits and spaces mostly, with every character an inline rule or linkify reacts to.
ALPHABET = "abc XYZ 019 ,;?'\"()/|\t.:@*_`~[]!<>&#\\^=+-{}$%\u3002é中\U0001f600"


@pytest.mark.parametrize(
    "text",
    [
        "Step 2 of section 3, with",
        "component 12",
        "see example.com now",  # linkify, though "." stops no rule
        "mail me at a@b.org",
        "http://x.y",
        "a\u3002b",
        "tab\there",
        "quotes \"and\" 'apostrophes' & <angles>",
        "trailing spaces   ",
        "",
        "中文 and émoji \U0001f600",
    ],
)
def test_plain_shortcut_matches_the_rules(text: str) -> None:
    env = {"references": {}}
    assert MD.render_inline(text, env) == MD.render_inline_parsed(text, {"references": {}})


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_render_inline_is_the_rules_output_for_any_text(text: str) -> None:
    assert MD.render_inline(text, {"references": {}}) == MD.render_inline_parsed(text, {"references": {}})


# linkify's own pretest is skipped for text without any of the marks a link needs: that must
# never hide a link linkify would find.
LINKY = "ab x1 /.:@-_\u3002\uff0e\uff61 wwwcom"


@pytest.mark.parametrize(
    "text", ["see //localhost now", "www.example.com", "http://x", "a@b.co", "x\uff0ecom", "1.2.3.4"]
)
def test_the_linkify_shortcut_hides_no_link(text: str) -> None:
    assert_no_link_hidden(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=LINKY, max_size=30))
def test_the_linkify_shortcut_hides_no_link_in_any_text(text: str) -> None:
    assert_no_link_hidden(text)


def assert_no_link_hidden(text: str) -> None:
    reference = LinkifyIt()
    reference.set({"fuzzy_email": False})
    ours = MD.md.linkify
    assert ours is not None
    if reference.test(text):
        assert ours.pretest(text), text
