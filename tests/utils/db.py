"""Reading a database's schema in tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from service.settings import with_driver

T = TypeVar("T")


async def run_sync_on(url: str, function: Callable[[Connection], T]) -> T:
    """Run ``function(connection)`` on a short-lived connection to ``url`` (for inspection)."""
    engine = create_async_engine(with_driver(url, "asyncpg"), poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(function)
    finally:
        await engine.dispose()
