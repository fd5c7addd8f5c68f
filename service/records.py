"""The records that pass between the stages: where a post was read from, a Kafka record as
consumed, a message to publish. They live below every stage (Kafka, moderation, storage, review),
so each can use them without importing another stage. :data:`UtcDateTime` is the time type of
every message postguard publishes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator


@dataclass(frozen=True)
class SourceRef:
    """Where a post was read from."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None


@dataclass(frozen=True)
class ApiRequestRef:
    """Where a post decided through the HTTP API came from: the request (``postguard api``)."""

    request_id: str


@dataclass(frozen=True)
class RawRecord:
    """One Kafka record as consumed: the bytes and where they came from."""

    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None

    @property
    def position(self) -> tuple[str, int, int]:
        """Where it is in Kafka: (topic, partition, offset)."""
        return (self.topic, self.partition, self.offset)

    @property
    def source(self) -> SourceRef:
        return SourceRef(
            topic=self.topic, partition=self.partition, offset=self.offset, timestamp_ms=self.timestamp_ms
        )


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to publish: decision or dead letter."""

    topic: str
    value: bytes
    key: bytes | None
    headers: dict[str, str]


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must be timezone-aware")
    return value.astimezone(UTC)


#: A timezone-aware datetime, converted to UTC (naive ones are refused: their zone is a guess).
UtcDateTime = Annotated[datetime, AfterValidator(_as_utc)]
