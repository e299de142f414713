"""What streaming costs the renderer, against one render of the finished answer.

    .venv/bin/python benchmarks/render.py [--quick] [--no-browser] [--json out.json]

For realistic answers of 50, 100 and 200 KB (prose, lists, a large table, three 40+ line code
blocks), CPU time (``time.process_time``) of:

* floor: one one-shot render of the final text (median of 5), measured in the same run;
* inkstream, 4-character updates: ``feed`` 4 characters, ``update()``, over the whole answer,
  plus ``finish()`` (its final reconcile renders the whole text once more);
* inkstream, default batching: the relay itself on a simulated clock (30 frames/s after a burst
  of 4, costly renders paced to 50 ms, plain words rendered with every frame) for an upstream
  at 100 and at 1,000 tokens/s of ~4 characters;
* naive: re-render the whole text on every update (what many chat UIs do), default batching;
  quadratic, so it is run for a time budget and extrapolated (marked as such).

Figures are ratios against the floor measured in the same run (this machine is noisy). Targets:
≤ 3× the floor with default batching, ≤ 10× at 4-character updates, and doubling the answer at
most doubles the cost. With ``--browser`` (default) it also streams the 200 KB answer into
Chromium and reports the page's total scripting time (CDP ``Performance.getMetrics``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server.events import ContentDelta, Done
from server.markdown import Markdown
from server.relay import Relay
from server.render import StreamRenderer

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


def cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def floor(fresh: Callable[[], Markdown], text: str) -> float:
    """One render of the final text, by a configuration that has seen nothing yet."""
    costs = []
    for _ in range(5):
        markdown = fresh()
        costs.append(cpu(lambda: markdown.render(text)))  # noqa: B023
    return statistics.median(costs)


def fixed_updates(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def relay_run(text: str, tokens_per_second: float, *, token: int = 4) -> tuple[float, Relay]:
    """The real relay on a simulated clock, driven as server/turns.py drives it: tokens at a
    steady rate, frames when it says they are due (30 a second at most), each flush's cost
    reported back (took()). CPU of everything the relay does."""
    relay = Relay("t", markdown=Markdown(), model="m", ref=None, max_fps=30.0, burst=4, now=0.0)
    pieces = [text[i : i + token] for i in range(0, len(text), token)]
    clock = time.perf_counter  # as server/turns.py measures

    def flush(now: float) -> None:
        started = clock()
        relay.flush(now)
        relay.took(clock() - started)

    def run() -> None:
        relay.start()
        now = 0.0
        for index, piece in enumerate(pieces):
            arrival = index / tokens_per_second
            due = relay.due(now)
            while due is not None and due <= arrival:
                now = max(now, due)
                flush(now)
                due = relay.due(now)
            now = arrival
            relay.feed(ContentDelta(piece), now)
            flush(now)
        relay.feed(Done(), now)
        relay.end(now)

    return cpu(run), relay


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
        spent += cpu(lambda: markdown.render(text))  # noqa: B023
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
    for label, env in (("fast", {}), ("paced 400 tok/s", {"INKSTREAM_DEMO_TOKENS_PER_SECOND": "400"})):
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


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="50 KB only, short naive budget")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [50_000] if args.quick else [50_000, 100_000, 200_000]
    report: dict[str, dict[str, float]] = {}
    header = ("answer", "floor s", "4-char", "relay@100 tok/s", "relay@1000 tok/s", "naive@100 tok/s")
    print("{:>8} {:>8} | {:>14} | {:>16} | {:>17} | {:>22}".format(*header))
    for size in sizes:
        text = realistic(size)
        # A fresh configuration for every run: its highlight cache must not carry work over.
        base = floor(Markdown, text)
        four, r4 = incremental(Markdown(), fixed_updates(text, 4))
        batched, rb = relay_run(text, 100)
        fast, _ = relay_run(text, 1000)
        slow_batches = fixed_updates(text, 4 * 3)  # what 30 frames/s make of 100 tokens/s
        naive_cost, extrapolated = naive(Markdown(), slow_batches, budget=5.0 if args.quick else 20.0)
        report[f"{size // 1000} KB"] = {
            "floor_s": round(base, 4),
            "four_char_s": round(four, 3),
            "four_char_x": round(four / base, 1),
            "four_char_updates": r4.stats.updates,
            "relay100_s": round(batched, 3),
            "relay100_x": round(batched / base, 1),
            "relay100_renders": rb.renderer.stats.updates,
            "relay1000_s": round(fast, 3),
            "relay1000_x": round(fast / base, 1),
            "naive_s": round(naive_cost, 1),
            "naive_x": round(naive_cost / base),
            "naive_extrapolated": extrapolated,
            "parsed_chars_per_char_4": round(r4.stats.parsed_chars / len(text), 2),
        }
        row = report[f"{size // 1000} KB"]
        print(
            f"{size // 1000:>6}KB {base:>8.4f} | {four:>6.2f}s {row['four_char_x']:>5.1f}× | "
            f"{batched:>7.2f}s {row['relay100_x']:>5.1f}× | {fast:>8.2f}s {row['relay1000_x']:>5.1f}× | "
            f"{naive_cost:>8.1f}s {row['naive_x']:>6}×{' (extrap.)' if extrapolated else ''}"
        )
    if len(sizes) > 1:
        first, last = report[f"{sizes[0] // 1000} KB"], report[f"{sizes[-1] // 1000} KB"]
        growth = last["four_char_s"] / first["four_char_s"]
        print(
            f"\ncost growth 4-char, {sizes[0] // 1000} KB -> {sizes[-1] // 1000} KB "
            f"(x{sizes[-1] / sizes[0]:.0f} text): x{growth:.2f}"
        )
        print(f"cost growth relay@100, same: x{last['relay100_s'] / first['relay100_s']:.2f}")
    if not args.no_browser:
        browser = browser_scripting(200)
        report["browser"] = browser
        print("\nbrowser, 200 KB demo answer:")
        for key, value in browser.items():
            print(f"  {key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
