"""What streaming costs the renderer, against one render of the finished answer.

    .venv/bin/python benchmarks/render.py [--quick] [--rounds 3] [--no-browser] [--json out.json]

For realistic answers of 50, 100 and 200 KB (prose, nested lists, a large table, 40+ line code
blocks in Python, SQL and TypeScript, quotes), CPU time (``time.process_time``) of:

* floor: one one-shot render of the final text by a fresh configuration (highlighting
  included), measured before and after the runs below, in the same round;
* 4-character updates: ``feed`` 4 characters and ``update()``, over the whole answer, plus
  ``finish()``: the renderer alone, with no pacing at all;
* default batching: the real relay on a simulated clock, driven as the server drives it (30
  frames/s after a burst of 4, parses paced to 50 ms, plain words and code lines rendered with
  every frame, each flush's cost reported back), for an upstream at 100 and at 1,000 tokens/s
  of 4 characters. "render" is the relay's CPU minus that of the same relay around a renderer
  that does nothing (the frames, the token bucket): what rendering costs; "total" is all of it;
* naive: re-render the whole text on every update (what many chat UIs do), with 100 tokens/s
  batching; quadratic, so it is run for a time budget and extrapolated (marked as such).

Each figure is a ratio against the floor of its own round, the median over ``--rounds``
rounds, with the garbage collector off during each timed run (its pauses land anywhere and
this machine is noisy enough). Targets: ≤ 3× the floor with default batching, ≤ 10× at
4-character updates, and doubling the answer at most doubles the cost. Also printed: how far
the display trails the text at 100 tokens/s (the simulated clock), the relay's cost over one
long block of shapes that go quadratic when the live block is parsed again per line (a wrapped
paragraph, a long quote, code in a list item, a long nested list in one item), and, with the
browser on
(default), the page's scripting and layout time for the demo's 200 KB answer in Chromium (CDP
``Performance.getMetrics``).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.markdown.document import RenderStats, StreamRenderer
from server.markdown.engine import Markdown
from server.turns.projection import Projection
from server.turns.relay import Relay
from server.upstream.events import ContentDelta, Done

PROSE = (
    "Streaming an answer is mostly about **what not to redo**. Each update should touch only the "
    "text that can still change, and the page should never show `raw syntax` or lose a token. "
    "A careful renderer keeps *finished* blocks frozen, heals the live one, and reconciles at the "
    "end; see [the notes](https://example.com/notes) for the details."
)


def code_block(lang: str, n: int, lines: int) -> str:
    body = {
        # Every block differs (n): a one-shot render highlights each block once, and would
        # colour a repeated block only once, which no real answer would let it do.
        "python": lambda i: (
            f"    total_{i} = compute(values[{i}], scale={i % 7}, label='row {n}.{i}')  # step {i}"
        ),
        "sql": lambda i: (
            f"SELECT id, name, amount_{i % 5} FROM orders_{n} WHERE amount > {i} AND status = 'open';"
        ),
        "typescript": lambda i: (
            f"  const value{i}: number = await client.fetch(`/items/{n}/{i}`, {{ retries: {i % 3} }});"
        ),
    }[lang]
    head = {"python": "def pipeline(values):", "sql": "-- report", "typescript": "async function load() {"}[
        lang
    ]
    tail = {"python": "    return total_0", "sql": "-- end", "typescript": "}"}[lang]
    return f"```{lang}\n{head}\n" + "\n".join(body(i) for i in range(lines)) + f"\n{tail}\n```"


def realistic(size: int) -> str:
    """A deterministic answer of about ``size`` characters: prose, nested lists, a large table
    and three 40+ line code blocks, repeated in sections."""
    parts: list[str] = ["# A realistic answer\n", PROSE]
    section = 0
    while sum(len(p) + 2 for p in parts) < size:
        section += 1
        parts.append(f"## Section {section}: details that matter")
        parts.append(PROSE)
        parts.append(
            "\n".join(
                f"{i}. Step {i} of section {section}, with **bold** advice and `code`\n"
                f"   - a nested point about *item {i}*\n   - and another one"
                for i in range(1, 7)
            )
        )
        if section % 3 == 1:
            rows = "\n".join(
                f"| {section}.{r} | component {r} | {r * 13 % 97} ms | {('no', 'yes')[r % 2]} | note {r} |"
                for r in range(60)
            )
            parts.append(
                "| id | part | latency | cached | note |\n| --- | --- | ---: | :---: | --- |\n" + rows
            )
        if section % 2 == 0:
            lang = ("python", "sql", "typescript")[(section // 2) % 3]
            parts.append(code_block(lang, section, 44))
        parts.append("> " + PROSE)
    return "\n\n".join(parts)[:size].rstrip() + "\n"


def cpu(fn: Callable[[], object], *, collect: bool = True) -> float:
    if collect:
        gc.collect()
    gc.disable()
    try:
        start = time.process_time()
        fn()
        return time.process_time() - start
    finally:
        gc.enable()


def floor(text: str) -> float:
    """One render of the final text, by a configuration that has seen nothing yet."""
    markdown = Markdown()
    return cpu(lambda: markdown.render(text))


class NullRenderer:
    """The renderer's interface, doing nothing: what the relay costs around it."""

    def __init__(self, markdown: Markdown, *, doc_id: str | None = None) -> None:
        self.stats = RenderStats()
        self.cheap = True

    def feed(self, text: str) -> None:
        pass

    def update(self) -> list[Any]:
        return []

    def finish(self) -> list[Any]:
        return []


