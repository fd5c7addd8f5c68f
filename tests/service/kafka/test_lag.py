"""The consumer group's lag per input partition, read from a real Tansu."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devtools.embedded import TansuBroker
from service.kafka.clients import ensure_topics
from service.kafka.lag import KafkaLag
from service.settings import load_settings


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
    monkeypatch.setattr("service.kafka.lag.AIOKafkaAdminClient", _SlowStartingClient)
    monkeypatch.setattr("service.kafka.lag.AIOKafkaConsumer", _SlowStartingClient)
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
