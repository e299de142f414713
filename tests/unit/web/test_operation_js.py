"""The page's text operations (static/operation.js) transform edits exactly as the server's
(server/turns/merge.py): random pairs of edits on random texts, run through both, in one Node
process."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

from server.turns.merge import Edit, apply, edits_of, op_of, transform

MODULE = Path(__file__).resolve().parents[3] / "static" / "operation.js"


def random_edit(rng: random.Random, length: int) -> tuple[int, int, str]:
    start = rng.randint(0, length)
    end = rng.randint(start, min(length, start + rng.choice([0, 0, 1, 3, 8])))
    return start, end, rng.choice(["", "x", "yz", "ABC"])


def test_the_page_transforms_edits_as_the_server_does() -> None:
    node = shutil.which("node")
    assert node, "Node is needed (the test command installs it with the front end's tools)"
    rng = random.Random(9)
    cases = []
    for _ in range(400):
        text = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 12)))
        a, b = random_edit(rng, len(text)), random_edit(rng, len(text))
        a2, b2 = transform(op_of(Edit(*a), len(text)), op_of(Edit(*b), len(text)))
        expected = [
            [[e.start, e.end, e.text] for e in edits_of(a2)],
            [[e.start, e.end, e.text] for e in edits_of(b2)],
        ]
        assert apply(a2, apply(op_of(Edit(*b), len(text)), text)) == apply(
            b2, apply(op_of(Edit(*a), len(text)), text)
        )
        cases.append({"length": len(text), "a": a, "b": b, "expected": expected})
    script = f"""
      import {{ opOf, transform, replacementsOf }} from {json.dumps(MODULE.as_uri())};
      const cases = JSON.parse(process.argv[1]);
      const got = cases.map(({{length, a, b}}) => {{
        const [a2, b2] = transform(opOf(a, length), opOf(b, length));
        return [replacementsOf(a2), replacementsOf(b2)];
      }});
      console.log(JSON.stringify(got));
    """
    out = subprocess.run(
        [node, "--input-type=module", "-e", script, json.dumps(cases)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    got = json.loads(out.stdout)
    for case, result in zip(cases, got, strict=True):
        assert result == case["expected"], case
