from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest

from tests.support.postgres import PostgresServer
from tests.support.server import Running, serve
from tests.support.upstream import FakeUpstream


@pytest.fixture
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        yield fake


@pytest.fixture
def bridge(upstream: FakeUpstream) -> Iterator[Running]:
    """Inkstream in front of the fake upstream, with short timeouts for tests."""
    with serve(openai_base_url=upstream.base_url, idle_timeout=1.0, grace_period=0.5) as running:
        yield running


@pytest.fixture
def server_factory() -> Callable[..., AbstractContextManager[Running]]:
    return serve


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway real PostgreSQL server on a free loopback port, shared by the session.

    A test that stops it (an outage) must start it again before it ends."""
    with PostgresServer() as server:
        yield server
