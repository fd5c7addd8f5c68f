"""Where decisions, dead letters and verdict events leave: the publishers that send
:class:`~service.records.OutgoingMessage` batches to Kafka and return once the broker acknowledged
every message."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from service.kafka.clients import CLIENT_ID, client_security_kwargs, producer_delivery_kwargs, start_producer
from service.records import OutgoingMessage
from service.settings import KafkaSettings


class BrokerPublisher:
    """Sends a batch of messages through the broker's producer and waits for every acknowledgement."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish_all(self, messages: Sequence[OutgoingMessage]) -> None:
        pending: list[Any] = []
        for message in messages:
            # no_confirm: queue everything first, then wait once; the producer batches the sends.
            sent = await self._broker.publish(
                message.value,
                message.topic,
                key=message.key,
                headers=message.headers,
                no_confirm=True,
            )
            if sent is not None:  # FastStream's in-memory test broker delivers synchronously
                pending.append(sent)
        if not pending:
            return
        results = await asyncio.gather(*pending, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]


class KafkaEventPublisher:
    """A plain aiokafka producer (acks=all, idempotent where configured) for processes without a
    FastStream broker."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._producer: Any = None

    async def _started(self) -> Any:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._settings.kafka_bootstrap,
                client_id=f"{CLIENT_ID}-review",
                request_timeout_ms=15_000,
                **producer_delivery_kwargs(self._settings),
                **client_security_kwargs(self._settings),
            )
            await start_producer(producer, self._settings)
            self._producer = producer
        return self._producer

    async def publish_all(self, messages: Sequence[OutgoingMessage]) -> None:
        producer = await self._started()
        futures = [
            await producer.send(
                m.topic, m.value, key=m.key, headers=[(k, v.encode()) for k, v in m.headers.items()]
            )
            for m in messages
        ]
        await asyncio.gather(*futures)

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()
