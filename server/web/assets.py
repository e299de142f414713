"""Where the page's files live: next to the package in a checkout or editable install, or
under ``<prefix>/share/inkstream`` when installed from a wheel."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from ..errors import ConfigError


def asset_dir(name: str) -> Path:
    candidates = [
        Path(__file__).resolve().parents[2] / name,
        Path(sys.prefix) / "share" / "inkstream" / name,
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        f"Cannot find Inkstream's {name}/ folder (looked in {', '.join(map(str, candidates))})."
    )


_IMPORT = re.compile(r"""^\s*import\s[^;]*?\sfrom\s+["']\./([\w.-]+\.js)["']""", re.MULTILINE)


def module_graph(static: Path, entry: str) -> tuple[str, ...]:
    """The ES modules ``entry`` imports, directly or not, in the order first seen (``entry``
    left out). The page names them all up front (``modulepreload``): otherwise the browser
    finds each level of imports only once the level above has arrived and been parsed, a round
    trip each, before the page can run."""
    seen: list[str] = []
    pending = [entry]
    while pending:
        text = (static / pending.pop(0)).read_text(encoding="utf-8")
        for name in _IMPORT.findall(text):
            if name != entry and name not in seen:
                seen.append(name)
                pending.append(name)
    return tuple(seen)
