"""tests/support/postgres.py: the throwaway PostgreSQL server answers, goes away and comes back."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from tests.support.postgres import HOST, PostgresServer


async def select_one(postgres: PostgresServer, database: str) -> int:
    connection = await asyncpg.connect(
        host=HOST, port=postgres.port, user="postgres", database=database, timeout=5
    )
    try:
        value: int = await connection.fetchval("select 1")
        return value
    finally:
        await connection.close()


def test_serves_stops_and_starts_again_on_the_same_port(postgres: PostgresServer) -> None:
    database = f"fixture_{uuid.uuid4().hex[:8]}"
    postgres.create_database(database)
    assert postgres.url(database) == f"postgresql+asyncpg://postgres@127.0.0.1:{postgres.port}/{database}"
    assert asyncio.run(select_one(postgres, database)) == 1

    port = postgres.port
    try:
        postgres.stop()
        with pytest.raises(ConnectionRefusedError):  # nothing listens on the port
            asyncio.run(select_one(postgres, database))
    finally:
        postgres.start()  # the fixture is shared: leave it running whatever happened
    assert postgres.port == port
    assert asyncio.run(select_one(postgres, database)) == 1  # the same data directory: the database is there
