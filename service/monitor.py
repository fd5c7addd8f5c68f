"""Gauges that no batch updates: consumer lag and review queue depth, re-read on a timer.

:class:`Monitor` runs one background task in the service's event loop. Every
``POSTGUARD_METRICS_REFRESH_INTERVAL_S`` it asks Kafka for the consumer group's lag on each input
partition (log-end offset minus committed offset) and PostgreSQL for the review items per status.
Every call is asynchronous and bounded by a timeout, so a slow broker or database delays only
the next refresh, never the consumer. A failed refresh keeps the previous values, counts
``postguard_metrics_refresh_errors_total{source}`` and is logged once per streak of failures:
these gauges are for people and alerts, and must never take the service down.

Every replica reports the lag of the whole group (not only its own partitions), so the lag stays
visible while partitions are being reassigned; dashboards aggregate with ``max by (partition)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .kafka_setup import CLIENT_ID, client_security_kwargs
from .metrics import ServiceMetrics
from .repository import review_queue_depth
from .settings import Settings

logger = logging.getLogger(__name__)

#: Longest a single refresh may take before it counts as failed.
REFRESH_TIMEOUT_S = 10.0
#: Longest a stop waits for the lag clients' start in flight to end, so it can close them cleanly.
START_GRACE_S = 5.0


class LagSource(Protocol):
    """Reads the consumer group's lag per partition of one topic."""

    async def lag(self) -> dict[int, int]: ...

    async def close(self) -> None: ...


