"""Alembic environment: async (asyncpg), URL from the caller, ``-x url=``, or ``Settings``.

Where the URL comes from, first match wins:
1. ``config.attributes["database_url"]`` — set by ``service.storage.migrate`` (no ``%`` escaping issues,
   never written to an ini file);
2. ``alembic -x url=postgresql://...``;
3. ``sqlalchemy.url`` in the ini file (empty in ours);
4. ``POSTGUARD_DATABASE_URL`` through ``service.settings``.
Any PostgreSQL URL is accepted; the driver is always rewritten to asyncpg (the only one installed).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from service.settings import load_settings, with_driver
from service.storage.tables import Base

config = context.config
target_metadata = Base.metadata

# Only the command line configures logging; called from the service, its own logging stays.
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = (
        config.attributes.get("database_url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
    )
    if not url:
        # Migrations never talk to Kafka: the placeholder only satisfies that required setting,
        # so POSTGUARD_DATABASE_URL is the one variable a missing-configuration error names.
        url = load_settings(kafka_bootstrap="unused:9092").database_url.get_secret_value()
    return with_driver(url, "asyncpg")


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """``alembic upgrade --sql``: print the SQL instead of running it."""
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_with_connection(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    engine = create_async_engine(_database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_with_connection)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    # service.storage.migrate runs Alembic in a thread of its own, so no event loop is running here.
    asyncio.run(run_migrations_online())
