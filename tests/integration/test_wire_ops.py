"""Every render operation the server sends is one of the schema's (server/markdown/ops.py),
with its block id, and the page they build is the one-shot render: the demo model's answers,
end to end through the real server."""

from __future__ import annotations

import pytest

from tests.browser.helpers import expected_content
from tests.support.client import Client, ops_of, text_of
from tests.support.dom import Page, canonical, parse, serialize, strip_chrome
from tests.support.server import serve


@pytest.mark.parametrize("prompt", ["help", "code", "table", "list", "tour", "long", "huge"])
def test_every_operation_on_the_wire_is_in_the_schema(prompt: str) -> None:
    with serve(demo_ttft_ms=0, demo_tokens_per_second=5000) as running, Client(running.ws) as client:
        turn = client.start(prompt, model="inkstream-demo-fast")
        frames = client.until_end(turn, timeout=60)
    page = Page()
    page.apply(ops_of(frames))  # each operation checked against the schema as it is applied
    assert frames[-1]["state"] == "done"
    shown = canonical(serialize(strip_chrome(parse(page.html()))))
    assert shown == expected_content(text_of(frames), doc_id=turn)
    assert len(page.ids) == len(set(page.ids)) > 0
