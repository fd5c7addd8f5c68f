"""Engine and session factory for PostgreSQL (SQLAlchemy 2 async, asyncpg), and a startup wait."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from service.background import Backoff
from service.errors import InfrastructureError
from service.settings import with_driver

__all__ = ["create_engine_from_url", "describe_url", "session_factory", "wait_for_database"]

logger = logging.getLogger(__name__)


def create_engine_from_url(url: str, *, pool_size: int = 5, echo: bool = False) -> AsyncEngine:
    """An asyncpg engine for any ``postgresql://`` URL (whatever driver it names).

    ``pool_pre_ping`` tests each pooled connection before use, so a database restart costs a
    reconnect instead of one failed transaction per stale connection.
    """
    return create_async_engine(
        with_driver(url, "asyncpg"), pool_pre_ping=True, pool_size=pool_size, echo=echo
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit (results are read after the transaction)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def describe_url(url: str) -> str:
    """``host:port/database (user u)`` for messages: never the password."""
    parsed = make_url(with_driver(url, "asyncpg"))
    host = parsed.host or parsed.query.get("host") or "localhost"
    return f"{host}:{parsed.port or 5432}/{parsed.database or ''} (user {parsed.username or '?'})"


def _is_permanent(exc: BaseException) -> bool:
    """Errors no amount of waiting fixes: wrong password, unknown role, no access."""
    import asyncpg

    permanent = (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, permanent):
            return True
        cause = cause.__cause__
    return False


async def wait_for_database(url: str, timeout_s: float = 30.0) -> None:
    """Wait until ``SELECT 1`` succeeds on ``url``; raise ``InfrastructureError`` after ``timeout_s``.

    For startup ordering (containers start in any order). Authentication errors fail at once.
    The message names host, port, database and user, never the password.
    """
    engine = create_async_engine(with_driver(url, "asyncpg"), poolclass=NullPool)
    deadline = time.monotonic() + timeout_s
    backoff = Backoff(first_s=0.1, max_s=1.0)
    last_error: BaseException | None = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            try:
                async with asyncio.timeout(max(min(remaining, 5.0), 0.1)):
                    async with engine.connect() as connection:
                        await connection.execute(text("SELECT 1"))
                return
            except Exception as exc:  # retried until the deadline; the last one is reported
                last_error = exc
                if _is_permanent(exc):
                    raise InfrastructureError(
                        f"PostgreSQL at {describe_url(url)} refused the connection: {_first_line(exc)}"
                    ) from None
            delay = backoff.failed()
            if time.monotonic() + delay > deadline:
                break
            logger.info("waiting for PostgreSQL at %s: %s", describe_url(url), _first_line(last_error))
            await asyncio.sleep(delay)
    finally:
        await engine.dispose()
    raise InfrastructureError(
        f"PostgreSQL at {describe_url(url)} not reachable after {timeout_s:g} s: {_first_line(last_error)}"
    )


def _first_line(exc: BaseException | None) -> str:
    if exc is None:
        return "no attempt made"
    if isinstance(exc, TimeoutError):
        return "connection attempt timed out"
    message = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {message[0] if message else ''}"
