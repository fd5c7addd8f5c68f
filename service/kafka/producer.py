"""Publishing posts to the input topic (``postguard produce`` and the demo).

Messages are keyed by ``post_id`` so every copy of a post lands on the same partition, and sent
with a small linger so the producer batches them; :func:`publish` returns after every send is
acknowledged by the broker.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from service.kafka.clients import CLIENT_ID, client_security_kwargs, producer_delivery_kwargs, start_producer
from service.settings import KafkaSettings

#: Sends in flight before waiting for acknowledgements: bounds memory for large files.
_WINDOW = 1000


@dataclass(frozen=True)
class OutgoingPost:
    """One message for the input topic: its key (the post_id; None for malformed demo posts)."""

    key: bytes | None
    value: bytes


async def publish(
    settings: KafkaSettings,
    posts: Iterable[OutgoingPost],
    *,
    topic: str | None = None,
    on_sent: Callable[[int], None] | None = None,
) -> int:
    """Publish ``posts`` to ``topic`` (default: the input topic); return how many were sent."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{CLIENT_ID}-producer",
        max_request_size=settings.max_message_bytes,
        linger_ms=5,
        **producer_delivery_kwargs(settings),
        **client_security_kwargs(settings),
    )
    await start_producer(producer, settings)
    sent = 0
    try:
        pending: list[asyncio.Future[object]] = []
        for post in posts:
            future = await producer.send(topic or settings.input_topic, post.value, key=post.key)
            if on_sent is not None:
                future.add_done_callback(
                    lambda f: on_sent(1) if not f.cancelled() and not f.exception() else None
                )
            pending.append(future)
            if len(pending) >= _WINDOW:
                sent += await _drain(pending)
        sent += await _drain(pending)
    finally:
        await producer.stop()
    return sent


async def _drain(pending: list[asyncio.Future[object]]) -> int:
    """Wait for every send in ``pending`` (raising the first failure) and empty it."""
    await asyncio.gather(*pending)
    count = len(pending)
    pending.clear()
    return count
