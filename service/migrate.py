"""Run the Alembic migrations from code (``postguard migrate``, tests, the demo).

The functions are synchronous and accept any PostgreSQL URL (``postgresql://``, ``postgres://``,
``postgresql+psycopg://`` ...); the driver is rewritten to asyncpg, the only one installed.

Alembic's async ``env.py`` calls ``asyncio.run``, which refuses to run inside a running event
loop. So every call runs Alembic in a worker thread with its own loop and waits for it: the
functions work the same from plain scripts and from async code. From async code they block the
caller's loop while they run; prefer ``await asyncio.to_thread(upgrade, url)`` there.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import migrations

from .settings import with_driver

__all__ = ["alembic_config", "current", "downgrade", "head", "upgrade"]

T = TypeVar("T")

# ``__path__`` rather than ``__file__``: an editable install made before ``migrations/__init__.py``
# existed imports it as a namespace package, which has no ``__file__``.
SCRIPT_LOCATION = Path(next(iter(migrations.__path__)))


def alembic_config(database_url: str) -> Config:
    """The Alembic configuration of ``migrations/``, built in code (no ini file, no logging setup).

    The URL travels in ``config.attributes``, not in ``sqlalchemy.url``: the ini parser would
    treat a ``%`` in a password as interpolation.
    """
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    config.attributes["database_url"] = with_driver(database_url, "asyncpg")
    return config


def _in_thread(function: Callable[[], T]) -> T:
    """Run ``function`` in a new thread (so no event loop is running there) and return its result."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        try:
            result.append(function())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            error.append(exc)

    thread = threading.Thread(target=target, name="postguard-migrate")
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` (default: the newest)."""
    _in_thread(lambda: command.upgrade(alembic_config(database_url), revision))


def downgrade(database_url: str, revision: str = "base") -> None:
    """Migrate the database down to ``revision`` (default: ``base``, which drops every table)."""
    _in_thread(lambda: command.downgrade(alembic_config(database_url), revision))


def head() -> str | None:
    """The newest revision in ``migrations/versions`` (no database needed)."""
    return ScriptDirectory.from_config(alembic_config("postgresql://unused/unused")).get_current_head()


def current(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""

    async def read() -> str | None:
        engine = create_async_engine(with_driver(database_url, "asyncpg"), poolclass=NullPool)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(_current_revision)
        finally:
            await engine.dispose()

    return _in_thread(lambda: asyncio.run(read()))


def _current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
