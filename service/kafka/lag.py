"""The consumer group's lag per input partition, read from Kafka for the monitor's gauges
(:mod:`service.observability.monitor`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from service.kafka.clients import CLIENT_ID, client_security_kwargs
from service.observability.monitor import REFRESH_TIMEOUT_S, START_GRACE_S
from service.settings import KafkaSettings

logger = logging.getLogger(__name__)


class KafkaLag:
    """Lag of ``group_id`` on ``topic`` from two plain aiokafka clients, created on first use.

    The admin client reads the committed offsets (OffsetFetch), a group-less consumer reads the
    log-end offsets (ListOffsets); neither joins the group. Partitions are named explicitly in the
    OffsetFetch request: Tansu closes the connection on the "all partitions" form. After a failure
    both clients are dropped and rebuilt on the next refresh.
    """

    def __init__(self, settings: KafkaSettings) -> None:
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