def fixed_updates(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def relay_run(
    text: str, tokens_per_second: float, *, token: int = 4, null: bool = False
) -> tuple[float, Relay, list[float]]:
    """The real relay and its projection on a simulated clock, driven as server/turns/runner.py
    drives them: tokens at a steady rate, frames when the relay says they are due, each flush's
    cost reported back (took()). CPU of everything they do, and how long each token waited to
    be shown."""
    projection = Projection("t", markdown=Markdown())
    if null:
        projection.renderer = NullRenderer(Markdown())  # type: ignore[assignment]
    relay = Relay(projection, model="m", ref=None, max_fps=30.0, burst=4, now=0.0)
    pieces = [text[i : i + token] for i in range(0, len(text), token)]
    clock = time.perf_counter  # as server/turns/runner.py measures
    arrived: list[tuple[int, float]] = []
    shown: list[tuple[float, int]] = []

    def flush(now: float) -> None:
        started = clock()
        step = relay.flush(now)
        projection.took(clock() - started)
        for frame in step.frames:
            if frame["type"] == "delta" and frame["ops"]:
                shown.append((now, frame["shown"]))

    def run() -> None:
        relay.start()
        now = 0.0
        total = 0
        for index, piece in enumerate(pieces):
            arrival = index / tokens_per_second
            due = relay.due(now)
            while due is not None and due <= arrival:
                now = max(now, due)
                flush(now)
                due = relay.due(now)
            now = arrival
            relay.feed(ContentDelta(piece), now)
            total += len(piece)
            arrived.append((total, now))
            flush(now)
        relay.feed(Done(), now)
        relay.end(now)

    spent = cpu(run)
    waits = []
    at = 0
    for chars, when in arrived:
        while at < len(shown) and shown[at][1] < chars:
            at += 1
        if at < len(shown):
            waits.append(shown[at][0] - when)
    return spent, relay, waits


def incremental(markdown: Markdown, updates: list[str]) -> tuple[float, StreamRenderer]:
    renderer = StreamRenderer(markdown)

    def run() -> None:
        for piece in updates:
            renderer.feed(piece)
            renderer.update()
        renderer.finish()

    return cpu(run), renderer


def naive(markdown: Markdown, updates: list[str], budget: float) -> tuple[float, bool]:
    """Re-render everything per update, for at most ``budget`` CPU seconds; extrapolated by the
    quadratic cost model when cut short. The highlight cache is emptied before each render: a
    naive renderer has none."""
    text = ""
    spent = 0.0
    done_chars = 0
    total = sum(len(u) for u in updates)
    for piece in updates:
        text += piece
        markdown.highlighter.forget()
        spent += cpu(lambda: markdown.render(text), collect=False)  # noqa: B023
        done_chars = len(text)
        if spent > budget:
            break
    if done_chars >= total:
        return spent, False
    return spent * (total / done_chars) ** 2, True


def browser_scripting(text_kb: int) -> dict[str, float]:
    """Stream the demo's 200 KB answer into Chromium; the page's total scripting time."""
    import shutil

    from playwright.sync_api import sync_playwright

    from tests.support.server import serve_process

    args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
            "--disable-component-update", "--no-first-run"]  # fmt: skip
    results: dict[str, float] = {}
    for label, env in (("fast", {}), ("paced 1000 tok/s", {"INKSTREAM_DEMO_TOKENS_PER_SECOND": "1000"})):
        with serve_process(nice=10, INKSTREAM_DEMO_TTFT_MS="0", **env) as server, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=args)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(server.http)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")

            def metric(name: str, session: object = cdp) -> float:
                values = session.send("Performance.getMetrics")["metrics"]  # type: ignore[attr-defined]
                return float(next(m["value"] for m in values if m["name"] == name))

            if label == "fast":
                page.get_by_label("Model").select_option("inkstream-demo-fast")
            before = {
                n: metric(n)
                for n in ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "TaskDuration")
            }
            started = time.monotonic()
            page.get_by_label("Message").fill("huge")
            page.get_by_label("Message").press("Enter")
            page.wait_for_selector('article[data-role="assistant"][data-state="done"]', timeout=300_000)
            wall = time.monotonic() - started
            after = {n: metric(n) for n in before}
            browser.close()
        for name in before:
            results[f"{label}: {name} s"] = round(after[name] - before[name], 3)
        results[f"{label}: wall s"] = round(wall, 2)
    return results


