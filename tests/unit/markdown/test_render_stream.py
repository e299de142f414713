"""The streaming renderer on realistic answers and on the cases that break naive renderers."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import pytest

from server.demo.scripts import Answers
from server.demo.tokens import strip_marks, tokenize
from server.markdown.document import StreamRenderer
from server.markdown.engine import Markdown
from server.markdown.fences import HIGHLIGHT_LINES
from tests.support.dom import Page, canonical, serialize
from tests.support.streaming import CHUNKERS, by_char, raw_syntax_flashes, stream, visible_text


@pytest.fixture(scope="module")
def markdown() -> Markdown:
    return Markdown()


@pytest.fixture(scope="module")
def answers() -> Answers:
    return Answers.load()


def demo_tokens(text: str) -> Iterator[str]:
    """The demo model's own chunking: markers split the way real tokenizers split them."""
    yield from tokenize(text)


REALISTIC = ["tour", "code", "table", "list", "long", "help"]


@pytest.mark.parametrize("chunking", ["model", "char", "random"])
@pytest.mark.parametrize("name", REALISTIC)
def test_realistic_answers_never_flash_raw_syntax(
    markdown: Markdown, answers: Answers, name: str, chunking: str
) -> None:
    text = strip_marks(answers.texts[name])
    chunker = demo_tokens if chunking == "model" else CHUNKERS[chunking]
    source = answers.texts[name] if chunking == "model" else text
    run = stream(markdown, source, chunker, keep_displays=True)
    final = markdown.render(text)
    assert "".join(run.renderer.blocks) == final
    assert canonical(run.page.html()) == canonical(final)
    assert raw_syntax_flashes(run.displays, final) == []
    # Only footnotes wait for the end (their section is rendered once the answer is known).
    assert run.splices == 0 or "[^" in text


def test_the_tour_reconciles_only_its_footnote(markdown: Markdown, answers: Answers) -> None:
    run = stream(markdown, answers.texts["tour"], demo_tokens)
    # The footnote's reference and its section: known only once the definition arrived.
    assert 1 <= run.renderer.stats.reconciled <= 2
    assert run.frozen_lost <= 1


def test_frozen_nodes_stay_the_same_objects(markdown: Markdown) -> None:
    text = "# Title\n\nFirst paragraph with **bold**.\n\nSecond paragraph.\n\n- a\n- b\n\nEnd.\n"
    renderer = StreamRenderer(markdown)
    page = Page()
    first = None
    for char in text:
        renderer.feed(char)
        page.apply(renderer.update())
        if first is None and page.frozen_nodes():
            first = page.frozen_nodes()[0]
    page.apply(renderer.finish())
    assert first is not None
    assert page.frozen_nodes()[0] is first


def test_a_committed_paragraph_keeps_its_nodes_when_it_freezes(markdown: Markdown) -> None:
    renderer = StreamRenderer(markdown)
    page = Page()
    renderer.feed("Some words here")
    page.apply(renderer.update())
    live = page.level.live[0]
    renderer.feed("\n\nNext")
    ops = renderer.update()
    assert ops[0] == {"op": "freeze", "id": 1}
    page.apply(ops)
    assert page.frozen_nodes()[0] is live


def test_plain_words_take_the_fast_path(markdown: Markdown, answers: Answers) -> None:
    renderer = StreamRenderer(markdown)
    for piece in tokenize(answers.texts["long"]):
        renderer.feed(piece)
        renderer.update()
    renderer.finish()
    stats = renderer.stats
    assert stats.fast_appends > stats.updates * 0.4, stats


@pytest.mark.parametrize("name", REALISTIC)
def test_fast_path_shows_what_a_full_render_shows(markdown: Markdown, answers: Answers, name: str) -> None:
    """Text appended by ``tail`` must look exactly like the render it replaces."""
    fast = StreamRenderer(markdown)
    slow = StreamRenderer(markdown, fast_path=False)
    fast_page, slow_page = Page(), Page()
    for index, piece in enumerate(tokenize(answers.texts[name])):
        for renderer, page in ((fast, fast_page), (slow, slow_page)):
            renderer.feed(piece)
            page.apply(renderer.update())
        # The two may stream a paragraph in differently shaped (equally valid) DOM, but what
        # the reader sees must be the same (compared in full every so often: it is costly).
        if index % 25 == 0:
            assert _squash(fast_page.content_html()) == _squash(slow_page.content_html())
    assert _squash(fast_page.content_html()) == _squash(slow_page.content_html())
    assert fast.stats.fast_appends > 0


