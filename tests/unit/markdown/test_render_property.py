"""Random markdown-like answers, random chunkings: always the one-shot render at the end."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.markdown.document import StreamRenderer
from server.markdown.engine import Markdown
from tests.support.dom import Page, canonical

MARKDOWN = Markdown()

words = st.sampled_from(
    ["alpha", "beta", "γάμμα", "日本", "x", "snake_case", "2*3", "a_b", "C++", "e.g.", "www.example.com",
     "https://x.org/a?b=1", "emoji🙂", "&amp;", "<div>", "\\*", "1.", "-", "|", ":", "$__x"]
)  # fmt: skip
inline = st.one_of(
    words,
    words.map(lambda w: f"**{w}**"),
    words.map(lambda w: f"*{w}*"),
    words.map(lambda w: f"_{w}_"),
    words.map(lambda w: f"~~{w}~~"),
    words.map(lambda w: f"`{w}`"),
    words.map(lambda w: f"[{w}](https://example.com/{len(w)})"),
    words.map(lambda w: f"![{w}](https://img.example/{len(w)}.png)"),
    words.map(lambda w: f"[{w}]"),
    words.map(lambda w: f"[^{len(w)}]"),
    st.just("**unclosed"),
    st.just("`open"),
)
sentence = st.lists(inline, min_size=1, max_size=8).map(" ".join)
paragraph = st.lists(sentence, min_size=1, max_size=3).map("\n".join)
heading = st.tuples(st.integers(1, 6), sentence).map(lambda t: "#" * t[0] + " " + t[1])
setext = st.tuples(sentence, st.sampled_from(["===", "---"])).map("\n".join)
bullet = st.lists(sentence, min_size=1, max_size=5).map(lambda items: "\n".join(f"- {i}" for i in items))
ordered = st.tuples(st.integers(1, 9), st.lists(sentence, min_size=1, max_size=5)).map(
    lambda t: "\n".join(f"{t[0] + n}. {item}" for n, item in enumerate(t[1]))
)
loose = st.lists(sentence, min_size=2, max_size=4).map(lambda items: "\n\n".join(f"* {i}" for i in items))
nested = st.tuples(sentence, bullet).map(
    lambda t: f"1. {t[0]}\n" + "\n".join("   " + line for line in t[1].split("\n"))
)
cell = st.one_of(inline, st.just(""), st.sampled_from(["a \\| b", "a \\\\| b", "`x|y`", "\\", " pad "]))
row = st.tuples(
    st.sampled_from(["", " ", "   "]), st.lists(cell, min_size=1, max_size=5), st.booleans(), st.booleans()
).map(lambda t: t[0] + ("| " if t[2] else "") + " | ".join(t[1]) + (" |" if t[3] else ""))
table = st.tuples(
    st.integers(1, 4),
    st.lists(st.sampled_from([" --- ", ":---", "---:", " :-: "]), min_size=4, max_size=4),
    st.lists(row, min_size=0, max_size=6),
).map(
    lambda t: "\n".join(
        ["| " + " | ".join(f"h{i}" for i in range(t[0])) + " |", "|" + "|".join(t[1][: t[0]]) + "|", *t[2]]
    )
)
fence = st.tuples(
    st.sampled_from(["python", "js", "sql", "", "nosuchlang"]), st.lists(sentence, max_size=6)
).map(lambda t: f"```{t[0]}\n" + "\n".join(t[1]) + "\n```")
unclosed_fence = st.tuples(st.sampled_from(["python", ""]), st.lists(sentence, max_size=3)).map(
    lambda t: f"~~~{t[0]}\n" + "\n".join(t[1])
)
quote = sentence.map(lambda s: "> " + s.replace("\n", "\n> "))
definition = words.map(lambda w: f"[{w}]: https://ref.example/{len(w)}")
footnote = st.integers(0, 9).map(lambda n: f"[^{n}]: note {n}")
rule = st.sampled_from(["---", "***", "___"])
block = st.one_of(
    paragraph,
    heading,
    setext,
    bullet,
    ordered,
    loose,
    nested,
    table,
    fence,
    quote,
    definition,
    footnote,
    rule,
)
document = st.tuples(st.lists(block, min_size=1, max_size=8), st.sampled_from(["\n\n", "\n", "\n\n\n"])).map(
    lambda t: t[1].join(t[0])
)
document = st.tuples(document, st.one_of(st.just(""), unclosed_fence.map(lambda f: "\n\n" + f))).map("".join)


def chunked(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points) if b > a]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document, st.lists(st.integers(0, 10_000), max_size=40))
def test_any_chunking_ends_as_the_one_shot_render(text: str, cuts: list[int]) -> None:
    renderer = StreamRenderer(MARKDOWN)
    page = Page()
    for piece in chunked(text, cuts):
        renderer.feed(piece)
        ops = renderer.update()
        assert all(op["op"] != "splice" for op in ops)
        page.apply(ops)
    page.apply(renderer.finish())
    one_shot = MARKDOWN.render(text)
    assert "".join(renderer.blocks) == one_shot
    assert canonical(page.html()) == canonical(one_shot)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document)
def test_char_by_char_ends_as_the_one_shot_render(text: str) -> None:
    renderer = StreamRenderer(MARKDOWN)
    page = Page()
    for char in text:
        renderer.feed(char)
        page.apply(renderer.update())
    page.apply(renderer.finish())
    assert canonical(page.html()) == canonical(MARKDOWN.render(text))
