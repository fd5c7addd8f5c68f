"""Where posts enter: the batch subscriber on the input topic, what it does with each batch
(process, then commit what is decided, or rewind and back off), and the rebalance listener that
commits before partitions are taken away.

Delivery guarantees: the subscriber's ack policy is MANUAL (FastStream's Kafka default, ACK_FIRST,
commits before processing and would lose posts on a crash); an offset is committed only once its
post's decision is stored and published (:class:`~service.kafka.offsets.OffsetTracker`); a batch
the pipeline fails on is rewound (``nack``), so it is redelivered rather than skipped by a later
commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import FakeConsumer
from faststream.kafka.schemas import Topic

from service.background import Backoff
from service.kafka.offsets import CommitFunction, CommittedFunction, OffsetTracker
from service.moderation.pipeline import Pipeline
from service.observability.metrics import ServiceMetrics
from service.records import RawRecord
from service.settings import KafkaSettings

logger = logging.getLogger(__name__)

#: Pause before a failed batch is fetched again, doubled per consecutive failure up to the cap, so
#: a persistent fault (a model outage, a broker refusing publishes) neither spins a core nor
#: re-fetches every URL image of the batch every second.
REDELIVERY_PAUSE_S = 1.0
REDELIVERY_PAUSE_MAX_S = 60.0
#: Longest a rebalance waits for the posts of partitions being taken away to be decided (the
#: group waits for this consumer meanwhile; must stay well under the rebalance timeout).
REVOKE_DRAIN_S = 10.0


async def _keep_raw(message: Any) -> None:
    """Decoder that decodes nothing: the pipeline parses the raw bytes itself, so a message that
    is not JSON reaches the dead-letter topic instead of failing inside FastStream."""
    return None


def _raw_record(record: ConsumerRecord[Any, Any]) -> RawRecord:
    return RawRecord(
        value=record.value,
        key=record.key,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        timestamp_ms=record.timestamp if record.timestamp is not None and record.timestamp >= 0 else None,
    )


def _committer(consumer: Any) -> CommitFunction:
    """Explicit per-partition commits through the batch's consumer."""
    if isinstance(consumer, FakeConsumer):
        # FastStream's in-memory test broker has no offsets to commit (unit tests only).
        async def commit_nothing(positions: dict[TopicPartition, int]) -> None:
            await consumer.commit()

        return commit_nothing

    async def commit(positions: dict[TopicPartition, int]) -> None:
        await consumer.commit(positions)

    return commit


def _committed_lookup(consumer: Any) -> CommittedFunction | None:
    """The group's committed offset of a partition, through the batch's consumer."""
    if isinstance(consumer, FakeConsumer):
        return None

    async def committed(partition: TopicPartition) -> int | None:
        offset = await consumer.committed(partition)
        return int(offset) if offset is not None else None

    return committed