def _squash(html: str) -> str:
    # Allowed differences: white space at the end of a text the render would trim, and how
    # text is split into elements that show nothing of their own (chrome wrappers are gone).
    return re.sub(r"\s+(<|$)", r"\1", canonical(html))


def test_list_items_freeze_inside_the_list(markdown: Markdown) -> None:
    text = "".join(f"- item number {i} with some words\n" for i in range(30))
    renderer = StreamRenderer(markdown)
    ops_seen = []
    for char in text:
        renderer.feed(char)
        ops_seen += renderer.update()
    assert ops_seen[0]["op"] in ("live", "open")
    assert any(op["op"] == "open" for op in ops_seen)
    appended = [op for op in ops_seen if op["op"] in ("append", "freeze")]
    assert len(appended) >= 25  # items froze one by one, inside the open list


def test_a_list_that_turns_loose_is_rewritten_once(markdown: Markdown) -> None:
    text = "- a\n- b\n- c\n\n- d\n\nAfter.\n"
    run = stream(markdown, text, by_char)
    assert run.renderer.stats.rewrites == 1
    assert canonical(run.page.html()) == canonical(markdown.render(text))


def test_ordered_list_start_number_is_kept(markdown: Markdown) -> None:
    text = "3. three\n4. four\n5. five\n\nDone.\n"
    run = stream(markdown, text, by_char)
    assert '<ol start="3">' in run.page.html()
    assert run.renderer.stats.rewrites == 0


def test_table_rows_append_and_the_header_shows_as_a_table_at_once(markdown: Markdown) -> None:
    text = (
        "| Name | Qty |\n| --- | ---: |\n" + "".join(f"| row {i} | {i} |\n" for i in range(20)) + "\nEnd.\n"
    )
    run = stream(markdown, text, by_char, keep_displays=True)
    # As soon as the header line is complete, it is a table, not "| Name | Qty |" text.
    header_done = len("| Name | Qty |\n")
    assert "<table>" in run.displays[header_done - 1]
    assert "|" not in visible_text(run.displays[header_done + 3])
    assert canonical(run.page.html()) == canonical(markdown.render(text))
    assert run.renderer.stats.rewrites == 0


def test_open_fence_streams_lines_highlighted_and_never_shows_its_closer(markdown: Markdown) -> None:
    code = "".join(f"def f{i}(x):\n    return x * {i}\n" for i in range(20))
    text = "Intro:\n\n```python\n" + code + "```\n\nAfter.\n"
    seen: dict[int, str] = {}
    middle = len("Intro:\n\n```python\n") + 300  # past the first batch of highlighted lines

    def probe(index: int, page: Page) -> None:
        if index == middle:
            seen[index] = page.html()

    run = stream(markdown, text, by_char, keep_displays=True, probe=probe)
    for display in run.displays:
        assert "```" not in display
    # Lines are coloured while the block is still open.
    assert '<span class="k">def</span>' in seen[middle]
    assert run.renderer.stats.rewrites == 0  # the streamed highlight was the final one
    assert canonical(run.page.html()) == canonical(markdown.render(text))


def test_fence_highlighting_is_per_line_not_per_token(markdown: Markdown) -> None:
    code = "".join(f"value_{i} = compute({i}, 'text')\n" for i in range(300))
    text = "```python\n" + code + "```\n"
    run = stream(markdown, text, by_char)
    # Every line is lexed once while streaming (the last batch is finished by the block's
    # one-shot render at the close), never once per token.
    assert 300 - HIGHLIGHT_LINES <= run.renderer.stats.highlighted_lines <= 300