class KafkaLag:
    """Lag of ``group_id`` on ``topic`` from two plain aiokafka clients, created on first use.

    The admin client reads the committed offsets (OffsetFetch), a group-less consumer reads the
    log-end offsets (ListOffsets); neither joins the group. Partitions are named explicitly in the
    OffsetFetch request: Tansu closes the connection on the "all partitions" form. After a failure
    both clients are dropped and rebuilt on the next refresh.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._topic = settings.input_topic
        self._group = settings.group_id
        self._admin: AIOKafkaAdminClient | None = None
        self._consumer: AIOKafkaConsumer | None = None

    async def lag(self) -> dict[int, int]:
        try:
            return await self._read()
        except BaseException:
            await self.close()
            raise

    async def _read(self) -> dict[int, int]:
        admin, consumer = await self._clients()
        numbers = consumer.partitions_for_topic(self._topic)
        if numbers is None:
            await consumer.topics()  # refreshes the cluster metadata
            numbers = consumer.partitions_for_topic(self._topic)
        if not numbers:
            raise LookupError(f"topic {self._topic} has no partitions (or does not exist)")
        partitions = [TopicPartition(self._topic, n) for n in sorted(numbers)]
        committed = await admin.list_consumer_group_offsets(self._group, partitions=partitions)
        end = await consumer.end_offsets(partitions)
        uncommitted = [tp for tp in partitions if _offset(committed.get(tp)) < 0]
        # A partition the group never committed is read from the beginning (auto_offset_reset=earliest).
        start = await consumer.beginning_offsets(uncommitted) if uncommitted else {}
        lag: dict[int, int] = {}
        for tp in partitions:
            position = _offset(committed.get(tp))
            if position < 0:
                position = start[tp]
            lag[tp.partition] = max(0, end[tp] - position)
        return lag

    async def _clients(self) -> tuple[AIOKafkaAdminClient, AIOKafkaConsumer]:
        if self._admin is None or self._consumer is None:
            settings = self._settings
            common: dict[str, Any] = {
                "bootstrap_servers": settings.kafka_bootstrap,
                "client_id": f"{CLIENT_ID}-monitor",
                "request_timeout_ms": int(REFRESH_TIMEOUT_S * 1000),
                **client_security_kwargs(settings),
            }
            admin = AIOKafkaAdminClient(**common)
            consumer = AIOKafkaConsumer(enable_auto_commit=False, **common)
            starting = asyncio.ensure_future(_start_both(admin, consumer))
            try:
                await asyncio.shield(starting)
            except BaseException:
                # Cancelled (the service stops, or the refresh timed out) or failed. A client
                # cancelled inside start() leaks its bootstrap connection (aiokafka closes it only
                # when start() returns or raises), so a start in flight may finish first, briefly.
                if not starting.done():
                    await asyncio.wait({starting}, timeout=START_GRACE_S)
                await _close_quietly(admin.close)
                await _close_quietly(consumer.stop)
                raise
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def close(self) -> None:
        admin, consumer = self._admin, self._consumer
        self._admin = self._consumer = None
        if consumer is not None:
            await _close_quietly(consumer.stop)
        if admin is not None:
            await _close_quietly(admin.close)


ReviewCounter = Callable[[], Awaitable[Mapping[str, int]]]


def review_counter(sessions: async_sessionmaker[AsyncSession]) -> ReviewCounter:
    """``review_queue_depth`` bound to a session factory."""

    async def count() -> Mapping[str, int]:
        return await review_queue_depth(sessions=sessions)

    return count


class Monitor:
    """Refreshes the lag and review-queue gauges every ``interval_s`` in a background task."""

    def __init__(
        self,
        *,
        metrics: ServiceMetrics,
        topic: str,
        lag_source: LagSource,
        review_counts: ReviewCounter,
        interval_s: float,
        timeout_s: float = REFRESH_TIMEOUT_S,
    ) -> None:
        self._metrics = metrics
        self._topic = topic
        self._lag_source = lag_source
        self._review_counts = review_counts
        self._interval_s = interval_s
        self._timeout_s = min(timeout_s, max(interval_s, 1.0))
        self._task: asyncio.Task[None] | None = None
        self._failing: set[str] = set()

    def start(self) -> None:
        """Start refreshing (the first refresh runs at once)."""
        if self._task is not None:
            raise RuntimeError("Monitor is already started")
        self._task = asyncio.create_task(self._run(), name="postguard-monitor")

    async def stop(self) -> None:
        """Stop refreshing and close the Kafka clients. Safe to call twice."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        await self._lag_source.close()

    async def refresh(self) -> None:
        """One refresh of both sources (what the task does every interval)."""
        await asyncio.gather(
            self._guarded("consumer_lag", self._refresh_lag),
            self._guarded("review_queue", self._refresh_review_queue),
        )

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval_s)

    async def _refresh_lag(self) -> None:
        lag = await self._lag_source.lag()
        for partition, value in lag.items():
            self._metrics.consumer_lag.labels(topic=self._topic, partition=str(partition)).set(value)

    async def _refresh_review_queue(self) -> None:
        counts = await self._review_counts()
        for status, value in counts.items():
            self._metrics.review_queue_items.labels(status=status).set(value)

    async def _guarded(self, source: str, refresh: Callable[[], Awaitable[None]]) -> None:
        try:
            await asyncio.wait_for(refresh(), self._timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - an observability refresh must not stop the service
            self._metrics.refresh_errors.labels(source=source).inc()
            if source not in self._failing:
                self._failing.add(source)
                logger.warning(
                    "refreshing %s failed (%s: %s); keeping the last values and retrying every %.0f s",
                    source,
                    type(exc).__name__,
                    exc,
                    self._interval_s,
                )
            return
        if source in self._failing:
            self._failing.discard(source)
            logger.info("refreshing %s works again", source)


def _offset(value: Any) -> int:
    """The offset of an ``OffsetAndMetadata`` (``-1`` when the group has none)."""
    return -1 if value is None else int(value.offset)


async def _start_both(admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
    await admin.start()
    await consumer.start()


async def _close_quietly(close: Callable[[], Awaitable[Any]]) -> None:
    try:
        await close()
    except Exception as exc:  # noqa: BLE001 - closing a broken client: nothing left to do
        logger.debug("closing a monitor client failed: %r", exc)
