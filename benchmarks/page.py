"""The page's main thread while a huge answer streams, on a CPU slowed down the way DevTools does.

    .venv/bin/python benchmarks/page.py [--quick] [--runs 3] [--throttle 1,4] [--rate 1350]
                                        [--parts stream,history,stored,trace] [--json out.json]

One ``python -m server --port 0`` (``nice 10``: on the reader's machine there is no server; here
it would take the browser's share of the two cores) answers with its demo model
(``INKSTREAM_DEMO_TTFT_MS=0``, ``INKSTREAM_DEMO_TOKENS_PER_SECOND=--rate``): the upstream at a
fixed pace. Debian's Chromium, launched by path, as the browser tests launch it, 1100x900. Each
run is a fresh browser context and page; CPU throttling (CDP ``Emulation.setCPUThrottlingRate``)
is set once the page is loaded, before the question is sent; "measured slowdown" is what a JS
loop sees of it (the throttle is a duty cycle, so short work may see less or more).

* **stream** (``--runs`` runs per ``--throttle`` rate; median and min-max): the page asks "huge"
  (224 KB of markdown, 60,538 tokens: 45 s at 1,350 tokens/s) and is measured from the moment
  it sends until the answer's article leaves ``data-state="streaming"``:

  - busy = CDP ``Performance.getMetrics`` TaskDuration delta / wall time (its ``Timestamp``
    delta), and the Layout, RecalcStyle and Script durations. Under throttling these are wall
    seconds of the slowed thread, reported as measured;
  - long tasks (``PerformanceObserver``, type ``longtask``, registered before the page's own
    scripts run) starting after the question was sent: count, total, longest, and the total
    blocking time (sum of each one's time over 50 ms);
  - input: meanwhile a scripted user types into the message box, one key every 150 ms in
    bursts of 6 (never Enter, which would send), clicks the box after each burst and clears
    it every 36 characters. The Event Timing API (``type: 'event'``, ``durationThreshold:
    16``: it reports nothing shorter) gives each keydown/keypress/keyup/beforeinput/input and
    pointerdown/pointerup/click: worst duration of any of them, and the p98 and median of
    interaction latencies (one per ``interactionId``, the longest of its events), over every
    interaction performed: an unreported one took under 16 ms;
  - display lag: "render lag" is the page's own figure from the answer's footer (how long
    received text waited before it was shown, the worst over the answer). "final after the
    upstream's end" runs from the server's end of the turn (when the page's start frame left it,
    wrapped ``WebSocket.send``, plus the turn's ``duration_ms`` from the end frame's stats: the
    server's own clock from start to the upstream's end) to the frame after the article left
    "streaming" (rAF, then a message: after that frame's paint). "after the end frame's event"
    runs from when the page's main thread got the end frame (a ``message`` listener added before
    the page's own) instead: the difference is how far behind the page was reading frames;
  - complete: the h2/h3, ``.codeblock`` and ``table`` counts of the answer on screen equal
    those of the one-shot render (``Markdown().render``); identical: its content HTML is that
    render, as tests/browser/test_render.py compares them.

* **history**: in one page per throttle, 10 "long" answers (22 KB, 5,700 tokens) in a row,
  each asked once the one before is done: TaskDuration of the 1st and of the 10th, and the
  ratio; also the ratio to the 2nd, as the 1st pays for one-off work (compiling the page's
  code, the new conversation). A page whose cost grows with its transcript shows up here.
* **stored**: a conversation of 20 "long" answers, made over the WebSocket by a client
  (``tests/support/client.py``, the fast model) with an owner cookie that the browser then
  gets; per run and throttle a fresh page opens ``/c/<id>`` already throttled: navigation
  start to the paint after the last answer's content exists (rAF polling from
  DOMContentLoaded, then a message after the next frame).
* **trace**: one more stream run at the highest throttle, not in the tables (tracing slows the
  page), with a Chromium trace (``devtools.timeline``, ``disabled-by-default-devtools.
  timeline``, ``v8.execute``). Self time (duration minus that of the events nested in it) of
  the complete events on the renderer's main thread (``CrRendererMain``), summed by name: the
  five largest, as ms and % of the traced wall time. ``RunTask`` is the task itself: its self
  time is what no named event inside it covers.

Goals from the issue are printed next to the figures, at 4x, never asserted: busy ≤ 40%, long
tasks ≤ 1000 ms in all and none over 100 ms, every key and click ≤ 100 ms, the display final ≤
0.5 s after the upstream's end, the 10th answer within 20% of the 1st, the stored
conversation's last answer painted within 1 s. The exit status is 1 only if an answer was
incomplete or a part failed. ``--quick`` is a smoke test of about 2-3 minutes: 1 run, 4,000
tokens/s, 3 answers for history, 5 stored.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import time
import traceback
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import Browser, CDPSession, Page, ViewportSize, sync_playwright

from server.demo.scripts import Answers
from server.demo.tokens import strip_marks
from server.markdown.engine import Markdown
from tests.browser.helpers import ASSISTANT, expected_content, last_answer_content
from tests.support.client import Client
from tests.support.server import Process, owner_cookie, serve_process

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip
VIEWPORT: ViewportSize = {"width": 1100, "height": 900}
FAST = "inkstream-demo-fast"
TYPED = "the page keeps up "
KEY_GAP = 0.15  # seconds between keys: a quick typist
BURST = 6  # keys between clicks
CLEAR_EVERY = 36  # characters: the box stays one line, so its growth is no part of the figures
TRACE_CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute"]
TASK_WRAPPERS = {"RunTask", "ThreadControllerImpl::RunTask"}

# Before any script of the page: what the page itself cannot see about its own main thread.
PROBES_JS = """(() => {
  const b = window.__bench = {long: [], events: [], done: [], final: [], end: [], startSent: []};
  const kinds = new Set(['keydown', 'keyup', 'keypress', 'beforeinput', 'input',
                         'pointerdown', 'pointerup', 'click']);
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) b.long.push([e.startTime, e.duration]);
  }).observe({type: 'longtask', buffered: true});
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if (kinds.has(e.name)) b.events.push([e.name, e.startTime, e.duration, e.interactionId]);
  }).observe({type: 'event', durationThreshold: 16, buffered: true});
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      // Added first, so it runs before the page's own handling of the same message.
      this.addEventListener('message', (e) => {
        if (typeof e.data !== 'string' || !e.data.startsWith('{"type":"end"')) return;
        b.end.push([performance.now(), JSON.parse(e.data).stats?.duration_ms ?? null]);
      });
    }
    send(data) {
      if (typeof data === 'string' && data.startsWith('{"type":"start"')) b.startSent.push(performance.now());
      return super.send(data);
    }
  };
  const afterPaint = (sink) => requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => sink.push(performance.now());
    channel.port2.postMessage(null);
  });
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.oldValue === 'streaming' && r.target.dataset.state !== 'streaming'
          && r.target.matches('article[data-role="assistant"]')) {
        b.done.push(performance.now());
        afterPaint(b.final);
      }
    }
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-state'],
                        attributeOldValue: true});
})();"""

# A stored page: when its last answer (the n-th) has content, and the paint after that.
PAINT_JS = """((n) => {
  const p = window.__paint = {painted: null, dcl: null, articles: 0};
  const ready = () => {
    const all = document.querySelectorAll('article[data-role="assistant"]');
    p.articles = all.length;
    const content = all.length >= n && all[all.length - 1].querySelector('[data-part="content"]');
    return Boolean(content) && content.childElementCount > 0;
  };
  const frame = () => {
    if (!ready()) { requestAnimationFrame(frame); return; }
    const channel = new MessageChannel();
    channel.port1.onmessage = () => { p.painted = performance.now(); };
    channel.port2.postMessage(null);
  };
  document.addEventListener('DOMContentLoaded', () => {
    p.dcl = performance.now();
    requestAnimationFrame(frame);
  });
})(%d);"""

COUNTS_JS = """([html, selector]) => {
  const count = (root) => [root.querySelectorAll('h2, h3').length,
                           root.querySelectorAll('.codeblock').length,
                           root.querySelectorAll('table').length];
  const expected = document.createElement('template');
  expected.innerHTML = html;
  const all = document.querySelectorAll(selector);
  return [count(expected.content), count(all[all.length - 1].querySelector('[data-part="content"]'))];
}"""

# About 40 ms of arithmetic at full speed: enough to see what the throttle really does.
LOOP_JS = """() => { const out = [];
  for (let k = 0; k < 3; k++) { const t = performance.now(); let x = 0;
    for (let i = 0; i < 1e7; i++) x += Math.sqrt(i); out.push(performance.now() - t); }
  out.sort((a, b) => a - b); return out[1]; }"""


@dataclass
class StreamRun:
    throttle: float
    slowdown: float
    wall_s: float
    busy_pct: float
    task_s: float
    layout_s: float
    style_s: float
    script_s: float
    long_count: int
    long_total_ms: float
    long_max_ms: float
    tbt_ms: float
    interactions: int
    slow_interactions: int
    worst_event_ms: float
    p98_ms: float
    median_ms: float
    render_lag_ms: float | None
    final_after_end_ms: float | None
    final_after_dispatch_ms: float | None
    complete: bool
    identical: bool
    counts: list[list[int]]


def metrics(cdp: CDPSession) -> dict[str, float]:
    return {m["name"]: float(m["value"]) for m in cdp.send("Performance.getMetrics")["metrics"]}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@contextmanager
def fresh_page(browser: Browser, init: str, cookie: str = "", url: str = "") -> Iterator[Page]:
    """A page in a context of its own; ``cookie`` is a ``Cookie`` header value for ``url``."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        if cookie:
            name, value = cookie.split("=", 1)
            context.add_cookies([{"name": name, "value": value, "url": url}])
        page = context.new_page()
        page.add_init_script(script=init)
        yield page
    finally:
        context.close()


