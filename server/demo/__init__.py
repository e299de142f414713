"""Inkstream's built-in demo model: a scripted, deterministic OpenAI-compatible server.

``create_demo_app`` builds it; the main app mounts it at ``/demo`` and, when no upstream is
configured, streams from it over HTTP exactly as it would from a real model server.
"""

from .endpoint import create_demo_app

__all__ = ["create_demo_app"]
