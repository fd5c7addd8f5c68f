"""The postguard service, wired: the Kafka consumer (:mod:`service.kafka.consumer`, where posts
enter) feeds the moderation pipeline (:mod:`service.moderation.pipeline`, where they are scored and
decided), which stores through :mod:`service.storage` and publishes through
:mod:`service.kafka.publishers` (where decisions leave). This module only builds and starts them.

:func:`build_app` builds a :class:`PostguardApp`; ``postguard serve`` runs it until SIGTERM or
SIGINT, the demo and the integration tests run it in-process through the same code.

Delivery guarantees, in one place:

- the subscriber's ack policy is MANUAL (FastStream's Kafka default, ACK_FIRST, commits before
  processing and would lose posts on a crash);
- an offset is committed only once its post's decision is committed in PostgreSQL and the decision
  (or dead letter) is acknowledged by Kafka. Posts whose image needs OCR are decided by the OCR lane
  after :meth:`Pipeline.process` returns, so posts of a partition can be decided out of order:
  :class:`~service.kafka.offsets.OffsetTracker` commits each partition only up to its first undecided post;
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
from collections.abc import Sequence

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models.text_gate import TextGate
from service.kafka.clients import (
    GRACEFUL_TIMEOUT_S,
    build_broker,
    check_idempotent_producer,
    ensure_topics,
)
from service.kafka.consumer import subscribe
from service.kafka.lag import KafkaLag
from service.kafka.offsets import OffsetTracker
from service.kafka.publishers import BrokerPublisher
from service.kafka.topic_keeper import TopicKeeper
from service.moderation.images import ImageLimits, ImageLoader
from service.moderation.memory import limit_arenas
from service.moderation.pipeline import OcrLaneOptions, Pipeline
from service.moderation.policy import policy_for
from service.moderation.scoring import Scorer, load_scorer
from service.observability.metrics import HealthServer, ServiceMetrics, build_metrics
from service.observability.monitor import Monitor
from service.records import RawRecord
from service.review.audit import record_service_versions
from service.review.events import OutboxRelay
from service.settings import Settings
from service.storage import migrate
from service.storage.database import create_engine_from_url, session_factory, wait_for_database
from service.storage.repository import DecisionRecord, StoredDecision, record_decisions, review_counter

logger = logging.getLogger(__name__)

#: How long the service waits for PostgreSQL at start before giving up.
DATABASE_WAIT_S = 60.0
#: A stop (SIGTERM) ends within this bound, whatever the threads do: Kubernetes' default grace
#: period is 30 s. The OCR lane's drain and the batch in flight take at most GRACEFUL_TIMEOUT_S each.
SHUTDOWN_BOUND_S = 20.0


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
        self._stopping = False
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
        await migrate.require_head(url)

        scorer: Scorer = (
            self._scorer if self._scorer is not None else await asyncio.to_thread(load_scorer, settings)
        )
        policy = await asyncio.to_thread(policy_for, settings.policy_path, scorer.labels)
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
            ocr_lane=OcrLaneOptions(
                max_pending=settings.ocr_lane_max_pending,
                readers=settings.ocr_lane_readers,
                # A scorer that cannot read images on its own (a test fake) reads them when scoring.
                read_image_text=getattr(scorer, "read_image_text", None),
                borrows_idle_inference=settings.ocr_lane_borrows_idle_inference,
                on_settled=self._settled,
            )
            if settings.ocr_lane
            else None,
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
            on_broker=self._broker_reachable,
        )
        self.health.set_ready(True)
        self._monitor.start()
        logger.info(
            "consuming %s as group %s; decisions to %s, dead letters to %s; metrics on :%d",
            settings.input_topic,
            settings.group_id,
            settings.output_topic,
            settings.dlq_topic,
            self.health.port,
        )

    def _broker_reachable(self, reachable: bool, reason: str) -> None:
        """``/readyz`` follows the monitor's broker checks (every metrics refresh) while serving."""
        if self.health is not None and not self._stopping:
            self.health.set_ready(reachable, reason)

    async def stop(self) -> None:
        """Stop consuming (finishing and committing the batch in flight), then release everything."""
        self._stopping = True
        if self.health is not None:
            self.health.set_ready(False, "stopping")
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
