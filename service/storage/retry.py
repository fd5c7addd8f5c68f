"""Writing a batch's decisions until PostgreSQL takes them.

A database outage must pause consumption, never lose or skip posts: the batch's offsets are
committed only after its decisions are, so the write is retried for as long as it takes, with
exponential backoff. The one exception is a post PostgreSQL refuses *as data* (SQLSTATE class 22,
e.g. an invalid byte sequence) or that the repository refuses before writing (``ValueError``, e.g.
a non-finite score): retrying cannot help, so that post alone is dead-lettered and the rest of
the batch is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from service.background import Backoff
from service.observability.metrics import ServiceMetrics
from service.storage.repository import DecisionRecord, StoredDecision

logger = logging.getLogger(__name__)

StoreFunction = Callable[[Sequence[DecisionRecord]], Awaitable[list[StoredDecision]]]


def is_database_error(exc: BaseException) -> bool:
    """Errors that mean "the database did not take the write" (as opposed to a bug in our code)."""
    if isinstance(exc, SQLAlchemyError | OSError | TimeoutError):
        return True
    # asyncpg errors normally arrive wrapped by SQLAlchemy; accept them bare too.
    return type(exc).__module__.startswith("asyncpg")


def data_rejection_sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE when PostgreSQL refused the *data* (class 22: data exception), else None."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate.startswith("22"):
        return sqlstate
    return None


@dataclass
class StoreRetry:
    """Runs a store call until it succeeds; backoff doubles from ``initial_s`` up to ``max_s``."""

    metrics: ServiceMetrics
    initial_s: float = 0.5
    max_s: float = 10.0
    _sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    async def run(
        self, store: StoreFunction, records: Sequence[DecisionRecord]
    ) -> tuple[list[StoredDecision], list[tuple[int, str]]]:
        """Store ``records``; return (stored decisions, [(index, reason) of records refused as data])."""
        if not records:
            return [], []
        try:
            return await self._until_stored(store, records), []
        except _DataRejected:
            pass
        # Some record is unacceptable as data: store them one at a time to find it.
        stored: list[StoredDecision] = []
        rejected: list[tuple[int, str]] = []
        for index, record in enumerate(records):
            try:
                stored.extend(await self._until_stored(store, [record]))
            except _DataRejected as exc:
                logger.warning(
                    "post %s cannot be stored (%s); dead-lettering it", record.post_id, exc.sqlstate
                )
                rejected.append((index, exc.reason))
        return stored, rejected

    async def _until_stored(
        self, store: StoreFunction, records: Sequence[DecisionRecord]
    ) -> list[StoredDecision]:
        backoff = Backoff(self.initial_s, self.max_s)
        while True:
            started = asyncio.get_running_loop().time()
            try:
                stored = await store(records)
            except ValueError as exc:
                # The repository validates records before writing; the message names the post.
                raise _DataRejected("invalid", _first_line(exc)) from exc
            except Exception as exc:
                if not is_database_error(exc):
                    raise
                if (sqlstate := data_rejection_sqlstate(exc)) is not None:
                    raise _DataRejected(
                        sqlstate, f"PostgreSQL refused the post as data (SQLSTATE {sqlstate})"
                    ) from exc
                delay = backoff.failed()
                self.metrics.db_write_errors.inc()
                self.metrics.db_retry_backoff_seconds.set(delay)
                self.metrics.consumer_paused.set(1)
                logger.warning(
                    "writing %d decisions to PostgreSQL failed (attempt %d: %s: %s); "
                    "consumption is paused, retrying in %.1f s",
                    len(records),
                    backoff.failures,
                    type(exc).__name__,
                    _first_line(exc),
                    delay,
                )
                await self._sleep(delay)
                continue
            self.metrics.db_write_seconds.observe(asyncio.get_running_loop().time() - started)
            if failed := backoff.succeeded():
                logger.warning("PostgreSQL is writable again after %d failed attempts", failed)
                self.metrics.db_retry_backoff_seconds.set(0)
                self.metrics.consumer_paused.set(0)
            return stored


class _DataRejected(Exception):
    """A record the database (or the repository's validation) refuses whatever the retries."""

    def __init__(self, sqlstate: str, reason: str) -> None:
        super().__init__(reason)
        self.sqlstate = sqlstate
        self.reason = reason


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy messages carry the SQL and its parameters on later lines: keep post text out of logs.
    text = str(exc.orig if isinstance(exc, DBAPIError) else exc)
    return text.splitlines()[0][:200] if text else ""
