"""Every producer of the service waits for all in-sync replicas (acks=all), and idempotent
production is a setting that reaches every producer and is refused clearly by a broker without
it (Tansu), against the real Tansu broker of the test session.

aiokafka keeps the acknowledgement mode on the producer's sender (``_sender._acks``: -1 is
"all", 1 the leader only) and builds a transaction manager only for idempotent producers; both
are read from the producers the service itself built, after a real publish.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

import service.kafka.producer
from devtools.embedded import TansuBroker
from models.types import ModerationResult, PostContent
from service.app import build_app
from service.errors import ConfigError
from service.kafka.clients import build_broker, check_idempotent_producer
from service.kafka.producer import OutgoingPost, publish
from service.kafka.publishers import KafkaEventPublisher
from service.moderation.policy import load_policy
from service.records import OutgoingMessage
from service.settings import Settings
from tests.utils.service import isolated_settings

pytestmark = pytest.mark.integration

ACKS_ALL = -1


class _IdleScorer:
    """A scorer the refused start never reaches."""

    labels = tuple(load_policy().categories)  # every category the default policy moderates
    version = "idle-scorer"

    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        raise AssertionError("the service must not start")


def _settings(tansu: TansuBroker, **overrides: Any) -> Settings:
    return isolated_settings(tansu.bootstrap, "postgresql://unused@127.0.0.1:1/unused", **overrides)


def _aiokafka_producer(broker: Any) -> AIOKafkaProducer:
    """The aiokafka producer inside a connected FastStream broker."""
    producer = broker._producer._producer.producer
    assert isinstance(producer, AIOKafkaProducer)
    return producer


class _RecordingProducer(AIOKafkaProducer):
    """The real producer, remembered so the test can look at how it was configured."""

    built: list[AIOKafkaProducer] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _RecordingProducer.built.append(self)


async def test_every_producer_of_the_service_waits_for_all_replicas(
    tansu: TansuBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tansu)
    topic = f"acks-{uuid.uuid4().hex[:8]}"

    broker = build_broker(settings)  # decisions and dead letters (and verdict events in the service)
    await broker.connect()
    try:
        await broker.publish(b"decision", topic)
        assert _aiokafka_producer(broker)._sender._acks == ACKS_ALL
        assert _aiokafka_producer(broker)._txn_manager is None  # idempotence is off by default
    finally:
        await broker.stop()

    relay = KafkaEventPublisher(settings)  # verdict events from the review page's outbox
    try:
        await relay.publish_all([OutgoingMessage(topic=topic, key=b"k", value=b"verdict", headers={})])
        assert relay._producer._sender._acks == ACKS_ALL
    finally:
        await relay.close()

    _RecordingProducer.built = []
    monkeypatch.setattr(service.kafka.producer, "AIOKafkaProducer", _RecordingProducer)
    assert await publish(settings, [OutgoingPost(key=b"p", value=b"post")], topic=topic) == 1
    assert [p._sender._acks for p in _RecordingProducer.built] == [ACKS_ALL]


async def test_idempotence_reaches_every_producer_and_a_broker_without_it_is_refused_by_name(
    tansu: TansuBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(tansu, kafka_enable_idempotence=True)
    topic = f"idempotence-{uuid.uuid4().hex[:8]}"

    # The FastStream broker builds its producer from these keywords when it connects (connecting
    # it here would fail on Tansu inside FastStream and leak that producer; the service never
    # gets there, because check_idempotent_producer runs first).
    connection = build_broker(settings)._connection_kwargs
    assert (connection["acks"], connection["enable_idempotence"]) == ("all", True)

    # Tansu cannot give a producer id (../shared/INFRA.md): each entry point says which setting.
    with pytest.raises(ConfigError, match="POSTGUARD_KAFKA_ENABLE_IDEMPOTENCE=true"):
        await check_idempotent_producer(settings)
    relay = KafkaEventPublisher(settings)
    with pytest.raises(ConfigError, match="POSTGUARD_KAFKA_ENABLE_IDEMPOTENCE=true"):
        await relay.publish_all([OutgoingMessage(topic=topic, key=b"k", value=b"v", headers={})])
    await relay.close()
    _RecordingProducer.built = []
    monkeypatch.setattr(service.kafka.producer, "AIOKafkaProducer", _RecordingProducer)
    with pytest.raises(ConfigError, match="Tansu is one"):
        await publish(settings, [OutgoingPost(key=b"p", value=b"post")], topic=topic)
    assert [p._txn_manager is not None for p in _RecordingProducer.built] == [True]

    # Off (the default), the same broker is fine.
    await check_idempotent_producer(_settings(tansu))


async def test_the_service_refuses_to_start_with_idempotence_on_a_broker_without_it(
    tansu: TansuBroker, migrated_db: str
) -> None:
    settings = isolated_settings(tansu.bootstrap, migrated_db, kafka_enable_idempotence=True)
    app = build_app(settings, scorer=_IdleScorer(), registry=CollectorRegistry())
    with pytest.raises(ConfigError, match="POSTGUARD_KAFKA_ENABLE_IDEMPOTENCE"):
        await app.start()
