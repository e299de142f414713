"""Accessibility in Chromium: an axe-core scan mid-stream and after, buttons that say what they
copy, short announcements, and the page's own resilience (reconnect jitter, a server that
speaks another protocol version, the chat mounted in a shadow root)."""

from __future__ import annotations

import json
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect

from tests.browser.helpers import ASSISTANT, DONE, ask
from tests.browser.test_render import paced
from tests.support.server import Running
from tests.support.upstream import FakeUpstream

ANSWER = (
    "## Results\n\nThe run went well. " + "It measured many things along the way, " * 8 + "and ended.\n\n"
    "```python\nimport json\nprint(json.dumps({'ok': True}))\nprint('done')\n```\n\n"
    "| metric | value |\n|---|---|\n| p50 | 12 ms |\n| p99 | 40 ms |\n\n"
    "- first\n- second\n- third\n\n"
    "```sh\necho hello\n```\n\nThat is all.\n"
)


def serious(page: Page) -> list[str]:
    results: Any = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_axe_finds_nothing_serious_mid_stream_or_after(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("m", paced(ANSWER, per_second=30))
    page.goto(bridge.http)
    assert serious(page) == []  # the empty chat
    ask(page, "go")
    answer = page.locator(ASSISTANT).last
    expect(answer.locator(".codeblock code").first).to_contain_text("import json")
    expect(answer).to_have_attribute("aria-busy", "true")
    assert serious(page) == []  # mid-stream
    page.wait_for_selector(DONE, timeout=30_000)
    assert serious(page) == []  # after


def accessible_names(page: Page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('button')]
             .filter((b) => b.offsetParent !== null)
             .map((b) => b.getAttribute('aria-label') || b.textContent.trim())"""
    )


def test_every_button_says_what_it_does(page: Page, bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", paced(ANSWER, per_second=400))
    upstream.add("m", paced(ANSWER, per_second=400))
    page.goto(bridge.http)
    ask(page, "one")
    page.wait_for_selector(DONE)
    ask(page, "two")
    page.wait_for_function("() => document.querySelectorAll('article[data-state=\"done\"]').length == 2")
    names = accessible_names(page)
    assert len(names) == len(set(names)), names
    assert {"Copy answer 1", "Copy answer 2", "Send"} <= set(names)
    assert "Copy code block 1, python, answer 1" in names
    assert "Copy code block 2, sh, answer 2" in names


def test_copied_is_announced(context: BrowserContext, bridge: Running, upstream: FakeUpstream) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    upstream.add("m", paced(ANSWER, per_second=400))
    page.goto(bridge.http)
    ask(page, "go")
    page.wait_for_selector(DONE)
    page.get_by_role("button", name="Copy code block 1, python, answer 1").click()
    expect(page.locator("#announcer")).to_contain_text("Code copied.")
    page.get_by_role("button", name="Copy answer 1").click()
    expect(page.locator("#announcer")).to_contain_text("Answer copied as markdown.")
    assert page.evaluate("() => navigator.clipboard.readText()") == ANSWER


def test_frozen_blocks_are_announced_briefly(page: Page, bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", paced(ANSWER, per_second=400))
    page.goto(bridge.http)
    ask(page, "go")
    page.wait_for_selector(DONE)
    lines = page.locator("#announcer p").all_inner_texts()
    assert lines[0] == "The assistant is answering."
    assert lines[1] == "Heading: Results"
    assert lines[2].startswith("The run went well.")
    assert lines[2].endswith("…")
    assert len(lines[2]) <= 101
    assert lines[3:8] == [
        "Code block, python, 3 lines.",
        "Table, 2 columns, 2 rows.",
        "List, 3 items.",
        "Code block, sh, 1 line.",
        "That is all.",
    ]
    assert lines[-1] == "Answer complete."
    # The conversation itself is not a live region: nothing reads every token out.
    assert page.locator("#transcript").get_attribute("aria-live") == "off"


def test_reconnects_are_jittered_and_capped(page: Page, bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", paced("unused", per_second=100))  # the page lists the upstream's models
    page.goto(bridge.http)
    spread = page.evaluate(
        """async () => {
          const { reconnectDelay } = await import('/static/socket.js');
          const out = {};
          for (const attempt of [0, 3, 10]) {
            const delays = Array.from({ length: 1000 }, () => reconnectDelay(attempt));
            const buckets = new Map();
            for (const d of delays) buckets.set(Math.floor(d / 100), (buckets.get(Math.floor(d / 100)) ?? 0) + 1);
            out[attempt] = { min: Math.min(...delays), max: Math.max(...delays), busiest: Math.max(...buckets.values()) };
          }
          out.edges = [reconnectDelay(0, () => 0), reconnectDelay(40, () => 0.999999)];
          return out;
        }"""
    )
    # 1,000 pages that lost the server at once: no 100 ms slice takes more than a third of them.
    assert spread["0"]["busiest"] < 350, spread
    assert spread["3"]["busiest"] < 100, spread
    assert spread["10"]["busiest"] < 40, spread
    for attempt in ("0", "3", "10"):
        assert spread[attempt]["min"] >= 100
        assert spread[attempt]["max"] <= 10_000
    assert spread["0"]["max"] <= 500
    assert spread["edges"][0] == 100
    assert 9_990 < spread["edges"][1] <= 10_000


def test_a_server_on_another_protocol_version_stops_the_page(
    page: Page, bridge: Running, upstream: FakeUpstream
) -> None:
    upstream.add("m", paced("unused", per_second=100))  # the page lists the upstream's models

    def server(ws: WebSocketRoute) -> None:
        ws.send(
            json.dumps(
                {"type": "hello", "protocol": 1, "server": "inkstream/old", "demo": False, "limits": {}}
            )
        )

    page.route_web_socket("**/ws", server)
    page.goto(bridge.http)
    expect(page.locator("#connection")).to_have_text("Inkstream was updated — reload the page")
    expect(page.locator("#connection")).to_have_attribute("role", "alert")
    expect(page.get_by_label("Message")).to_be_disabled()


def test_the_chat_runs_inside_a_shadow_root(page: Page, bridge: Running, upstream: FakeUpstream) -> None:
    upstream.add("m", paced("Hello from **inside** a shadow root.", per_second=200))
    page.goto(bridge.http)
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    page.evaluate(
        """async () => {
          // The page's own chat goes (unmounted: its socket closes, its listeners go) ...
          const mounted = document.querySelector('[data-inkstream]');
          mounted.chat.unmount();
          mounted.remove();
          // ... and a fresh copy of its markup is mounted in a shadow root, as on another site.
          const html = await (await fetch('/')).text();
          const chat = new DOMParser().parseFromString(html, 'text/html').querySelector('[data-inkstream]');
          const host = document.createElement('div');
          host.style.height = '600px';
          document.body.appendChild(host);
          const shadow = host.attachShadow({ mode: 'open' });
          for (const href of ['/static/style.css', '/assets/highlight.css']) {
            const link = document.createElement('link');
            link.rel = 'stylesheet';
            link.href = href;
            shadow.appendChild(link);
          }
          chat.classList.remove('app');
          shadow.appendChild(document.importNode(chat, true));
          const { mountChat } = await import('/static/app.js');
          host.chat = mountChat(shadow.querySelector('[data-inkstream]'), { base: '' });
        }"""
    )
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    ask(page, "hi")
    answer = page.locator(ASSISTANT).last
    expect(answer.locator("strong")).to_have_text("inside")
    page.wait_for_selector(DONE)
    # Scoped styles apply inside the root and nothing leaks onto the host page.
    assert page.evaluate("getComputedStyle(document.body).fontFamily") != page.evaluate(
        "getComputedStyle(document.querySelector('div').shadowRoot.querySelector('.inkstream')).fontFamily"
    )
    assert page.evaluate("() => 'inkstream' in window") is False
