"""The upstream model server (edge): the shared httpx client on Inkstream's own transport,
Server-Sent Events decoding, chunk parsing into typed events, and the model catalog.

May import: ``server.errors``, ``server.settings``, httpx, httpx-sse, httptools. Never the
renderer, turns or the web layer. Exports ``Upstream``, ``create_client``, ``Catalog`` and the
typed events of ``events``.
"""