SHAPES: dict[str, Callable[[int], str]] = {
    # One long block each, where a renderer that parses the live block again per line goes
    # quadratic: n lines of it, then a paragraph after.
    "wrapped paragraph": lambda n: "".join(f"plain line {i} with *emphasis* here\n" for i in range(n)),
    "long quote": lambda n: "".join(f"> quoted line {i} with *emphasis* here\n" for i in range(n)),
    "code in a list item": lambda n: (
        "1. First step:\n\n   ```python\n"
        + "".join(f"   total_{i} = compute(values[{i}], scale={i % 7})\n" for i in range(n))
        + "   ```\n"
    ),
    "nested list in one item": lambda n: (
        "1. Top item with **bold**\n"
        + "".join(f"   - nested point {i} with *emphasis* here\n" for i in range(n))
    ),
}


def shapes(lines: tuple[int, ...] = (100, 200, 400)) -> dict[str, list[float]]:
    """Relay at 100 tokens/s over one long block of each shape, × its floor, as it grows."""
    out: dict[str, list[float]] = {}
    for name, make in SHAPES.items():
        ratios = []
        for n in lines:
            text = make(n) + "\nAfter.\n"
            Markdown().render(text)
            base = floor(text)
            ratios.append(relay_run(text, 100)[0] / base)
        out[name] = ratios
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(text: str, rounds: int) -> dict[str, float]:
    """Medians over rounds of each cost, and of its ratio to its round's floor."""
    costs: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    for _ in range(rounds):
        before = floor(text)
        run = {
            "four_char": incremental(Markdown(), fixed_updates(text, 4))[0],
            "relay100": relay_run(text, 100)[0],
            "relay100_null": relay_run(text, 100, null=True)[0],
            "relay1000": relay_run(text, 1000)[0],
            "relay1000_null": relay_run(text, 1000, null=True)[0],
        }
        run["relay100_render"] = run["relay100"] - run["relay100_null"]
        run["relay1000_render"] = run["relay1000"] - run["relay1000_null"]
        base = (before + floor(text)) / 2
        run["floor"] = base
        for key, value in run.items():
            costs.setdefault(key, []).append(value)
            ratios.setdefault(key, []).append(value / base)
    out = {f"{k}_s": round(statistics.median(v), 4) for k, v in costs.items()}
    out.update({f"{k}_x": round(statistics.median(v), 2) for k, v in ratios.items() if k != "floor"})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="50 KB only, one round, short naive budget")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [50_000] if args.quick else [50_000, 100_000, 200_000]
    rounds = 1 if args.quick else args.rounds
    report: dict[str, dict[str, Any]] = {}
    print(f"median of {rounds} round(s); each figure × the floor of its round\n")
    header = (
        "answer",
        "floor ms",
        "4-char",
        "relay@100 render/total",
        "relay@1000 render/total",
        "naive@100",
    )
    print("{:>7} {:>9} | {:>7} | {:>22} | {:>23} | {:>21}".format(*header))
    for size in sizes:
        text = realistic(size)
        Markdown().render(text)  # the lexers' regexes compile once per process: not in a round
        row: dict[str, Any] = measure(text, rounds)
        naive_cost, extrapolated = naive(Markdown(), fixed_updates(text, 4 * 3), 5.0 if args.quick else 20.0)
        row["naive_s"] = round(naive_cost, 1)
        row["naive_x"] = round(naive_cost / row["floor_s"])
        row["naive_extrapolated"] = extrapolated
        report[f"{size // 1000} KB"] = row
        print(
            f"{size // 1000:>5}KB {row['floor_s'] * 1000:>9.1f} | {row['four_char_x']:>6.1f}× | "
            f"{row['relay100_render_x']:>12.1f}× / {row['relay100_x']:>4.1f}× | "
            f"{row['relay1000_render_x']:>13.1f}× / {row['relay1000_x']:>4.1f}× | "
            f"{row['naive_x']:>9}×{' (extrap.)' if extrapolated else '':>11}"
        )
    if len(sizes) > 1:
        print("\ncost when the answer doubles (≤ ×2 is linear):")
        for key, label in (("four_char_s", "4-char"), ("relay100_s", "relay@100"), ("floor_s", "floor")):
            steps = [
                report[f"{b // 1000} KB"][key] / report[f"{a // 1000} KB"][key]
                for a, b in itertools.pairwise(sizes)
            ]
            print(f"  {label:>10}: " + ", ".join(f"×{step:.2f}" for step in steps))
    text = realistic(sizes[-1])
    _, relay, waits = relay_run(text, 100)
    lag = {f"p{int(q * 100)}_ms": round(percentile(waits, q) * 1000, 1) for q in (0.5, 0.9, 0.99)}
    lag["max_ms"] = round(max(waits) * 1000, 1)
    report["lag at 100 tok/s"] = lag
    print(
        f"\ndisplay behind the text at 100 tokens/s ({sizes[-1] // 1000} KB, simulated clock; frames are "
        f"at most 30/s): p50 {lag['p50_ms']:.0f} ms, p90 {lag['p90_ms']:.0f} ms, "
        f"p99 {lag['p99_ms']:.0f} ms, max {lag['max_ms']:.0f} ms"
    )
    stats = relay.projection.renderer.stats
    print(f"renderer: {stats.parsed_chars / len(text):.2f} characters parsed per character of answer")
    if not args.quick:
        report["shapes"] = {name: [round(r, 1) for r in ratios] for name, ratios in shapes().items()}
        print("\none long block, relay@100 total × floor at 100 / 200 / 400 lines (flat is linear):")
        for name, ratios in report["shapes"].items():
            print(f"  {name:>24}: " + " / ".join(f"{r:.1f}×" for r in ratios))
    if not args.no_browser:
        browser = browser_scripting(200)
        report["browser"] = browser
        print("\nbrowser, the demo's 200 KB answer:")
        for key, value in browser.items():
            print(f"  {key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
