"""What an edit of the demo's 200 KB answer costs the server: CPU and bytes sent.

The ``huge`` answer streams into a turn's relay (the real Relay, Projection, renderer and merge;
no network) in pieces of the size the demo sends; at 10%, 50% and 90% of it a page edits a word
near the start, in the middle, and at the growing end, and once more after the end. For each:
the median time of the merge plus the re-render (``Relay.edit``, which makes the edit frame),
and the bytes of that frame. An ended answer is edited through its stored message
(turns/revisions.py, web/socket.py): the merge, the whole answer rendered again, and the frame
with the top-level elements that changed, as the server does them (without the database
write). The baseline, measured in the same run, is a frame of plain new
text (one ``Relay.flush``), so the ratio says what an edit costs against the stream's own work.

    .venv/bin/python benchmarks/edit.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.demo.longform import huge_answer
from server.markdown.elements import changed, top_elements
from server.markdown.engine import Markdown
from server.turns.frames import encode
from server.turns.merge import Edit
from server.turns.projection import Projection
from server.turns.relay import Relay
from server.upstream.events import ContentDelta
from server.web.protocol import revised_frame

PIECE = 160  # characters per upstream read, about the demo's


def relay_at(text: str, fraction: float, markdown: Markdown) -> tuple[Relay, float]:
    projection = Projection("t_bench", markdown=markdown)
    relay = Relay(projection, model="m", ref=None, max_fps=1e9, burst=10**9, now=0.0)
    relay.start()
    now = 0.0
    stop = int(len(text) * fraction)
    flushes = []
    for at in range(0, stop, PIECE):
        now += 1.0
        relay.feed(ContentDelta(text[at : min(stop, at + PIECE)]), now)
        started = time.perf_counter()
        relay.flush(now)
        flushes.append(time.perf_counter() - started)
    return relay, statistics.median(flushes[-50:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    markdown = Markdown()
    text = huge_answer()
    print(f"answer: {len(text):,} characters")
    for fraction in (0.1, 0.5, 0.9, 1.0):
        relay, flush = relay_at(text, fraction, markdown)
        if fraction == 1.0:
            relay.end(1e6)
        length = len(relay.document.text)
        shown = top_elements(markdown.render(relay.document.text, {"docId": "m_bench"}))
        for where, at in (("start", 40), ("middle", length // 2), ("end", max(0, length - 30))):
            times, sizes = [], []
            for _ in range(args.runs):
                word = relay.document.text.find(" ", at) + 1
                started = time.perf_counter()
                if relay.ended:
                    # The ended answer: what an edit of its stored message costs.
                    document = relay.document
                    changes = document.edit(document.version, [Edit(word, word, "edited ")], "page")
                    edits = [[e.start, e.end, e.text] for c in changes for e in c.edits]
                    elements = top_elements(markdown.render(document.text, {"docId": "m_bench"}))
                    head, tail = changed(shown, elements)
                    middle = "".join(elements[head : len(elements) - tail])
                    frame = revised_frame(
                        "c", "m", document.version, edits, "page", None,
                        html=middle, keep=(head, tail), was=len(shown),
                    )  # fmt: skip
                    shown = elements
                    size = len(encode(frame).encode())
                else:
                    step = relay.edit(
                        relay.document.version, [Edit(word, word, "edited ")], "page", None, 2e6
                    )
                    size = sum(len(encode(f).encode()) for f in step.frames)
                times.append(time.perf_counter() - started)
                sizes.append(size)
            median = statistics.median(times)
            state = "ended" if relay.ended else f"{fraction:.0%}"
            print(
                f"  {state:>5} {where:>6}: {median * 1000:7.2f} ms "
                f"({median / flush:5.1f}x a text frame's {flush * 1000:.2f} ms), "
                f"edit frame {statistics.median(sizes):>9,.0f} bytes"
            )


if __name__ == "__main__":
    main()
