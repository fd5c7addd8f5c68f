"""The postguard service: a Kafka batch consumer wired to the moderation pipeline.

:func:`build_app` builds a :class:`PostguardApp`; ``postguard serve`` runs it until SIGTERM or
SIGINT, the demo and the integration tests run it in-process through the same code.

Delivery guarantees, in one place:

- the subscriber's ack policy is MANUAL (FastStream's Kafka default, ACK_FIRST, commits before
  processing and would lose posts on a crash);
- an offset is committed only once its post's decision is committed in PostgreSQL and the decision
  (or dead letter) is acknowledged by Kafka. Posts whose image needs OCR are decided by the OCR lane
  after :meth:`Pipeline.process` returns, so posts of a partition can be decided out of order:
  :class:`~service.offsets.OffsetTracker` commits each partition only up to its first undecided post;
- if anything unexpected escapes the pipeline, the batch is rewound (``nack`` seeks each partition
  back to the batch's first offset), so it is redelivered rather than skipped by a later commit;
- when the group takes partitions away, what is decided is committed first; the rest is redelivered
  to the new owner, and the stored decisions make that a republish, never a second decision.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiokafka import ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.kafka.message import FakeConsumer
from faststream.kafka.schemas import Topic
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models.text_gate import TextGate

from . import migrate
from .database import create_engine_from_url, session_factory, wait_for_database
from .errors import InfrastructureError
from .images import ImageLimits, ImageLoader
from .kafka_setup import (
    GRACEFUL_TIMEOUT_S,
    BrokerPublisher,
    build_broker,
    check_idempotent_producer,
    ensure_topics,
)
from .memory import limit_arenas
from .metrics import HealthServer, ServiceMetrics, build_metrics
from .monitor import KafkaLag, Monitor, review_counter
from .offsets import CommitFunction, CommittedFunction, OffsetTracker
from .pipeline import Pipeline, RawRecord
from .policy import load_policy
from .repository import DecisionRecord, StoredDecision, record_decisions
from .review.audit import record_service_versions
from .review.events import OutboxRelay
from .scoring import Scorer, load_scorer
from .settings import Settings
from .topic_keeper import TopicKeeper

logger = logging.getLogger(__name__)

#: How long the service waits for PostgreSQL at start before giving up.
DATABASE_WAIT_S = 60.0
#: Pause before a failed batch is fetched again, doubled per consecutive failure up to the cap, so
#: a persistent fault (a model outage, a broker refusing publishes) neither spins a core nor
#: re-fetches every URL image of the batch every second.
REDELIVERY_PAUSE_S = 1.0
REDELIVERY_PAUSE_MAX_S = 60.0
#: A stop (SIGTERM) ends within this bound, whatever the threads do: Kubernetes' default grace
#: period is 30 s. The OCR lane's drain and the batch in flight take at most GRACEFUL_TIMEOUT_S each.
SHUTDOWN_BOUND_S = 20.0
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
        self.first_s = REDELIVERY_PAUSE_S if first_s is None else first_s
        self.max_s = REDELIVERY_PAUSE_MAX_S if max_s is None else max_s
        self.sleep = sleep
        self.failures = 0

    def failed(self, metrics: ServiceMetrics | None) -> float:
        """Record a failure; the pause before the batch is fetched again."""
        self.failures += 1
        pause = min(self.max_s, self.first_s * 2 ** (self.failures - 1))
        if metrics is not None:
            metrics.batch_retries.inc()
            metrics.batch_retry_backoff_seconds.set(pause)
        return pause

    def succeeded(self, metrics: ServiceMetrics | None) -> None:
        if self.failures and metrics is not None:
            metrics.batch_retry_backoff_seconds.set(0)
        self.failures = 0


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
    settings: Settings,
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


class PostguardApp:
    """The service's lifecycle: start (database, schema, model, policy, health, topics, broker),
    serve until asked to stop, stop gracefully (the batch in flight is finished and committed)."""

    def __init__(
        self,
        settings: Settings,
        *,
        scorer: Scorer | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.metrics: ServiceMetrics = build_metrics(registry)
        self.broker = build_broker(settings)
        self.offsets = OffsetTracker()
        self._attach = subscribe(self.broker, settings, offsets=self.offsets)
        self._scorer = scorer
        self._engine: AsyncEngine | None = None
        self._pipeline: Pipeline | None = None
        self.health: HealthServer | None = None
        self._monitor: Monitor | None = None
        self._relay: OutboxRelay | None = None
        self._topic_keeper: TopicKeeper | None = None
        self._started = False

    @property
    def metrics_port(self) -> int | None:
        """The port /metrics is served on (useful with POSTGUARD_METRICS_PORT=0)."""
        return self.health.port if self.health else None

    async def start(self) -> None:
        """Bring everything up; on failure, stop what was started and re-raise."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        self._started = True

    async def _start(self) -> None:
        settings = self.settings
        # Before the model load starts torch's and onnxruntime's threads (each would get an arena).
        limit_arenas(settings.malloc_arena_max)
        url = settings.database_url.get_secret_value()
        await wait_for_database(url, DATABASE_WAIT_S)
        await _check_schema(url)

        scorer: Scorer = (
            self._scorer if self._scorer is not None else await asyncio.to_thread(load_scorer, settings)
        )
        policy = await asyncio.to_thread(load_policy, settings.policy_path)
        if settings.policy_path is None:
            # The packaged policy covers the bundled categories too; with those turned off (or a
            # checkpoint they do not fit) it moderates what the model scores. A platform's own
            # policy file stays strict: a category it names must be scored.
            policy = policy.restricted_to(scorer.labels)
        policy.check_labels(scorer.labels)
        logger.info("policy %s loaded from %s", policy.version, policy.source)
        self.metrics.model_info.info(
            {"version": scorer.version, "sha256": str(getattr(scorer, "sha256", ""))}
        )
        self.metrics.policy_info.info({"version": policy.version, "source": policy.source})
        # Every category exported from the start, so rate() sees a series before its first trigger.
        for label in scorer.labels:
            self.metrics.category_triggers.labels(category=label)

        self.health = HealthServer(self.metrics, settings.metrics_host, settings.metrics_port)
        self.health.start()

        topics = [settings.input_topic, settings.output_topic, settings.dlq_topic, settings.verdicts_topic]
        await ensure_topics(settings, topics)
        await check_idempotent_producer(settings)

        self._engine = create_engine_from_url(url)
        # The audit log records every model or policy version change (service/review/audit.py).
        await record_service_versions(
            sessions=session_factory(self._engine),
            model_version=scorer.version,
            policy_version=policy.version,
        )
        self._pipeline = Pipeline(
            scorer=scorer,
            policy=policy,
            image_loader=ImageLoader(ImageLimits.from_settings(settings)),
            store=_Store(session_factory(self._engine)),
            publisher=BrokerPublisher(self.broker),
            metrics=self.metrics,
            output_topic=settings.output_topic,
            dlq_topic=settings.dlq_topic,
            max_message_bytes=settings.max_message_bytes,
            trim_memory=settings.trim_memory,
            needs_ocr=TextGate(settings.ocr_gate_threshold).likely_has_text,
            cheapest_first=settings.score_cheapest_first,
            ocr_lane=settings.ocr_lane,
            ocr_lane_max_pending=settings.ocr_lane_max_pending,
            ocr_lane_readers=settings.ocr_lane_readers,
            # A scorer that cannot read images on its own (a test fake) reads them when scoring.
            read_image_text=getattr(scorer, "read_image_text", None),
            ocr_lane_borrows_idle_inference=settings.ocr_lane_borrows_idle_inference,
            on_settled=self._settled,
        )
        self._attach(self._pipeline)
        await self.broker.start()
        # Recreates the topics if the broker loses them (a restart without its data) and logs outages.
        self._topic_keeper = TopicKeeper(settings, topics)
        self._topic_keeper.start()
        # Publishes moderators' verdict events from the transactional outbox (service/review/events.py).
        self._relay = OutboxRelay(
            sessions=session_factory(self._engine),
            publisher=BrokerPublisher(self.broker),
            gauges=self.metrics.outbox,
        )
        self._relay.start()
        self._monitor = Monitor(
            metrics=self.metrics,
            topic=settings.input_topic,
            lag_source=KafkaLag(settings),
            review_counts=review_counter(session_factory(self._engine)),
            interval_s=settings.metrics_refresh_interval_s,
        )
        self._monitor.start()
        self.health.set_ready(True)
        logger.info(
            "consuming %s as group %s; decisions to %s, dead letters to %s; metrics on :%d",
            settings.input_topic,
            settings.group_id,
            settings.output_topic,
            settings.dlq_topic,
            self.health.port,
        )

    async def stop(self) -> None:
        """Stop consuming (finishing and committing the batch in flight), then release everything."""
        if self.health is not None:
            self.health.set_ready(False)
        if self._relay is not None:  # before the broker it publishes through
            await self._relay.stop()
            self._relay = None
        if self._pipeline is not None:
            # While the consumer can still commit: decide what waits in the OCR lane (later batches
            # then read their images inline, so this ends even under load).
            await self._pipeline.drain(GRACEFUL_TIMEOUT_S)
        # Waits up to GRACEFUL_TIMEOUT_S for the batch in flight, then leaves the group.
        await self.broker.stop()
        if self._topic_keeper is not None:
            await self._topic_keeper.stop()
            self._topic_keeper = None
        if self._monitor is not None:
            await self._monitor.stop()
            self._monitor = None
        if self._pipeline is not None:
            await self._pipeline.aclose()
            self._pipeline = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
        if self.health is not None:
            self.health.stop()
            self.health = None
        if self._started:
            logger.info("postguard stopped")
        self._started = False

    async def _settled(self, records: Sequence[RawRecord]) -> None:
        """The OCR lane decided ``records``: commit whatever that lets through."""
        self.offsets.settle(records)
        await self.offsets.commit()

    async def run(self) -> None:
        """Serve until SIGTERM or SIGINT, then stop gracefully."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
            await stop.wait()
            logger.info("stop requested; finishing the batch in flight")
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)
            try:
                await asyncio.wait_for(self.stop(), SHUTDOWN_BOUND_S)
            except TimeoutError:
                logger.error(
                    "stopping took longer than %.0f s (a stuck OCR read, inference or connection); "
                    "exiting anyway: what is not committed is redelivered to the next member",
                    SHUTDOWN_BOUND_S,
                )

    async def __aenter__(self) -> PostguardApp:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


class _Store:
    """``record_decisions`` bound to a session factory (the pipeline's DecisionStore)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def __call__(self, records: Sequence[DecisionRecord]) -> list[StoredDecision]:
        return await record_decisions(sessions=self._sessions, records=records)


async def _check_schema(url: str) -> None:
    """Refuse to start on a database that is not migrated to the newest revision."""
    expected = migrate.head()
    try:
        found = await asyncio.to_thread(migrate.current, url)
    except Exception as exc:
        raise InfrastructureError(f"cannot read the schema revision of the database: {exc}") from exc
    if found != expected:
        state = "not migrated" if found is None else f"at revision {found}"
        raise InfrastructureError(
            f"the database schema is {state}, this version needs {expected}: run `postguard migrate` first"
        )


def run_service(app: PostguardApp) -> int:
    """Run ``app`` until SIGTERM or SIGINT and return the exit code, within
    :data:`SHUTDOWN_BOUND_S` of the signal whatever its threads do: the interpreter would
    otherwise join a worker thread stuck in an OCR read or an inference call at exit, forever."""
    asyncio.run(app.run())
    deadline = time.monotonic() + 1.0  # idle workers released by the stop exit within moments
    stuck = []
    for thread in threading.enumerate():
        if thread is threading.main_thread() or thread.daemon:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            stuck.append(thread.name)
    if stuck:
        logger.error(
            "threads still running after the stop: %s; exiting without waiting for them", ", ".join(stuck)
        )
        logging.shutdown()
        os._exit(0)
    return 0


def build_app(
    settings: Settings, *, scorer: Scorer | None = None, registry: CollectorRegistry | None = None
) -> PostguardApp:
    """The service for ``settings``; tests pass a scorer (skipping the model load) and a fresh registry."""
    return PostguardApp(settings, scorer=scorer, registry=registry)
