"""The database engine: SQLite (WAL) or PostgreSQL by URL, migrated to the newest schema
when it opens (edge).

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit survives the server being
killed (the WAL is in the OS's hands once written), only a power cut can lose the last
commits, and readers never wait on the writer. ``busy_timeout`` lets a write wait a moment
for another process's lock before it fails as "database is locked".
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

log = logging.getLogger("inkstream.storage")

MIGRATIONS = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 2000


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        memory = database in ("", ":memory:")
        if not memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(
            url,
            # One in-memory database is one connection: every session must share it.
            poolclass=StaticPool if memory else None,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    # A connection the database dropped (it restarted) is found out before use, not by a
    # failed write.
    return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    cursor = connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


async def migrate(engine: AsyncEngine) -> None:
    """Bring the database to the newest schema (nothing to do when it is there)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


def _upgrade(connection: Connection) -> None:
    # Alembic narrates every start ("Context impl SQLiteImpl."...) at INFO; a migration that
    # runs is worth a line, the rest is noise on a newcomer's first screen.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def describe(url: str) -> str:
    """The URL as the log may show it: no password, and SQLite's file as a path."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite at {os.path.abspath(parsed.database or ':memory:')}"
    return f"{parsed.get_backend_name()} at {parsed.render_as_string(hide_password=True)}"
