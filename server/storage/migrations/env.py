"""Alembic's environment: migrations run on the connection the server hands over
(storage/engine.py), never on one of their own, so they use the same URL, driver and
SQLite pragmas as the queries."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from server.storage.schema import metadata

connection: Connection = context.config.attributes["connection"]
# SQLite cannot ALTER most things: batch mode copies the table, as Alembic recommends.
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
