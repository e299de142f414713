"""The web edge: the Starlette app and its lifespan, the pages, the ``/ws`` endpoint and its
frame protocol, security headers, where assets live, and the event loop the server runs on.

May import everything below it (turns, upstream, markdown, demo, settings, errors); nothing
imports it but the CLI. Exports ``create_app``.
"""
