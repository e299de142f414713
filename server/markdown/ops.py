"""The operations the renderer sends the page (docs/protocol.md, "Render operations")."""

from __future__ import annotations

from typing import Any

Op = dict[str, Any]