class BatchRetry:
    """Exponential back-off between attempts at a failed batch: ``first_s``, doubled per
    consecutive failure, at most ``max_s``; a success resets it. Counted and exported."""

    def __init__(
        self,
        first_s: float | None = None,
        max_s: float | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        # Read at construction, not at import: tests shorten the module's pauses.
        self._backoff = Backoff(
            REDELIVERY_PAUSE_S if first_s is None else first_s,
            REDELIVERY_PAUSE_MAX_S if max_s is None else max_s,
        )
        self.sleep = sleep

    @property
    def failures(self) -> int:
        """Failed attempts in a row."""
        return self._backoff.failures

    def failed(self, metrics: ServiceMetrics | None) -> float:
        """Record a failure; the pause before the batch is fetched again."""
        pause = self._backoff.failed()
        if metrics is not None:
            metrics.batch_retries.inc()
            metrics.batch_retry_backoff_seconds.set(pause)
        return pause

    def succeeded(self, metrics: ServiceMetrics | None) -> None:
        if self._backoff.succeeded() and metrics is not None:
            metrics.batch_retry_backoff_seconds.set(0)


async def handle_batch(
    message: KafkaMessage, pipeline: Pipeline, offsets: OffsetTracker, retry: BatchRetry | None = None
) -> None:
    """Process one consumed batch and commit what is decided, or rewind it when processing failed
    (and wait ``retry``'s back-off before it is fetched again)."""
    retry = retry if retry is not None else BatchRetry()
    records = [_raw_record(r) for r in message.raw_message]
    offsets.bind(_committer(message.consumer), _committed_lookup(message.consumer))
    offsets.register(records)
    try:
        outcome = await pipeline.process(records)
    except Exception:
        first = records[0] if records else None
        pause = retry.failed(pipeline.metrics)
        logger.exception(
            "batch of %d records (from %s) failed (%d in a row); not committing it, it is fetched "
            "again in %.0f s",
            len(records),
            f"{first.topic}/{first.partition}@{first.offset}" if first else "?",
            retry.failures,
            pause,
        )
        # The records stay registered as pending, so no later commit passes them before they are
        # redelivered (from the rewound position) and decided.
        await message.nack()
        await retry.sleep(pause)
        return
    retry.succeeded(pipeline.metrics)
    deferred = {r.position for r in outcome.deferred}
    offsets.settle(r for r in records if r.position not in deferred)
    # A failed commit (typically a rebalance took the partitions mid-batch) is logged by the tracker:
    # the new owner redelivers and finds the decisions already stored, so nothing is lost or doubled.
    await offsets.commit()


class _CommitBeforeRevoke(ConsumerRebalanceListener):
    """Before the group takes partitions away: waits (at most ``drain_s``) for their posts still
    being decided (the batch in flight, memes in the OCR lane), commits what is decided, and marks
    them revoked. On assignment, the tracker catches up with the group's committed offsets."""

    def __init__(self, offsets: OffsetTracker, drain_s: float = REVOKE_DRAIN_S) -> None:
        self._offsets = offsets
        self._drain_s = drain_s

    async def on_partitions_revoked(self, revoked: Any) -> None:
        partitions = list(revoked)
        if not await self._offsets.wait_settled(partitions, self._drain_s):
            logger.warning(
                "giving up partitions %s with posts still being decided after %.0f s: "
                "they stay uncommitted and their new owner decides them again",
                ", ".join(f"{p.topic}/{p.partition}" for p in sorted(partitions)),
                self._drain_s,
            )
        await self._offsets.commit()
        self._offsets.revoke(partitions)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._offsets.assign(list(assigned))


def subscribe(
    broker: KafkaBroker,
    settings: KafkaSettings,
    pipeline: Pipeline | None = None,
    offsets: OffsetTracker | None = None,
) -> Callable[[Pipeline], None]:
    """Register the batch subscriber on ``broker``; returns a function that attaches the pipeline,
    which the service builds at start (it needs the model), after the subscriber is declared."""
    slot: dict[str, Pipeline | None] = {"pipeline": pipeline}
    tracker = offsets if offsets is not None else OffsetTracker()
    retry = BatchRetry()

    @broker.subscriber(
        # declare=False: ensure_topics creates topics with DEFAULT_PARTITIONS; FastStream would
        # create the input topic with a single partition, which caps the group at one consumer.
        Topic(settings.input_topic, declare=False),
        batch=True,
        group_id=settings.group_id,
        # A new group starts at the beginning: posts published before the first start are decided.
        auto_offset_reset="earliest",
        max_records=settings.batch_max_size,
        batch_timeout_ms=settings.batch_max_wait_ms,
        ack_policy=AckPolicy.MANUAL,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_partition_fetch_bytes=settings.max_message_bytes,
        # Prefetched records are the biggest buffer of a consumer with inline images: a burst of
        # posts fills it completely (docs/performance.md, peak RSS).
        fetch_max_bytes=max(settings.kafka_fetch_max_bytes, settings.max_message_bytes),
        # An idle consumer's fetch is parked at the broker for up to this long. Apache Kafka answers
        # as soon as a post arrives; Tansu (the embedded broker) waits the whole time, which added
        # ~0.1-0.25 s to every post's latency at aiokafka's default of 500 ms.
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
        decoder=_keep_raw,
        listener=_CommitBeforeRevoke(tracker, min(REVOKE_DRAIN_S, settings.session_timeout_ms / 2000)),
    )
    async def moderate(message: KafkaMessage) -> None:
        current = slot["pipeline"]
        if current is None:  # cannot happen: the broker starts after the pipeline exists
            raise RuntimeError("the pipeline is not attached")
        await handle_batch(message, current, tracker, retry)

    def attach(new: Pipeline) -> None:
        slot["pipeline"] = new

    return attach