def test_healing_is_code_aware(markdown: Markdown) -> None:
    text = "```sql\nSELECT $__timeFilter(ts), a_b * 2 FROM t\n```\n\nUse `$__x` and *it"
    run = stream(markdown, text, by_char, keep_displays=True)
    for display in run.displays:
        assert "timeFilter__" not in display
        assert "a_b__" not in display
        assert "__x__" not in display
        assert "$__x`" not in display
    assert "<em>it</em>" in run.displays[-1]


@pytest.mark.parametrize(
    ("prefix", "shown"),
    [
        ("Use **bo", "<p>Use <strong>bo</strong></p>"),
        ("my name is **", "<p>my name is</p>"),
        ("Intro\n-", "<p>Intro</p>"),
        ("- item\n - ", "<ul><li>item</li></ul>"),
        ("Some `code", "<p>Some <code>code</code></p>"),
        ("A [link](https://exa", "<p>A link</p>"),
        ("An ![image](https://x", "<p>An</p>"),
        ("Text <div cla", "<p>Text</p>"),
        ("| a | b |\n|--", "<table><thead><tr><th>a</th><th>b</th></tr></thead></table>"),
        ("x ~~gone", "<p>x <s>gone</s></p>"),
        ("**bold *it", "<p><strong>bold <em>it</em></strong></p>"),
        ("这是**重要", "<p>这是<strong>重要</strong></p>"),
    ],
)
def test_live_block_is_healed(markdown: Markdown, prefix: str, shown: str) -> None:
    renderer = StreamRenderer(markdown)
    page = Page()
    renderer.feed(prefix)
    page.apply(renderer.update())
    assert canonical(page.content_html()) == canonical(shown)


def test_late_reference_definition_is_fixed_by_the_reconcile_alone(markdown: Markdown) -> None:
    text = "See [the docs].\n\nMore text.\n\nAnd more.\n\n[the docs]: https://x.org\n"
    run = stream(markdown, text, by_char)
    assert run.renderer.stats.reconciled == 1  # only the paragraph that uses it
    assert 'href="https://x.org"' in run.page.html()


def test_footnotes_render_at_the_end(markdown: Markdown) -> None:
    text = "Claim[^1].\n\nMore text.\n\n[^1]: Source.\n"
    run = stream(markdown, text, by_char, keep_displays=True)
    assert all("Source." not in d for d in run.displays)
    assert canonical(run.page.html()) == canonical(markdown.render(text))


def test_crlf_split_across_pieces_is_one_line_break(markdown: Markdown) -> None:
    renderer = StreamRenderer(markdown)
    for piece in ["line one\r", "\nline two\r", "\r\n", "para\0"]:
        renderer.feed(piece)
        renderer.update()
    renderer.finish()
    assert renderer.source == "line one\nline two\n\npara\ufffd"


def test_cost_is_linear_in_the_answer(markdown: Markdown, answers: Answers) -> None:
    """Characters parsed grow in proportion to the answer (a count, not a timing)."""
    text = strip_marks(answers.texts["long"])
    ratios = []
    for copies in (1, 2, 4):
        renderer = StreamRenderer(markdown)
        doc = "\n\n".join([text] * copies)
        for i in range(0, len(doc), 4):
            renderer.feed(doc[i : i + 4])
            renderer.update()
        renderer.finish()
        ratios.append(renderer.stats.parsed_chars / len(doc))
    assert max(ratios) < 1.25 * min(ratios), ratios


def test_a_huge_single_list_stays_linear(markdown: Markdown) -> None:
    ratios = []
    for items in (200, 400, 800):
        doc = "".join(f"{i + 1}. step {i} does a thing\n" for i in range(items))
        renderer = StreamRenderer(markdown)
        for char in doc:
            renderer.feed(char)
            renderer.update()
        renderer.finish()
        ratios.append(renderer.stats.parsed_chars / len(doc))
    assert max(ratios) < 1.25 * min(ratios), ratios


WORDS = "word " * 40

