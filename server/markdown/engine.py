"""The one Markdown configuration every render goes through (pure).

CommonMark plus what chat answers use: GFM tables, ``~~strikethrough~~``, task lists, linkify
and footnotes; raw HTML off. Model output is untrusted, so on top of markdown-it-py:

* links are allowed only to http(s), mailto and relative targets (no javascript:, vbscript:,
  data:, file:); external ones open in a new tab without a referrer;
* images are never loaded: each becomes a link the user may choose to follow (markdown images
  are a known data-exfiltration channel — the URL is fetched the moment it is shown);
* table alignment is a class, not a ``style`` attribute, so the page's CSP needs no
  ``unsafe-inline``;
* code blocks are highlighted with Pygments and framed with a header and a copy button.

The frame around code blocks and tables is *chrome*: it carries ``data-chrome`` (``wrap`` for
an element whose children are content, ``ui`` for controls), so a test or a copy can strip it
and get markdown-it-py's own HTML back.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, cast

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict, OptionsType
from mdit_py_plugins.footnote import footnote_plugin

from .fence import code_language
from .highlight import Highlighter, escape

_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
_ALLOWED_SCHEMES = frozenset({"http", "https", "mailto"})
# A dot (also the ideographic and full-width ones linkify accepts), a colon, an @, or the "//"
# of a protocol-relative link ("//localhost").
_LINK_MARKS = (".", ":", "@", "//", "\u3002", "\uff0e", "\uff61")
_ALIGN = re.compile(r"text-align:(left|right|center)")

CODE_OPEN = (
    '<div class="codeblock" data-chrome="wrap">'
    '<div class="codeblock-head" data-chrome="ui">'
    '<span class="codeblock-lang">{label}</span>'
    '<button type="button" class="copy" data-copy>Copy</button>'
    "</div>"
)
CODE_CLOSE = "</div>"
# In a render's env: the render is of a live block (Markdown.render_tokens).
LIVE = "inkstreamLive"
TABLE_OPEN = '<div class="table-scroll" data-chrome="wrap">'
TABLE_CLOSE = "</div>"


def is_safe_url(url: str) -> bool:
    """True for links we let a user click: http(s), mailto, or no scheme (relative, #anchor)."""
    candidate = url.strip().lower()
    match = _SCHEME.match(candidate)
    return match is None or match.group(1) in _ALLOWED_SCHEMES


class Markdown:
    """A configured markdown-it-py instance plus the pieces the streaming renderer needs."""

    def __init__(self) -> None:
        self.highlighter = Highlighter()
        md = MarkdownIt(
            "commonmark",
            {
                "html": False,
                "linkify": True,
                "typographer": False,
                "tasklists": True,
                "highlight": self._highlight,
            },
        )
        md.enable(["table", "strikethrough", "linkify"])
        md.use(footnote_plugin)
        md.validateLink = is_safe_url  # type: ignore[method-assign]
        assert md.linkify is not None
        md.linkify.set({"fuzzy_email": False})
        # Every link linkify can find has one of _LINK_MARKS; most text has none of those
        # after a word, and linkify's own pretest costs as much as the rest of a parse.
        full_pretest = md.linkify.pretest

        def pretest(text: str) -> bool:
            return any(mark in text for mark in _LINK_MARKS) and bool(full_pretest(text))

        md.linkify.pretest = pretest
        _install_render_rules(md, self._highlight_live)
        self.md = md

        # The core chain split in two: block structure, then everything that fills in inline
        # content (inline, linkify, ..., footnote_tail), so a caller can do the second part
        # only for the blocks it needs.
        ruler = md.core.ruler
        rules = list(zip(ruler.get_active_rules(), ruler.getRules(""), strict=True))
        self._block_rules = [fn for name, fn in rules if name in ("normalize", "block")]
        # The footnote section is built only from a whole answer's parse (parse()).
        self._inline_rules = [fn for name, fn in rules if name not in ("normalize", "block", "footnote_tail")]

    def _highlight(self, code: str, lang: str, attrs: str) -> str:
        return self.highlighter.block(code, lang)

    def _highlight_live(self, code: str, lang: str, attrs: str) -> str:
        return self.highlighter.live_block(code, lang)

    def parse(self, src: str, env: EnvType) -> list[Token]:
        return self.md.parse(src, env)

    def parse_blocks(self, src: str, env: EnvType) -> list[Token]:
        """Block structure only: ``inline`` tokens hold their content, not yet parsed. Reference
        and footnote definitions are collected into ``env``, as a full parse does."""
        state = StateCore(src, self.md, env)
        for rule in self._block_rules:
            rule(state)
        return state.tokens

    def fill_inline(self, tokens: list[Token], env: EnvType) -> None:
        """Finish ``tokens`` from parse_blocks() as the rest of a full parse would (each block
        on its own: only footnotes, which are numbered across the answer, need them all)."""
        state = StateCore("", self.md, env)
        state.tokens = tokens
        for rule in self._inline_rules:
            rule(state)

    def parse_reusing(self, src: str, env: EnvType, known: dict[str, list[Token]]) -> list[Token]:
        """``parse()``, but inline content already parsed (in ``known``, filled here) is not
        parsed again: a live block is parsed once per line, and its earlier lines do not
        change. Only content without "[" is reused: references and footnotes, the env's part
        in inline parsing, all start with one."""
        if "[^" in src:
            return self.parse(src, env)
        tokens = self.parse_blocks(src, env)
        todo = []
        for token in tokens:
            if token.type == "inline":
                children = known.get(token.content)
                if children is None:
                    todo.append(token)
                else:
                    token.children = children
        if todo:
            self.fill_inline(todo, env)
            if len(known) > 512:
                known.clear()
            for token in todo:
                if "[" not in token.content:
                    known[token.content] = token.children or []
        return tokens

    def render_tokens(self, tokens: Sequence[Token], env: EnvType, *, live: bool = False) -> str:
        """HTML of ``tokens``. ``live``: for a live block, shown until it freezes (code in it
        is highlighted as it grows, see Highlighter.live_block)."""
        if live:
            env = {**env, LIVE: True}
        return str(self.md.renderer.render(tokens, self.md.options, env))

    def render_token(self, tokens: Sequence[Token], index: int) -> str:
        """One token alone (a container's opening tag)."""
        renderer = self.md.renderer
        assert isinstance(renderer, RendererHTML)
        return renderer.renderToken(tokens, index, self.md.options, {})

    def render_inline(self, text: str, env: EnvType) -> str:
        """Inline HTML of paragraph text (the footnote tail a parse may append left out).

        ``parseInline`` without its first two rules: the text is normalised already (the
        renderer's feed() does it) and is one inline token by definition."""
        if self._plain_text(text):
            # Most of a live paragraph's or table cell's text: what the rules would make of it
            # is one text token, escaped.
            return escape(text)
        return self.render_inline_parsed(text, env)

    def _plain_text(self, text: str) -> bool:
        """No character any inline rule starts at (the text rule takes it all), and nothing
        linkify could make a link of."""
        return self.md.inline.terminator_re.search(text) is None and not any(
            mark in text for mark in _LINK_MARKS
        )

    def render_inline_parsed(self, text: str, env: EnvType) -> str:
        """render_inline() through the inline rules, whatever the text."""
        renderer = self.md.renderer
        assert isinstance(renderer, RendererHTML)
        token = Token("inline", "", 0, content=text, map=[0, 1], children=[])
        state = StateCore(text, self.md, env)
        state.inlineMode = True
        state.tokens = [token]
        for rule in self._inline_rules:
            rule(state)
        return renderer.renderInline(token.children or [], self.md.options, env)

    def render(self, src: str, env: EnvType | None = None) -> str:
        """The one-shot render: what a finished answer must look like."""
        return str(self.md.render(src, {} if env is None else env))

    def code_open(self, info: str) -> str:
        """Chrome and opening tags of a fenced code block, exactly as the fence rule writes them."""
        lang = code_language(info)
        label = escape(lang) if lang else "text"
        cls = f' class="language-{escape(lang)}"' if lang else ""
        return CODE_OPEN.format(label=label) + f"<pre><code{cls}>"

    @staticmethod
    def code_close() -> str:
        return "</code></pre>" + CODE_CLOSE + "\n"


def _inside_link(tokens: Sequence[Token], idx: int) -> bool:
    depth = 0
    for token in reversed(tokens[:idx]):
        if token.type == "link_close":
            depth += 1
        elif token.type == "link_open":
            if depth == 0:
                return True
            depth -= 1
    return False


def _install_render_rules(md: MarkdownIt, highlight_live: Callable[[str, str, str], str]) -> None:
    renderer = md.renderer
    assert isinstance(renderer, RendererHTML)
    default_fence = renderer.rules["fence"]
    default_link_open = renderer.rules.get("link_open")

    def fence(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        if env.get(LIVE):
            live = cast(OptionsType, dict(options.items()))
            live["highlight"] = highlight_live
            options = OptionsDict(live)
        inner = str(default_fence(tokens, idx, options, env))
        lang = code_language(token.info)
        head = CODE_OPEN.format(label=escape(lang) if lang else "text")
        # default_fence ends with "\n"; keep it outside the chrome so text nodes line up.
        return head + inner.rstrip("\n") + CODE_CLOSE + "\n"

    def link_open(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        href = token.attrGet("href")
        if isinstance(href, str) and _SCHEME.match(href):
            token.attrSet("rel", "noopener noreferrer nofollow")
            token.attrSet("target", "_blank")
        if default_link_open is not None:
            return str(default_link_open(tokens, idx, options, env))
        return self.renderToken(tokens, idx, options, env)

    def image(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        alt = self.renderInlineAsText(token.children or [], options, env)
        src = token.attrGet("src")
        label = escape(alt) if alt else "image"
        href = src if isinstance(src, str) and src else ""
        title = token.attrGet("title")
        title_attr = f' title="{escape(str(title))}"' if title else ""
        if _inside_link(tokens, idx):
            # A link inside a link is not HTML (browsers pull them apart): the outer one wins.
            return f'<span class="image-link"{title_attr}>Image: {label}</span>'
        return (
            f'<a class="image-link" href="{escape(href)}" rel="noopener noreferrer nofollow" '
            f'target="_blank"{title_attr}>Image: {label}</a>'
        )

    def cell_open(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        token = tokens[idx]
        style = token.attrGet("style")
        if isinstance(style, str):
            match = _ALIGN.search(style)
            attrs: dict[str, Any] = {k: v for k, v in token.attrs.items() if k != "style"}
            if match:
                attrs["class"] = f"align-{match.group(1)}"
            token.attrs = attrs
        return self.renderToken(tokens, idx, options, env)

    def table_open(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return TABLE_OPEN + self.renderToken(tokens, idx, options, env)

    def table_close(
        self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return self.renderToken(tokens, idx, options, env).rstrip("\n") + TABLE_CLOSE + "\n"

    md.add_render_rule("fence", fence)
    md.add_render_rule("link_open", link_open)
    md.add_render_rule("image", image)
    md.add_render_rule("th_open", cell_open)
    md.add_render_rule("td_open", cell_open)
    md.add_render_rule("table_open", table_open)
    md.add_render_rule("table_close", table_close)
