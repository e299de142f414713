"""benchmarks/page.py's stream part, this working tree against another revision, in one run.

    .venv/bin/python benchmarks/page_versus.py [--against HEAD] [--pairs 3] [--throttle 4]
                                               [--rate 1350] [--json out.json]

Two machines' worth of noise lies between two runs of page.py minutes apart on this 2-core
machine: the same code measured 41.9% and 47.7% busy. A change to the page is judged here
instead: the revision ``--against`` (any git revision; default HEAD, i.e. the working tree's
uncommitted change against its last commit) is exported with ``git archive`` into a scratch
folder and served by a second ``python -m server`` from there, with its own ``static/``. Both
servers run side by side (``nice 10``, the demo model at ``--rate``), one browser measures the
two in turns, in pairs ordered ABBA, BAAB, ... so that a drift of the machine falls on both
alike. Each figure is printed as the median for each side and the ratio of the medians (this
tree / the baseline): below 1 is better for every figure except the interactions made.
Nothing is asserted; the exit status is 1 only if an answer was incomplete.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from benchmarks.page import ARGS, ROWS, StreamRun, stream_run
from server.demo.scripts import Answers
from server.demo.tokens import strip_marks
from server.markdown.engine import Markdown
from tests.browser.helpers import expected_content
from tests.support.server import serve_process

ROOT = Path(__file__).resolve().parent.parent


def export(revision: str, into: Path) -> str:
    """The tracked files of ``revision`` under ``into``; its full commit id."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{revision}^{{commit}}"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    archive = into / "tree.tar"
    with archive.open("wb") as out:
        subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, stdout=out)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return commit


def order(pairs: int) -> list[str]:
    """ABBA BAAB ABBA ...: each side as often first as second, and as often early as late."""
    sides: list[str] = []
    for k in range(pairs):
        sides += ["this", "base"] if k % 2 == 0 else ["base", "this"]
    return sides


def medians(runs: list[StreamRun]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for _, _, _, name, _ in ROWS:
        values = [float(v) for r in runs if (v := getattr(r, name)) is not None]
        out[name] = statistics.median(values) if values else None
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--against", default="HEAD", help="git revision to compare with (HEAD)")
    parser.add_argument("--pairs", type=int, default=3, help="runs of each side (3)")
    parser.add_argument("--throttle", type=float, default=4.0)
    parser.add_argument("--rate", type=float, default=1350.0, help="tokens/s of the demo model")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress as it runs
    text = strip_marks(Answers.load().texts["huge"])
    expected = (Markdown().render(text), expected_content(text))
    env = {"INKSTREAM_DEMO_TTFT_MS": "0", "INKSTREAM_DEMO_TOKENS_PER_SECOND": f"{args.rate:g}"}
    results: dict[str, list[StreamRun]] = {"this": [], "base": []}
    with tempfile.TemporaryDirectory(prefix="inkstream-versus-") as scratch:
        commit = export(args.against, Path(scratch))
        print(
            f"huge answer at {args.rate:g} tokens/s, {args.throttle:g}× throttle: this working tree "
            f"against {args.against} ({commit[:10]}), {args.pairs} run(s) each, in turns"
        )
        with (
            serve_process(nice=10, **env) as this,
            serve_process(nice=10, cwd=str(Path(scratch) / "tree"), **env) as base,
            sync_playwright() as playwright,
        ):
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=ARGS)
            for side in order(args.pairs):
                run, _ = stream_run(browser, this if side == "this" else base, args.throttle, expected)
                results[side].append(run)
                print(f"  {side}: busy {run.busy_pct:.1f}%, long tasks {run.long_total_ms:.0f} ms")
            browser.close()
    mine, theirs = medians(results["this"]), medians(results["base"])
    print(f"\n  {'':<29} {'unit':>4} {'this':>8} {'base':>8} {'ratio':>7}   goal at 4×")
    for label, unit, goal, name, fmt in ROWS:
        a, b = mine[name], theirs[name]
        ratio = f"{a / b:.2f}" if a is not None and b else ""
        shown = [fmt.format(v) if v is not None else "?" for v in (a, b)]
        print(f"  {label:<29} {unit:>4} {shown[0]:>8} {shown[1]:>8} {ratio:>7}   {goal}")
    complete = all(r.complete for runs in results.values() for r in runs)
    print(f"  {'complete, both':<29} {'':>4} {'yes' if complete else 'NO':>8}")
    if args.json:
        report = {"against": commit, "throttle": args.throttle, "rate": args.rate}
        report |= {side: [asdict(r) for r in runs] for side, runs in results.items()}
        args.json.write_text(json.dumps(report, indent=2))
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
