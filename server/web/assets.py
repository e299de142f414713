"""Where the page's files live: next to the package in a checkout or editable install, or
under ``<prefix>/share/inkstream`` when installed from a wheel."""

from __future__ import annotations

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