# Paragraphs of many lines and quotes stream as containers (paragraphs.py, quotes.py); what
# can end them or change them mid-way, each way it can come.
WRAPPED = [
    "   " + WORDS + "end\n\nnext",
    WORDS + "\n" + WORDS + "\n   " + WORDS + "\n\nafter",
    WORDS + "\n" + WORDS + "\n===\n",
    WORDS + "\n" + WORDS + "\n---\n",
    WORDS + "\na | b\n--- | ---\nc | d\n",
    WORDS + "  \n" + WORDS + "\\\n" + WORDS,
    WORDS + "\n*emph " + WORDS + "\nmore* done " + WORDS,
    WORDS + "\n- item " + WORDS,
    WORDS + "\n2. not a list " + WORDS + "\n1. a list",
    WORDS + "\n    indented continuation " + WORDS,
    WORDS + "\n2024 was a year " + WORDS,
    "> " + WORDS + "\n> " + WORDS + "\n> " + WORDS + "\n\nafter",
    "> " + WORDS + "\nlazy " + WORDS + "\n> more\n\n> new quote",
    "> ```\n> code\n> ```\n> para " + WORDS + "\n> - item\n>   - nested " + WORDS + "\n\nend",
    ">> nested " + WORDS + "\n>> " + WORDS + "\n> outer\n\nx",
    ">\t\tfoo " + WORDS + "\n>\tbar\n",
    "> [ref]\n> " + WORDS + "\n\n[ref]: /url\n",
    "> a\n> b\n---\n> c\n",
    "> quote\n# heading\n",
    # Code in list items is highlighted as it grows (Highlighter.live_block), exactly once frozen.
    '1. step:\n   ```python\n   s = """a\n   b"""\n   x = 1\n   ```\n2. next\n',
    "- a\n\n  ```sql\n  /* multi\n  line */ SELECT 1;\n  ```\n- b\n",
]


@pytest.mark.parametrize("chunking", list(CHUNKERS))
@pytest.mark.parametrize("doc", WRAPPED)
def test_wrapped_paragraphs_and_quotes_end_as_the_one_shot_render(
    markdown: Markdown, doc: str, chunking: str
) -> None:
    run = stream(markdown, doc, CHUNKERS[chunking])
    one_shot = markdown.render(doc)
    assert "".join(run.renderer.blocks) == one_shot
    assert canonical(run.page.html()) == canonical(one_shot)


@pytest.mark.parametrize(
    "line",
    [
        "plain line {} with *emphasis* here",
        "> quoted line {} with *emphasis* here",
        ">> deeper {} and `code`",
    ],
)
def test_a_long_wrapped_paragraph_or_quote_stays_linear(markdown: Markdown, line: str) -> None:
    """Each new line re-parsed the whole paragraph or quote before they streamed as
    containers: 100 characters parsed per character at 100 lines, 200 at 400."""
    ratios = []
    for lines in (50, 100, 200):
        doc = "".join(line.format(i) + "\n" for i in range(lines)) + "\nAfter.\n"
        renderer = StreamRenderer(markdown)
        for i in range(0, len(doc), 4):
            renderer.feed(doc[i : i + 4])
            renderer.update()
        renderer.finish()
        assert "".join(renderer.blocks) == markdown.render(doc)
        ratios.append(renderer.stats.parsed_chars / len(doc))
    assert max(ratios) < 1.25 * min(ratios), ratios
    assert max(ratios) < 12, ratios


def test_code_in_a_list_item_is_highlighted_once_as_it_grows() -> None:
    """A list item is parsed again per line; the code block in it must not be lexed again
    whole each time (that is quadratic: a 200-line block lexed 100 times over). Lines are
    lexed once as they come (the line being typed again per update) and once more, whole,
    when the item freezes."""
    ratios = []
    for lines in (100, 200, 400):
        markdown = Markdown()
        code = "".join(f"   total_{i} = compute(values[{i}], scale={i % 7})\n" for i in range(lines))
        doc = "1. First step:\n\n   ```python\n" + code + "   ```\n\n2. Second step\n"
        renderer = StreamRenderer(markdown)
        for i in range(0, len(doc), 4):
            renderer.feed(doc[i : i + 4])
            renderer.update()
        renderer.finish()
        assert "".join(renderer.blocks) == Markdown().render(doc)
        ratios.append(markdown.highlighter.lexed_chars / len(code))
    assert max(ratios) < 1.25 * min(ratios), ratios


