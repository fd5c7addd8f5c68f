"""The periodically refreshed gauges: consumer lag (against a real Tansu) and review queue depth."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from service.embedded import TansuBroker
from service.kafka_setup import ensure_topics
from service.metrics import ServiceMetrics, build_metrics
from service.monitor import KafkaLag, Monitor
from service.settings import load_settings


class _FakeLag:
    def __init__(self, values: dict[int, int] | Exception) -> None:
        self.values = values
        self.closed = 0

    async def lag(self) -> dict[int, int]:
        if isinstance(self.values, Exception):
            raise self.values
        return dict(self.values)

    async def close(self) -> None:
        self.closed += 1


def _monitor(metrics: ServiceMetrics, lag: _FakeLag, counts: Mapping[str, int] | Exception) -> Monitor:
    async def review_counts() -> Mapping[str, int]:
        if isinstance(counts, Exception):
            raise counts
        return counts

    return Monitor(
        metrics=metrics, topic="posts", lag_source=lag, review_counts=review_counts, interval_s=0.01
    )


async def test_refresh_sets_the_gauges() -> None:
    metrics = build_metrics(CollectorRegistry())
    monitor = _monitor(metrics, _FakeLag({0: 5, 1: 0}), {"open": 3, "claimed": 1})
    await monitor.refresh()
    sample = metrics.registry.get_sample_value
    assert sample("postguard_consumer_lag_messages", {"topic": "posts", "partition": "0"}) == 5
    assert sample("postguard_consumer_lag_messages", {"topic": "posts", "partition": "1"}) == 0
    assert sample("postguard_review_queue_items", {"status": "open"}) == 3
    assert sample("postguard_review_queue_items", {"status": "claimed"}) == 1
    assert sample("postguard_metrics_refresh_errors_total", {"source": "consumer_lag"}) == 0


async def test_a_failing_source_keeps_the_last_values_counts_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = build_metrics(CollectorRegistry())
    lag = _FakeLag({0: 7})
    monitor = _monitor(metrics, lag, {"open": 2})
    await monitor.refresh()
    lag.values = ConnectionError("broker down")
    with caplog.at_level(logging.WARNING, logger="service.monitor"):
        await monitor.refresh()
        await monitor.refresh()
    sample = metrics.registry.get_sample_value
    assert sample("postguard_consumer_lag_messages", {"topic": "posts", "partition": "0"}) == 7
    assert sample("postguard_metrics_refresh_errors_total", {"source": "consumer_lag"}) == 2
    assert sample("postguard_metrics_refresh_errors_total", {"source": "review_queue"}) == 0
    assert sample("postguard_review_queue_items", {"status": "open"}) == 2  # the other source still works
    warnings = [r for r in caplog.records if "refreshing consumer_lag failed" in r.getMessage()]
    assert len(warnings) == 1
    assert "broker down" in warnings[0].getMessage()

    lag.values = {0: 1}
    with caplog.at_level(logging.INFO, logger="service.monitor"):
        await monitor.refresh()
    assert sample("postguard_consumer_lag_messages", {"topic": "posts", "partition": "0"}) == 1
    assert any("works again" in r.getMessage() for r in caplog.records)


async def test_a_hanging_source_times_out() -> None:
    metrics = build_metrics(CollectorRegistry())

    async def hang() -> Mapping[str, int]:
        await asyncio.sleep(60)
        return {}

    monitor = Monitor(
        metrics=metrics,
        topic="posts",
        lag_source=_FakeLag({}),
        review_counts=hang,
        interval_s=0.05,
        timeout_s=0.05,
    )
    await asyncio.wait_for(monitor.refresh(), 5)
    assert (
        metrics.registry.get_sample_value(
            "postguard_metrics_refresh_errors_total", {"source": "review_queue"}
        )
        == 1
    )


async def test_the_task_refreshes_until_stopped() -> None:
    metrics = build_metrics(CollectorRegistry())
    lag = _FakeLag({0: 1})
    monitor = _monitor(metrics, lag, {"open": 0})
    monitor.start()
    for _ in range(200):
        if metrics.registry.get_sample_value("postguard_review_queue_items", {"status": "open"}) == 0:
            break
        await asyncio.sleep(0.01)
    lag.values = {0: 4}
    await asyncio.sleep(0.1)
    await monitor.stop()
    await monitor.stop()  # harmless
    assert (
        metrics.registry.get_sample_value(
            "postguard_consumer_lag_messages", {"topic": "posts", "partition": "0"}
        )
        == 4
    )
    assert lag.closed == 2


@pytest.mark.integration
async def test_kafka_lag_is_log_end_minus_committed(tansu: TansuBroker) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = load_settings(
        kafka_bootstrap=tansu.bootstrap,
        database_url="postgresql://unused@localhost/unused",
        input_topic=f"lag-{suffix}",
        group_id=f"lag-{suffix}",
    )
    topic = settings.input_topic
    await ensure_topics(settings, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, b"x", partition=i % 4)  # 3, 3, 2, 2
    finally:
        await producer.stop()

    lag = KafkaLag(settings)
    try:
        # Nothing committed yet: everything from the beginning is lag.
        assert await lag.lag() == {0: 3, 1: 3, 2: 2, 3: 2}

        consumer = AIOKafkaConsumer(
            bootstrap_servers=tansu.bootstrap, group_id=settings.group_id, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(topic, p) for p in range(4)])
            await consumer.commit({TopicPartition(topic, 0): 3, TopicPartition(topic, 1): 1})
        finally:
            await consumer.stop()
        assert await lag.lag() == {0: 0, 1: 2, 2: 2, 3: 2}
    finally:
        await lag.close()


class _SlowStartingClient:
    """Stands in for aiokafka's admin client and consumer: start() takes until released, and
    records whether it was cancelled half-way (what leaks aiokafka's bootstrap connection)."""

    release = asyncio.Event()
    events: list[str] = []

    def __init__(self, **_: object) -> None:
        pass

    async def start(self) -> None:
        try:
            await _SlowStartingClient.release.wait()
        except asyncio.CancelledError:
            _SlowStartingClient.events.append("start cancelled")
            raise
        _SlowStartingClient.events.append("started")

    async def stop(self) -> None:
        _SlowStartingClient.events.append("closed")

    close = stop


async def test_stopping_during_the_clients_start_lets_the_start_end_then_closes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("service.monitor.AIOKafkaAdminClient", _SlowStartingClient)
    monkeypatch.setattr("service.monitor.AIOKafkaConsumer", _SlowStartingClient)
    _SlowStartingClient.release = asyncio.Event()
    _SlowStartingClient.events = []
    settings = load_settings(kafka_bootstrap="127.0.0.1:9", database_url="postgresql://u@h/db")
    refresh = asyncio.create_task(KafkaLag(settings).lag())
    await asyncio.sleep(0.05)  # inside the admin client's start
    refresh.cancel()
    await asyncio.sleep(0.05)
    assert _SlowStartingClient.events == []  # the cancel did not reach the start ...
    _SlowStartingClient.release.set()
    with pytest.raises(asyncio.CancelledError):
        await refresh
    # ... which ended normally before both clients were closed
    assert _SlowStartingClient.events == ["started", "started", "closed", "closed"]
