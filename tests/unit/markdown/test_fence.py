"""Fence detection (server/markdown/fence.py) against markdown-it's own fence rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from server.markdown.fence import Fence, code_language

_MD = MarkdownIt("commonmark")


def _is_fence(line: str) -> bool:
    tokens = _MD.parse(line + "\ncode\n")
    return bool(tokens) and tokens[0].type == "fence"


@given(st.text(alphabet=st.sampled_from(list(" `~ax{}\t")), max_size=12))
def test_opener_is_what_markdown_it_calls_a_fence(line: str) -> None:
    assert (Fence.opener(line) is not None) == _is_fence(line)


@pytest.mark.parametrize(
    ("line", "char", "length", "indent", "info"),
    [("```", "`", 3, 0, ""), ("   ~~~~ py x ", "~", 4, 3, "py x"), ("``` {.rust}", "`", 3, 0, "{.rust}")],
)
def test_opener_fields(line: str, char: str, length: int, indent: int, info: str) -> None:
    assert Fence.opener(line) == Fence(char, length, indent, info)


def test_backticks_in_a_backtick_fence_s_info_make_inline_code() -> None:
    assert Fence.opener("``` a`b") is None
    assert Fence.opener("~~~ a`b") is not None


def test_nested_lines_may_be_indented_further() -> None:
    assert Fence.opener("      ```js") is None
    fence = Fence.opener("      ```js", nested=True)
    assert fence is not None
    assert fence.lang == "js"
    assert fence.closes("      ```", nested=True)
    assert not fence.closes("      ```")


def test_closes_and_may_close() -> None:
    fence = Fence("`", 4, 0, "")
    assert fence.closes("````")
    assert fence.closes("   `````  ")
    assert not fence.closes("```")
    assert not fence.closes("    ````")
    assert not fence.closes("~~~~")
    assert fence.may_close("`")
    assert fence.may_close(" ``")
    assert not fence.may_close("")
    assert not fence.may_close("`a")
    assert not fence.may_close("~")


def test_content_takes_off_the_opener_s_indentation_only() -> None:
    fence = Fence("`", 3, 2, "")
    assert fence.content("    x") == "  x"
    assert fence.content(" x") == "x"


@pytest.mark.parametrize(
    ("info", "lang"), [("", ""), ("python", "python"), ("  js  extra ", "js"), ("{.x} y", "{.x}")]
)
def test_code_language(info: str, lang: str) -> None:
    assert code_language(info) == lang