def open_chat(page: Page, cdp: CDPSession, url: str, throttle: float) -> float:
    """Load the page at full speed, then throttle it; the slowdown a JS loop then sees."""
    cdp.send("Performance.enable")
    page.goto(url)
    page.wait_for_selector('#connection[data-state="open"]')
    page.evaluate(LOOP_JS)  # compiles it: the next one is the baseline
    base = float(page.evaluate(LOOP_JS))
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    return float(page.evaluate(LOOP_JS)) / base


def bench(page: Page, expression: str) -> Any:
    return page.evaluate(f"window.__bench.{expression}")


def stream_run(
    browser: Browser, server: Process, throttle: float, expected: tuple[str, str], *, trace: bool = False
) -> tuple[StreamRun, bytes | None]:
    html, canonical = expected
    with fresh_page(browser, PROBES_JS) as page:
        cdp = page.context.new_cdp_session(page)
        slowdown = open_chat(page, cdp, server.http, throttle)
        box = page.get_by_label("Message")
        where = box.bounding_box()
        assert where is not None
        centre = (where["x"] + where["width"] / 2, where["y"] + where["height"] / 2)
        if trace:
            browser.start_tracing(page=page, categories=TRACE_CATEGORIES)
        box.fill("huge")
        before = metrics(cdp)
        sent = float(page.evaluate("performance.now()"))
        box.press("Enter")
        performed = 1 + type_until_done(page, centre, timeout=900)
        after = metrics(cdp)
        trace_bytes = browser.stop_tracing() if trace else None
        page.wait_for_function("window.__bench.final.length > 0")
        time.sleep(0.3)  # event timing entries are delivered after the next paint
        data = bench(page, "valueOf()")
        footer = page.locator(ASSISTANT).last.locator('[data-part="metrics"]').inner_text()
        counts = page.evaluate(COUNTS_JS, [html, ASSISTANT])
        identical = last_answer_content(page) == canonical
    wall = after["Timestamp"] - before["Timestamp"]
    long_tasks = [d for t, d in data["long"] if t >= sent]
    events = [(name, d, i) for name, t, d, i in data["events"] if t >= sent]
    worst_by_id: dict[int, float] = {}
    for _, duration, interaction in events:
        if interaction > 0:
            worst_by_id[interaction] = max(worst_by_id.get(interaction, 0.0), duration)
    latencies = list(worst_by_id.values()) + [0.0] * max(0, performed - len(worst_by_id))
    final = data["final"][0]
    # The server's end of the turn: its start frame left the page, plus the turn's duration as
    # the server timed it (its end frame's stats). The end frame itself may reach the page's
    # main thread much later, when it is behind.
    duration = data["end"][-1][1] if data["end"] else None
    upstream_end = data["startSent"][0] + duration if duration is not None and data["startSent"] else None
    lag = re.search(r"render lag (\d+) ms", footer)
    run = StreamRun(
        throttle=throttle,
        slowdown=round(slowdown, 2),
        wall_s=round(wall, 2),
        busy_pct=round(100 * (after["TaskDuration"] - before["TaskDuration"]) / wall, 1),
        task_s=round(after["TaskDuration"] - before["TaskDuration"], 2),
        layout_s=round(after["LayoutDuration"] - before["LayoutDuration"], 2),
        style_s=round(after["RecalcStyleDuration"] - before["RecalcStyleDuration"], 2),
        script_s=round(after["ScriptDuration"] - before["ScriptDuration"], 2),
        long_count=len(long_tasks),
        long_total_ms=round(sum(long_tasks)),
        long_max_ms=round(max(long_tasks, default=0.0)),
        tbt_ms=round(sum(max(0.0, d - 50) for d in long_tasks)),
        interactions=performed,
        slow_interactions=len(worst_by_id),
        worst_event_ms=max((d for _, d, _ in events), default=0.0),
        p98_ms=percentile(latencies, 0.98),
        median_ms=percentile(latencies, 0.5),
        render_lag_ms=float(lag.group(1)) if lag else None,
        final_after_end_ms=round(final - upstream_end) if upstream_end is not None else None,
        final_after_dispatch_ms=round(final - data["end"][-1][0]) if data["end"] else None,
        complete=counts[0] == counts[1],
        identical=identical,
        counts=counts,
    )
    return run, trace_bytes


