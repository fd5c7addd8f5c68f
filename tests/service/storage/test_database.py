"""``service.storage.database``: engine creation and waiting for the database."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from devtools.embedded import PostgresServer, free_port
from service.errors import InfrastructureError
from service.storage.database import create_engine_from_url, describe_url, session_factory, wait_for_database


def test_describe_url_never_shows_the_password() -> None:
    described = describe_url("postgresql://alice:s3cret@db.example:6543/postguard")
    assert described == "db.example:6543/postguard (user alice)"


async def test_wait_for_unreachable_database_names_host_and_port_not_password() -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(InfrastructureError) as caught:
        await wait_for_database(f"postgresql://alice:s3cret@127.0.0.1:{port}/postguard", timeout_s=0.5)
    assert time.monotonic() - started < 3
    message = str(caught.value)
    assert f"127.0.0.1:{port}/postguard" in message
    assert "not reachable after 0.5 s" in message
    assert "s3cret" not in message


@pytest.mark.integration
async def test_wait_for_running_database_and_query(postgres: PostgresServer) -> None:
    await wait_for_database(postgres.url, timeout_s=5)
    engine = create_engine_from_url(postgres.url)
    try:
        async with session_factory(engine)() as session:
            assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await engine.dispose()
