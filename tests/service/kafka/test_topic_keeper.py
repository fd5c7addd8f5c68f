"""TopicKeeper against a real broker: missing topics are recreated, outages are logged once."""

from __future__ import annotations

import logging
import uuid

import pytest

from devtools.embedded import TansuBroker, free_port
from service.kafka.topic_keeper import TopicKeeper
from service.settings import Settings, load_settings

pytestmark = pytest.mark.integration


def _settings(bootstrap: str) -> Settings:
    return load_settings(kafka_bootstrap=bootstrap, database_url="postgresql://unused@localhost/unused")


async def test_missing_topics_are_recreated(tansu: TansuBroker, caplog: pytest.LogCaptureFixture) -> None:
    names = [f"keep-{uuid.uuid4().hex[:8]}", f"keep-{uuid.uuid4().hex[:8]}"]
    keeper = TopicKeeper(_settings(tansu.bootstrap), names)
    try:
        with caplog.at_level(logging.INFO, logger="service"):
            assert await keeper.check() == sorted(names)
            assert await keeper.check() == []
    finally:
        await keeper.stop()
    assert "are missing on the Kafka broker" in caplog.text


async def test_an_unreachable_broker_is_logged_once_and_its_return_too(
    tansu: TansuBroker, caplog: pytest.LogCaptureFixture
) -> None:
    keeper = TopicKeeper(_settings(f"127.0.0.1:{free_port()}"), ["anything"])
    try:
        with caplog.at_level(logging.WARNING, logger="service"):
            assert await keeper.check() == []
            assert await keeper.check() == []
            # The broker "comes back": same keeper, reachable address.
            keeper._settings = _settings(tansu.bootstrap)
            await keeper.check()
    finally:
        await keeper.stop()
    assert caplog.text.count("is unreachable") == 1
    assert caplog.text.count("is reachable again") == 1
