"""Turns: one answer being produced, from the upstream's events to the frames the page gets.

May import: ``server.upstream``, ``server.markdown``, ``server.errors``, ``server.settings``.
Never the web layer. Exports ``Turns`` (running turns) and ``TurnRequest``.
"""
