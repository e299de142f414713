"""What browser tests do to the page, in one place."""

from __future__ import annotations

from playwright.sync_api import Page

from server.markdown.engine import Markdown
from tests.support.dom import canonical, parse, serialize, strip_chrome

ASSISTANT = 'article[data-role="assistant"]'
DONE = f'{ASSISTANT}:not([data-state="streaming"])'

# Content HTML with chrome taken out, as the one-shot render would give it (the page's own
# additions go too: the tab stop it gives each scrolling code block).
CONTENT_JS = """(article) => {
  const copy = article.querySelector('[data-part="content"]').cloneNode(true);
  copy.querySelectorAll('pre[tabindex]').forEach((n) => n.removeAttribute('tabindex'));
  copy.querySelectorAll('[data-chrome="ui"]').forEach((n) => n.remove());
  copy.querySelectorAll('[data-chrome="wrap"]').forEach((n) => n.replaceWith(...n.childNodes));
  return copy.innerHTML;
}"""


def ask(page: Page, text: str) -> None:
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")


def last_answer_content(page: Page) -> str:
    return canonical(page.locator(ASSISTANT).last.evaluate(CONTENT_JS))


def record_states(page: Page) -> None:
    """Record every distinct content state of the answers while they stream (a MutationObserver)."""
    page.evaluate(
        """() => {
          window.__states = [];
          const log = document.getElementById('transcript');
          new MutationObserver(() => {
            const article = log.querySelector('article[data-role="assistant"]:last-of-type');
            if (!article) return;
            const text = article.querySelector('[data-part="content"]').innerText;
            const last = window.__states[window.__states.length - 1];
            if (!last || last.text !== text || last.busy !== article.getAttribute('aria-busy')) {
              window.__states.push({text, busy: article.getAttribute('aria-busy'), t: performance.now()});
            }
          }).observe(log, {subtree: true, childList: true, characterData: true, attributes: true});
        }"""
    )


def expected_content(text: str, *, doc_id: str | None = None) -> str:
    """The one-shot render of ``text``, chrome stripped, comparable with last_answer_content.
    ``doc_id`` is the turn id the server prefixes footnote anchors with."""
    html = Markdown().render(text, {"docId": doc_id} if doc_id else {})
    return canonical(serialize(strip_chrome(parse(html))))
