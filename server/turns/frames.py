"""Server frames of a turn as they go on the wire (pure)."""

from __future__ import annotations

import json
from typing import Any

Frame = dict[str, Any]


def encode(frame: dict[str, Any]) -> str:
    text = json.dumps(frame, ensure_ascii=False, separators=(",", ":"))
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate slipped through: escaped, it is still valid JSON and UTF-8.
            text = json.dumps(frame, separators=(",", ":"))
    return text