def type_until_done(page: Page, centre: tuple[float, float], *, timeout: float) -> int:
    """A user typing (never Enter) and clicking the box while it streams; how many
    interactions (key presses and clicks) it made."""
    deadline = time.monotonic() + timeout
    performed = typed = 0
    while time.monotonic() < deadline:
        for _ in range(BURST):
            started = time.monotonic()
            if typed and typed % CLEAR_EVERY == 0:
                page.keyboard.press("Control+A")
                page.keyboard.press("Backspace")
                performed += 3  # Control and A are an interaction each
            char = TYPED[typed % len(TYPED)]
            page.keyboard.press("Space" if char == " " else char)
            typed += 1
            performed += 1
            if bench(page, "done.length"):
                return performed
            time.sleep(max(0.0, KEY_GAP - (time.monotonic() - started)))
        page.mouse.click(*centre)
        performed += 1
    raise TimeoutError("the answer did not end")


def wait_done(page: Page, count: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    # Polled from here rather than with wait_for_function, whose rAF polling is work for the page.
    while bench(page, "done.length") < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"answer {count} did not end")
        time.sleep(0.1)


def history_run(browser: Browser, server: Process, throttle: float, answers: int) -> list[float]:
    """TaskDuration of each of ``answers`` "long" answers asked in a row in one page."""
    costs = []
    with fresh_page(browser, PROBES_JS) as page:
        cdp = page.context.new_cdp_session(page)
        open_chat(page, cdp, server.http, throttle)
        for index in range(answers):
            before = metrics(cdp)
            box = page.get_by_label("Message")
            box.fill("long")
            box.press("Enter")
            wait_done(page, index + 1)
            time.sleep(0.3)  # what the end sets off (the sidebar's list) is this answer's cost
            costs.append(round(metrics(cdp)["TaskDuration"] - before["TaskDuration"], 3))
    return costs


