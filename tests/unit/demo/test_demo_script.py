"""The demo model: scripts, chunking and pacing (pure, without an event loop). The wire format
and the ASGI app are test_demo_wire.py."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.footnote import footnote_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

from server.demo import create_demo_app
from server.demo.pace import UNPACED_TOKENS_PER_SECOND, Pace
from server.demo.scripts import (
    HTTP_FAILURES,
    MENU,
    SLOW_TOKENS_PER_SECOND,
    STREAM_ERROR,
    Answers,
    Kind,
    choose,
)
from server.demo.tokens import JOIN, SPLIT, strip_marks, tokenize
from server.errors import ConfigError

MODELS = ("inkstream-demo", "inkstream-demo-fast")


def _markdown(text: str) -> list[Token]:
    md = MarkdownIt("gfm-like").use(footnote_plugin).use(tasklists_plugin)
    return md.parse(strip_marks(text))


def _fences(text: str) -> list[tuple[str, int]]:
    return [
        (token.info.strip(), token.content.count("\n")) for token in _markdown(text) if token.type == "fence"
    ]


# --- chunking ------------------------------------------------------------------------------


def test_every_answer_chunks_losslessly_and_the_same_way_twice(answers: Answers) -> None:
    again = Answers.load()
    for name, text in answers.texts.items():
        chunks = tokenize(text)
        assert "".join(chunks) == strip_marks(text), name
        assert all(chunks), name
        assert not any(SPLIT in chunk or JOIN in chunk for chunk in chunks), name
        assert tokenize(again.texts[name]) == chunks, name


def test_answer_sources_leave_no_visible_marks(answers: Answers) -> None:
    for name, text in answers.texts.items():
        assert "¦" not in text, name
        assert "‿" not in text, name


@given(st.text())
def test_tokenize_is_lossless_for_any_text(text: str) -> None:
    assert "".join(tokenize(text)) == strip_marks(text)


@given(st.lists(st.text(alphabet="ab *`|\n_#-", min_size=1), min_size=1))
def test_split_always_makes_a_boundary(parts: list[str]) -> None:
    chunks = tokenize(SPLIT.join(parts))
    boundaries = {0}
    offset = 0
    for chunk in chunks:
        offset += len(chunk)
        boundaries.add(offset)
    offset = 0
    for part in parts:
        offset += len(part)
        assert offset in boundaries


def test_tokens_look_like_a_real_models() -> None:
    assert tokenize("Hello, **bold** and `code`.") == [
        "Hello", ",", " **", "bold", "**", " and", " `", "code", "`.",
    ]  # fmt: skip
    assert tokenize("```python\nx = 1\n```") == [
        "```", "python", "\n", "x", " =", " ", "1", "\n", "```",
    ]  # fmt: skip
    assert tokenize("    return") == ["   ", " return"]


def test_long_words_are_cut_into_short_pieces() -> None:
    chunks = tokenize("internationalization")
    assert "".join(chunks) == "internationalization"
    assert max(len(chunk) for chunk in chunks) <= 4
    assert tokenize("            ") == ["            "]  # indentation stays whole


def test_marks_split_and_join_by_hand() -> None:
    text = f"a *{SPLIT}*bo{SPLIT}ld{JOIN}** b"
    assert tokenize(text) == ["a", " *", "*bo", "ld**", " b"]
    assert tokenize(f"``{SPLIT}`python{JOIN}\n") == ["``", "`python\n"]


def test_the_tour_splits_markdown_where_renderers_struggle(answers: Answers) -> None:
    chunks = tokenize(answers.texts["tour"])

    def has_run(*run: str) -> bool:
        return any(tuple(chunks[i : i + len(run)]) == run for i in range(len(chunks)))

    assert has_run("*", "*bo", "ld**")  # bold opened in two halves, closed glued to a word
    assert has_run("``", "`python\n")  # a fence in two pieces
    assert has_run(" `", "inline", " code", "`,")  # backticks apart from their content
    assert has_run("#", "#", " Why")  # "#" alone could still be a level-1 heading
    assert has_run(" bl", "ock", " only")  # a table cell split mid-word
    assert has_run("](", "https")  # a link split between text and URL


# --- the scripts ---------------------------------------------------------------------------


@pytest.mark.parametrize("item", MENU, ids=lambda item: item.prompt)
def test_every_menu_prompt_picks_its_script(item: Any, answers: Answers) -> None:
    assert choose(item.prompt, answers).name == item.script


@pytest.mark.parametrize(
    ("prompt", "name"),
    [
        ("", "tour"),
        ("Show me a TOUR", "tour"),
        ("markdown", "tour"),
        ("demo", "tour"),
        ("Hello there", "tour"),
        ("it doesn't belong", "tour"),
        ("my playlist", "tour"),
        ("write some Code", "code"),
        ("tables please", "table"),
        ("a list of lists", "list"),
        ("something long", "long"),
        ("HUGE", "huge"),
        ("long or huge?", "huge"),
        ("HELP", "help"),
        ("?", "help"),
        ("  ?  ", "help"),
        ("What can you do?", "help"),
        ("is this a question?", "tour"),
        ("help me with this table", "table"),
        ("Error", "error"),
        ("an error in my code", "error"),
        ("error 404", "error"),
        ("incomplete", "incomplete"),
        ("Error 401", "error 401"),
        ("error:429", "error 429"),
        ("error-500", "error 500"),
        ("error503", "error 503"),
        ("Rate limit me", "error 429"),
        ("rate-limited", "error 429"),
        ("echo error 500", "echo"),
    ],
)
def test_keywords(prompt: str, name: str, answers: Answers) -> None:
    assert choose(prompt, answers).name == name


def test_keyword_priority_is_the_one_help_states(answers: Answers) -> None:
    order = ["incomplete", "huge", "long", "code", "table", "list", "help"]
    stated = ", ".join(f"`{name}`" for name in order[:-1]) + f" and `{order[-1]}`, in that order"
    assert stated in answers.texts["help"]
    for index, name in enumerate(order):
        assert choose(" ".join(reversed(order[index:])), answers).name == name
    assert choose("echo error 429 " + " ".join(order), answers).name == "echo"
    assert choose("code error 429", answers).name == "error 429"
    assert choose("code error", answers).name == "error"


def test_script_kinds_and_failures(answers: Answers) -> None:
    assert choose("tour", answers).kind is Kind.ANSWER
    error = choose("error", answers)
    assert error.kind is Kind.STREAM_ERROR
    assert error.failure == STREAM_ERROR
    assert error.text.strip()
    assert choose("incomplete", answers).kind is Kind.INCOMPLETE
    for status, failure in HTTP_FAILURES.items():
        script = choose(f"error {status}", answers)
        assert script.kind is Kind.HTTP_ERROR
        assert script.failure is failure
        assert failure.status == status
    assert HTTP_FAILURES[429].retry_after == 7
    assert HTTP_FAILURES[503].retry_after is not None
    assert HTTP_FAILURES[401].code == "invalid_api_key"


def test_echo_returns_the_rest_verbatim(answers: Answers) -> None:
    assert choose("echo **hi**  there", answers).text == "**hi**  there"
    assert choose("Echo\n| a |\n|---|\n", answers).text == "| a |\n|---|\n"
    assert choose("echo", answers).text == ""
    assert choose("echoes", answers).name == "tour"


def test_slow_slows_down_any_answer(answers: Answers) -> None:
    slow = choose("slow", answers)
    assert slow.name == "tour"
    assert slow.tokens_per_second == SLOW_TOKENS_PER_SECOND
    assert choose("slow table", answers).name == "table"
    assert choose("slow table", answers).tokens_per_second == SLOW_TOKENS_PER_SECOND
    assert choose("table", answers).tokens_per_second is None


def test_help_names_every_prompt_and_how_to_connect(answers: Answers) -> None:
    text = answers.texts["help"]
    for item in MENU:
        assert f"`{item.prompt}`" in text
    for extra in ("`?`", "`what can you do`", "`rate limit`", "`markdown`", "`demo`"):
        assert extra in text
    for variable in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "INKSTREAM_MODEL"):
        assert variable in text
    assert "no API key" in text
    assert "<!--" not in text


def test_the_tour_shows_every_kind_of_markdown(answers: Answers) -> None:
    text = strip_marks(answers.texts["tour"])
    tokens = _markdown(text)
    kinds = {token.type for token in tokens}
    assert {"h1", "h2", "h3"} <= {token.tag for token in tokens if token.type == "heading_open"}
    inline = {child.type for token in tokens for child in token.children or []}
    assert {"strong_open", "em_open", "code_inline", "s_open", "link_open"} <= inline
    assert "footnote_ref" in inline
    assert "footnote_block_open" in kinds
    assert "***both at once***" in text
    assert "blockquote_open" in kinds
    assert "- [x]" in text
    assert "- [ ]" in text
    assert max(token.level for token in tokens if token.type == "bullet_list_open") >= 4
    assert "ordered_list_open" in kinds
    rows = [token for token in tokens if token.type == "tr_open"]
    cells = [token for token in tokens if token.type == "th_open"]
    assert len(rows) >= 6
    assert len(cells) >= 4
    styles = {str(token.attrs.get("style")) for token in cells}
    assert {"text-align:center", "text-align:right"} <= styles
    fences = dict(_fences(text))
    assert set(fences) == {"python", "javascript", "sql"}
    assert all(10 <= lines <= 25 for lines in fences.values()), fences


def test_the_focused_answers(answers: Answers) -> None:
    code = {language for language, _ in _fences(answers.texts["code"])}
    assert {"python", "javascript", "sql", "bash"} <= code
    tables = [t for t in _markdown(answers.texts["table"]) if t.type == "table_open"]
    assert len(tables) >= 2
    lists = _markdown(answers.texts["list"])
    assert {"bullet_list_open", "ordered_list_open", "fence"} <= {t.type for t in lists}
    assert any(t.type == "fence" and t.level > 0 for t in lists)  # code inside a list item


def test_long_and_huge_are_big_and_varied(answers: Answers) -> None:
    long = answers.texts["long"]
    assert len(long.encode()) >= 20 * 1024
    assert len(_fences(long)) >= 5
    assert {"table_open", "bullet_list_open", "ordered_list_open"} <= {
        token.type for token in _markdown(long)
    }

    huge = answers.texts["huge"]
    assert len(huge.encode()) >= 200 * 1024
    tokens = _markdown(huge)
    rows_per_table: list[int] = []
    for token in tokens:
        if token.type == "table_open":
            rows_per_table.append(0)
        elif token.type == "tr_open":
            rows_per_table[-1] += 1
    assert max(rows_per_table) >= 100
    big_fences = [lines for _, lines in _fences(huge) if lines >= 40]
    assert len(big_fences) >= 30
    assert "bullet_list_open" in {token.type for token in tokens}


def test_huge_is_the_same_every_time() -> None:
    assert Answers.load().texts["huge"] == Answers.load().texts["huge"]


# --- pacing --------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.3, 7.0, 8.0, 60.0, 333.3, 9_999.0])
@pytest.mark.parametrize("ttft", [0.0, 0.35, 2.0])
def test_ready_agrees_with_due(rate: float, ttft: float) -> None:
    pace = Pace(ttft=ttft, tokens_per_second=rate)
    total = 500
    assert pace.ready(ttft - 1e-9, total) == 0
    for index in range(total):
        due = pace.due(index)
        assert pace.ready(due, total) >= index + 1
        assert pace.ready(due - 1e-9, total) <= index
    assert pace.ready(pace.due(total) + 100, total) == total


def test_unpaced_means_all_at_once_after_ttft() -> None:
    pace = Pace(ttft=0.5, tokens_per_second=UNPACED_TOKENS_PER_SECOND)
    assert pace.unpaced
    assert pace.due(0) == pace.due(10_000) == 0.5
    assert pace.ready(0.4, 1000) == 0
    assert pace.ready(0.5, 1000) == 1000


@pytest.mark.parametrize(("ttft", "rate"), [(-1.0, 10.0), (0.0, 0.0), (0.0, -5.0)])
def test_bad_pace_is_refused(ttft: float, rate: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        Pace(ttft=ttft, tokens_per_second=rate)
    with pytest.raises(ConfigError):
        create_demo_app(ttft=ttft, tokens_per_second=rate)
