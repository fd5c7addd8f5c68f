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
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import migrations
from service.errors import InfrastructureError
from service.settings import with_driver
from service.storage.database import describe_url

__all__ = [
    "alembic_config",
    "current",
    "downgrade",
    "grant_runtime_role",
    "head",
    "runtime_grants",
    "upgrade",
]

T = TypeVar("T")

# ``__path__`` rather than ``__file__``: an editable install made before ``migrations/__init__.py``
# existed imports it as a namespace package, which has no ``__file__``.
SCRIPT_LOCATION = Path(next(iter(migrations.__path__)))


def alembic_config(database_url: str | None = None) -> Config:
    """The Alembic configuration of ``migrations/``, built in code (no ini file, no logging setup);
    without a URL it only reads the scripts (the head revision).

    The URL travels in ``config.attributes``, not in ``sqlalchemy.url``: the ini parser would
    treat a ``%`` in a password as interpolation.
    """
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")
    if database_url is not None:
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
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


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


#: Role names ``grant_runtime_role`` accepts (it quotes them too): plain lower-case identifiers.
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: The one table the runtime role may only read and append to.
APPEND_ONLY_TABLE = "audit_log"


def runtime_grants(role: str) -> list[str]:
    """The statements that give ``role`` exactly what the service and the review page need: read,
    insert and update the tables they work on, but only SELECT and INSERT on ``audit_log``; no
    table is the role's own, so it cannot alter, disable the trigger of, truncate or drop any."""
    if not _ROLE_NAME.match(role):
        raise ValueError(f"runtime role {role!r} must be a lower-case identifier (letters, digits, _)")
    from service.storage.tables import Base

    quoted = f'"{role}"'
    tables = [t.name for t in Base.metadata.sorted_tables if t.name != APPEND_ONLY_TABLE]
    return [
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        *(f'REVOKE ALL ON TABLE "{name}" FROM {quoted}' for name in [*tables, APPEND_ONLY_TABLE]),
        *(f'GRANT SELECT, INSERT, UPDATE ON TABLE "{name}" TO {quoted}' for name in tables),
        f'GRANT SELECT, INSERT ON TABLE "{APPEND_ONLY_TABLE}" TO {quoted}',
        f"GRANT SELECT ON TABLE alembic_version TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
    ]


def grant_runtime_role(database_url: str, role: str) -> None:
    """Grant ``role`` (the role the service connects as) its privileges on the migrated schema
    (:func:`runtime_grants`), as the role running the migrations, which owns the tables. Raises
    ``ValueError`` with what to do when the role is missing or is the owner itself."""
    statements = runtime_grants(role)

    async def grant() -> None:
        engine = create_async_engine(with_driver(database_url, "asyncpg"), poolclass=NullPool)
        try:
            async with engine.begin() as connection:
                exists = await connection.scalar(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}
                )
                if not exists:
                    raise ValueError(
                        f"the runtime role {role!r} does not exist: create it first "
                        f"(CREATE ROLE {role} LOGIN PASSWORD '...'), then run the migration again"
                    )
                owner = await connection.scalar(text("SELECT current_user"))
                if owner == role:
                    raise ValueError(
                        f"the migration runs as {role!r}, the runtime role itself: the tables' owner can "
                        "disable the audit log's trigger. Migrate as another role (the owner)"
                    )
                for statement in statements:
                    await connection.execute(text(statement))
        finally:
            await engine.dispose()

    _in_thread(lambda: asyncio.run(grant()))


async def require_head(url: str) -> None:
    """Refuse to start on a database that is not migrated to the newest revision."""
    expected = head()
    try:
        found = await asyncio.to_thread(current, url)
    except Exception as exc:
        raise InfrastructureError(
            f"cannot read the schema revision of the database {describe_url(url)}: {exc}"
        ) from exc
    if found != expected:
        state = "not migrated" if found is None else f"at revision {found}"
        raise InfrastructureError(
            f"the database {describe_url(url)} is {state}, this version needs {expected}: "
            "run `postguard migrate` first"
        )