def start_when_free(client: Client, **fields: Any) -> str:
    """Start a "long" answer; the conversation stays busy a moment after the end frame."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return client.start("long", model=FAST, **fields)
        except AssertionError as refused:
            if "conversation_busy" not in str(refused) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def stored_conversation(server: Process, answers: int) -> tuple[str, str]:
    """A conversation of ``answers`` "long" answers, made by a WebSocket client: its id and the
    owner cookie."""
    cookie = owner_cookie(server.http)
    conversation: str | None = None
    with Client(server.http.replace("http", "ws", 1) + "/ws", cookie=cookie) as client:
        for index in range(answers):
            extra = {"conversation": conversation} if conversation else {}
            turn = start_when_free(client, ref=f"r{index}", **extra)
            conversation = str(client.last_start["conversation"])
            client.until_end(turn, timeout=120)
    assert conversation is not None
    request = urllib.request.Request(
        f"{server.http}/api/conversations/{conversation}", headers={"Cookie": cookie}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        stored = [m for m in json.loads(response.read())["messages"] if m["role"] == "assistant"]
    if len(stored) != answers:
        raise RuntimeError(f"{len(stored)} answers stored of {answers}")
    return conversation, cookie


def stored_run(
    browser: Browser, server: Process, throttle: float, conversation: str, cookie: str, n: int
) -> tuple[float, float]:
    """Seconds from navigation start to the paint after the n-th answer's content exists, and
    to DOMContentLoaded."""
    with fresh_page(browser, PAINT_JS % n, cookie, server.http) as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})  # kept across the navigation
        page.goto(f"{server.http}/c/{conversation}", wait_until="domcontentloaded")
        page.wait_for_function("window.__paint.painted !== null", polling=100, timeout=120_000)
        painted, loaded = page.evaluate("[window.__paint.painted, window.__paint.dcl]")
        return round(painted / 1000, 3), round(loaded / 1000, 3)


def trace_top(data: bytes, top: int = 5) -> dict[str, Any]:
    """Self time by event name on the busiest renderer main thread of a Chromium trace."""
    loaded = json.loads(data)
    events = loaded["traceEvents"] if isinstance(loaded, dict) else loaded
    threads = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M" and e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"
    }
    complete: dict[tuple[int, int], list[dict[str, Any]]] = {t: [] for t in threads}
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if e.get("ph") == "X" and "dur" in e and key in complete:
            complete[key].append(e)
    main = max(complete.values(), key=lambda es: sum(e["dur"] for e in es))
    main.sort(key=lambda e: (e["ts"], -e["dur"]))
    own: Counter[str] = Counter()
    stack: list[tuple[str, float]] = []  # (name, end) of the events enclosing the current one
    busy = 0.0
    for e in main:
        end = e["ts"] + e["dur"]
        while stack and stack[-1][1] <= e["ts"]:
            stack.pop()
        if stack:
            own[stack[-1][0]] -= min(end, stack[-1][1]) - e["ts"]
        else:
            busy += e["dur"]
        own[e["name"]] += e["dur"]
        stack.append((e["name"], end))
    wall = max(e["ts"] + e["dur"] for e in main) - main[0]["ts"]
    uncovered = sum(own[name] for name in TASK_WRAPPERS)
    ranked = [(name, t) for name, t in own.most_common() if name not in TASK_WRAPPERS][:top]
    return {
        "wall_ms": round(wall / 1000),
        "busy_ms": round(busy / 1000),
        "uncovered_ms": round(uncovered / 1000),
        "top": [{"name": n, "ms": round(t / 1000), "pct": round(100 * t / wall, 1)} for n, t in ranked],
    }


def spread(values: list[float], fmt: str = "{:.0f}") -> tuple[str, str]:
    if not values:
        return "?", ""
    median = fmt.format(statistics.median(values))
    return median, (f"{fmt.format(min(values))}–{fmt.format(max(values))}" if len(values) > 1 else "")


# (label, unit, goal at 4x, StreamRun field, format)
ROWS = [
    ("measured slowdown", "×", "", "slowdown", "{:.1f}"),
    ("wall, send → done", "s", "", "wall_s", "{:.1f}"),
    ("busy (TaskDuration / wall)", "%", "≤ 40", "busy_pct", "{:.1f}"),
    ("layout", "s", "", "layout_s", "{:.2f}"),
    ("style", "s", "", "style_s", "{:.2f}"),
    ("script", "s", "", "script_s", "{:.2f}"),
    ("long tasks", "", "", "long_count", "{:.0f}"),
    ("long tasks, total", "ms", "≤ 1000", "long_total_ms", "{:.0f}"),
    ("longest task", "ms", "≤ 100", "long_max_ms", "{:.0f}"),
    ("total blocking time", "ms", "", "tbt_ms", "{:.0f}"),
    ("interactions made", "", "", "interactions", "{:.0f}"),
    ("of them ≥ 16 ms", "", "", "slow_interactions", "{:.0f}"),
    ("worst key/click event", "ms", "≤ 100", "worst_event_ms", "{:.0f}"),
    ("interaction p98", "ms", "", "p98_ms", "{:.0f}"),
    ("interaction median", "ms", "", "median_ms", "{:.0f}"),
    ("render lag (page footer)", "ms", "", "render_lag_ms", "{:.0f}"),
    ("final after upstream's end", "ms", "≤ 500", "final_after_end_ms", "{:.0f}"),
    ("final after end frame's event", "ms", "", "final_after_dispatch_ms", "{:.0f}"),
]


def print_stream(throttle: float, runs: list[StreamRun]) -> None:
    print(f"\nthrottle {throttle:g}×: the huge answer, {len(runs)} run(s)")
    print(f"  {'':<29} {'unit':>4} {'median':>8} {'min–max':>13}   goal at 4×")
    for label, unit, goal, name, fmt in ROWS:
        median, rng = spread([float(v) for r in runs if (v := getattr(r, name)) is not None], fmt)
        if label.startswith("interaction ") and median == "0":
            median = "<16"
        print(f"  {label:<29} {unit:>4} {median:>8} {rng:>13}   {goal}")
    shown, expected = runs[0].counts[1], runs[0].counts[0]
    what = ", ".join(
        f"{a}/{b} {name}"
        for a, b, name in zip(shown, expected, ("h2/h3", "code blocks", "tables"), strict=True)
    )
    print(f"  {'complete':<29} {'':>4} {'yes' if all(r.complete for r in runs) else 'NO':>8}   {what}")
    print(f"  {'identical to one-shot':<29} {'':>4} {'yes' if all(r.identical for r in runs) else 'no':>8}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 run, 4000 tokens/s, 3 + 5 answers")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--throttle", default="1,4", help="CPU slowdown rates, comma-separated")
    parser.add_argument("--rate", type=float, default=None, help="tokens/s of the demo model (1350)")
    parser.add_argument("--history", type=int, default=None, help="answers in a row (10)")
    parser.add_argument("--stored", type=int, default=None, help="answers in the stored conversation (20)")
    parser.add_argument("--parts", default="stream,history,stored,trace")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    rate = args.rate or (4000.0 if args.quick else 1350.0)
    history = args.history or (3 if args.quick else 10)
    stored_n = args.stored or (5 if args.quick else 20)
    throttles = [float(t) for t in args.throttle.split(",")]
    parts = set(args.parts.split(","))
    text = strip_marks(Answers.load().texts["huge"])
    expected = (Markdown().render(text), expected_content(text))
    report: dict[str, Any] = {"runs": runs, "rate": rate, "throttles": throttles}
    failed = False
    print(f"huge answer: {len(text):,} characters at {rate:g} tokens/s; {runs} run(s) per throttle")
    with (
        serve_process(
            nice=10, INKSTREAM_DEMO_TTFT_MS="0", INKSTREAM_DEMO_TOKENS_PER_SECOND=f"{rate:g}"
        ) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)

        def part(name: str, body: Callable[[], None]) -> None:
            nonlocal failed
            if name not in parts:
                return
            try:
                body()
            except Exception:
                failed = True
                print(f"\n{name}: FAILED")
                traceback.print_exc(file=sys.stdout)

        def stream() -> None:
            nonlocal failed
            report["stream"] = {}
            for throttle in throttles:
                results = [stream_run(browser, server, throttle, expected)[0] for _ in range(runs)]
                report["stream"][f"{throttle:g}"] = [asdict(r) for r in results]
                failed = failed or not all(r.complete for r in results)
                print_stream(throttle, results)

        def in_a_row() -> None:
            report["history"] = {}
            print(
                f'\n{history} "long" answers in a row in one page: TaskDuration s  (goal: last ≤ 1.2 × 1st)'
            )
            for throttle in throttles:
                costs = history_run(browser, server, throttle, history)
                report["history"][f"{throttle:g}"] = costs
                # The 1st also pays for what happens once (compiling, the new conversation): the
                # ratio to the 2nd is the growth alone.
                warm = f", to the 2nd {costs[-1] / costs[1]:.2f}" if len(costs) > 2 else ""
                print(
                    f"  {throttle:g}×: 1st {costs[0]:.2f}, #{history} {costs[-1]:.2f}: "
                    f"ratio {costs[-1] / costs[0]:.2f}{warm}   (all: {', '.join(f'{c:.2f}' for c in costs)})"
                )

        def stored() -> None:
            conversation, cookie = stored_conversation(server, stored_n)
            report["stored"] = {}
            print(
                f"\nstored conversation of {stored_n} answers: navigation → last answer painted, s "
                "(goal ≤ 1 at 4×)"
            )
            for throttle in throttles:
                timed = [
                    stored_run(browser, server, throttle, conversation, cookie, stored_n) for _ in range(runs)
                ]
                report["stored"][f"{throttle:g}"] = [
                    {"painted_s": p, "dom_content_loaded_s": d} for p, d in timed
                ]
                painted, rng = spread([p for p, _ in timed], "{:.2f}")
                loaded, _ = spread([d for _, d in timed], "{:.2f}")
                print(f"  {throttle:g}×: {painted} {rng}   (DOMContentLoaded {loaded})")

        def traced() -> None:
            throttle = max(throttles)
            _, data = stream_run(browser, server, throttle, expected, trace=True)
            assert data is not None
            top = trace_top(data)
            report["trace"] = {"throttle": throttle, "bytes": len(data), **top}
            print(
                f"\ntrace at {throttle:g}× (one extra run, {len(data) / 1e6:.0f} MB): main thread busy "
                f"{top['busy_ms']:,} of {top['wall_ms']:,} ms, {top['uncovered_ms']:,} ms of it in no "
                "named event"
            )
            for row in top["top"]:
                print(f"  {row['name']:<28} {row['ms']:>7,} ms  {row['pct']:>5.1f}%  (self time)")

        part("stream", stream)
        part("history", in_a_row)
        part("stored", stored)
        part("trace", traced)
        browser.close()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
