"""Shared fixtures: real servers (Tansu, PostgreSQL) started once per session, fresh databases per test.

The servers start lazily: only tests that ask for them (directly or through ``migrated_db``) pay
for them, and they are stopped at the end of the session.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import settings
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devtools.embedded import PostgresServer, TansuBroker, start_postgres, start_tansu
from service.storage.database import create_engine_from_url, session_factory
from service.storage.migrate import upgrade
from tests.utils.prometheus import PrometheusTools, ensure_prometheus_tools

# Property tests check behaviour, not speed (speed is measured by the benchmarks): without this,
# hypothesis fails any example slower than 200 ms, which a test that shares two cores with a
# training run or a model load sometimes is (seen once in test_policy's priority property).
settings.register_profile("postguard", deadline=None)
settings.load_profile("postguard")


@pytest.fixture(scope="session")
def tansu() -> Iterator[TansuBroker]:
    """A memory-only Tansu broker on 127.0.0.1 for the whole session (topics persist between tests)."""
    with start_tansu() as broker:
        yield broker


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server on 127.0.0.1 for the whole session (never the system one)."""
    with start_postgres() as server:
        yield server


@pytest.fixture
def migrated_db(postgres: PostgresServer) -> Iterator[str]:
    """A fresh database migrated to head; yields its ``postgresql://`` URL, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres.create_database(name)
    upgrade(url)
    yield url
    postgres.drop_database(name)


@pytest.fixture
async def db_sessions(migrated_db: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Async sessions on ``migrated_db``; the engine is disposed after the test."""
    engine = create_engine_from_url(migrated_db)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def prometheus_tools() -> PrometheusTools:
    """promtool and prometheus (Debian package ``prometheus``), installed when missing and root."""
    return ensure_prometheus_tools()