# Found by fuzzing: a block whose first line looked settled turned into something else.
MISREAD = [
    "- a | b\n--|--\n\nafter\n",  # a list item that is a table header (the table was lost)
    "* |\n|-",
    "alpha *beta* gamma " * 8 + "done\n===\nmore\n\n",  # a setext underline ends a long paragraph
    "> a | b\n--- | ---\n> c\n",  # a quote line that is a table header
    ">|`\n-|-\n>\n",
    "```|.\n-|-\n#",  # ... and a fence opener
    "intro\n```python`\n",  # a backtick in a fence's info: no fence, the paragraph goes on
    "m\n```x`",
    "m\na|\n-- -",  # a delimiter row being typed that ends up none
    "m\n|>\n|-\\",
]


def _pieces_of(size: int) -> Callable[[str], Iterator[str]]:
    def chunks(text: str) -> Iterator[str]:
        for i in range(0, len(text), size):
            yield text[i : i + size]

    return chunks


@pytest.mark.parametrize("chunking", [*CHUNKERS, "4", "13"])
@pytest.mark.parametrize("doc", MISREAD)
def test_a_block_that_turns_out_otherwise_is_never_frozen_wrong(
    markdown: Markdown, doc: str, chunking: str
) -> None:
    chunker = CHUNKERS[chunking] if chunking in CHUNKERS else _pieces_of(int(chunking))
    run = stream(markdown, doc, chunker)
    one_shot = markdown.render(doc)
    assert "".join(run.renderer.blocks) == one_shot
    assert canonical(run.page.html()) == canonical(one_shot)
    assert run.splices == 0


# Known failures of other streaming renderers, as regression tests.


def test_streamdown_67_code_is_never_healed(markdown: Markdown) -> None:
    """Streamdown #67: an outer fence got `*`/`_` appended to close "emphasis" inside it."""
    text = "````markdown\nSome **bold and _it and `code\n```js\nlet a_b = 1 * 2\n```\n````\n\nAfter."
    seen: list[str] = []

    def probe(index: int, page: Page) -> None:
        code = page.root.find("code")
        if code is not None:
            seen.append(html.unescape(re.sub(r"<[^>]+>", "", serialize(code.children))))

    run = stream(markdown, text, by_char, probe=probe)
    final = text.split("\n", 1)[1].rsplit("````", 1)[0]
    for shown in seen:
        assert final.startswith(shown), shown  # code only ever grows by its own characters
    assert canonical(run.page.html()) == canonical(markdown.render(text))


@pytest.mark.parametrize("prefix", ["my name is **", "- item\n - ", "- item\n- ", "text *", "a `"])
def test_streamdown_539_no_raw_markers_at_the_end(markdown: Markdown, prefix: str) -> None:
    """Streamdown #539: `my name is **` and `- item\\n - ` were left raw."""
    renderer = StreamRenderer(markdown)
    page = Page()
    renderer.feed(prefix)
    page.apply(renderer.update())
    text = visible_text(page.content_html())
    assert "*" not in text
    assert "`" not in text
    assert "-" not in text


def test_streamdown_68_a_list_item_does_not_jump_to_a_new_line(markdown: Markdown) -> None:
    """Streamdown #68: a list item's text jumped to a new line when the next chunk arrived."""
    text = "- first item with some words\n- second item keeps its line"
    run = stream(markdown, text, by_char, keep_displays=True)
    for display in run.displays:
        assert "<p>" not in display
        assert "<br" not in display
        for line in visible_text(display).strip().split("\n"):
            assert not line.startswith("-")


def test_streamdown_402_highlighting_never_flickers_back_to_plain(markdown: Markdown) -> None:
    """Streamdown #402: a code block flickered back to raw text for a frame."""
    code = "".join(f"def step_{i}(x):\n    return x + {i}\n" for i in range(30))
    text = "```python\n" + code + "```\n"
    colored: list[int] = []

    def probe(index: int, page: Page) -> None:
        code_el = page.root.find("code")
        if code_el is not None:
            colored.append(serialize(code_el.children).count("<span"))

    stream(markdown, text, by_char, probe=probe)
    assert colored[-1] > 0
    assert colored == sorted(colored)  # the number of coloured tokens never goes down
