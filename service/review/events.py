"""Verdict events and the transactional outbox that publishes them.

A verdict and its event are written in one transaction (``outbox`` row, see :func:`enqueue`), so
an event can never be lost by a crash between the commit and the publish. :class:`OutboxRelay`
drains the outbox: it locks a batch of unpublished rows (``FOR UPDATE SKIP LOCKED``, so several
relays never send the same row at the same time), publishes them, waits for the broker's
acknowledgement and marks them published in the same transaction. A crash after the broker's
acknowledgement and before that commit publishes the batch again: delivery is at-least-once,
and consumers deduplicate on ``event_id``.

One bad row does not block the rest: when a batch fails, its rows are published one by one; the
ones that go through are marked, and a row refused while its neighbours went through counts an
attempt and, after :data:`MAX_ROW_ATTEMPTS`, is *parked* (skipped from then on, counted in
``postguard_outbox_parked_events``; docs/operations.md says how to re-queue it). When every row
fails, the broker is down, not a row: nothing is parked and the relay backs off.

Order: relays lock disjoint rows, so two of them can publish two verdicts of one post in either
order. Every event carries ``sequence`` (its outbox row id): for one post a later verdict has a
higher sequence, so consumers keep the event with the highest sequence per ``post_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.background import BackgroundTask, Backoff
from service.observability.metrics import OutboxGauges
from service.records import OutgoingMessage, UtcDateTime
from service.storage.tables import OutboxRow

__all__ = [
    "EVENT_HEADER",
    "MAX_ROW_ATTEMPTS",
    "OutboxRelay",
    "OutboxState",
    "VerdictEvent",
    "ParkedEvent",
    "enqueue",
    "outbox_state",
    "parked_events",
    "pending_events",
    "requeue_parked",
    "verdict_event_json_schema",
]

logger = logging.getLogger(__name__)

#: Header naming the kind of event (the platform may route several kinds through one consumer).
EVENT_HEADER = "postguard-event"
#: Longest error text kept in ``outbox.last_error``.
_MAX_ERROR_CHARS = 500
#: Failed attempts at a row (while other rows went through) before it is parked.
MAX_ROW_ATTEMPTS = 5


class EventPublisher(Protocol):
    """Publishes messages and returns once the broker acknowledged all of them."""

    async def publish_all(self, messages: Sequence[OutgoingMessage]) -> None: ...


class VerdictEvent(BaseModel):
    """A moderator's verdict on a post, published on the verdicts topic (key: ``post_id``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    event_id: str = Field(description="Unique per verdict (`verdict-<id>`): deduplicate on it.")
    verdict_id: int
    post_id: str
    review_item_id: int
    decision_id: int = Field(description="The model's decision the verdict stands beside.")
    action: Literal["allow", "block"] = Field(description="What the platform should do with the post.")
    labels: dict[str, Literal[0, 1]] = Field(description="The moderator's label per category.")
    moderator: str
    appeal_id: int | None = Field(description="The appeal this verdict answers; null for a first verdict.")
    model_action: Literal["allow", "review", "block"]
    model_version: str
    policy_version: str
    decided_at: UtcDateTime = Field(description="When the verdict was committed, UTC.")
    sequence: int | None = Field(
        default=None,
        description="Set on every published event: its outbox row id. For one post, a later verdict "
        "has a higher sequence; relays may publish out of order, so keep the highest per post_id.",
    )


def verdict_event_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a verdict event."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "postguard/verdict.schema.json",
        **VerdictEvent.model_json_schema(mode="serialization"),
    }


def enqueue(session: AsyncSession, *, topic: str, key: str, event: BaseModel, kind: str) -> None:
    """Add an event to the outbox in ``session``'s transaction."""
    payload = event.model_dump(mode="json")
    payload["_kind"] = kind  # travels as the EVENT_HEADER, not in the message body
    session.add(OutboxRow(topic=topic, key=key, payload=payload))


def _message(row: OutboxRow) -> OutgoingMessage:
    payload = dict(row.payload)
    kind = str(payload.pop("_kind", "event"))
    payload["sequence"] = row.id
    return OutgoingMessage(
        topic=row.topic,
        value=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
        key=None if row.key is None else row.key.encode(),
        headers={EVENT_HEADER: kind},
    )


async def pending_events(*, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Outbox rows not published yet (parked ones included)."""
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None))
        )
        return int(count or 0)


@dataclass(frozen=True)
class ParkedEvent:
    """An outbox row the relay set aside (see the module docstring)."""

    id: int
    topic: str
    key: str | None
    attempts: int
    last_error: str | None
    parked_at: datetime


async def parked_events(*, sessions: async_sessionmaker[AsyncSession]) -> list[ParkedEvent]:
    """The parked rows, oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(OutboxRow)
            .where(OutboxRow.published_at.is_(None), OutboxRow.parked_at.is_not(None))
            .order_by(OutboxRow.id)
        )
        return [
            ParkedEvent(r.id, r.topic, r.key, r.attempts, r.last_error, r.parked_at)  # type: ignore[arg-type]
            for r in rows
        ]


async def requeue_parked(*, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Put every parked row back in the relay's queue (attempts reset); returns how many."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(OutboxRow)
            .where(OutboxRow.published_at.is_(None), OutboxRow.parked_at.is_not(None))
            .values(parked_at=None, attempts=0)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OutboxState:
    pending: int  # waiting to be published (not parked)
    parked: int
    oldest_pending_age_s: float  # 0 when nothing is pending


async def outbox_state(*, sessions: async_sessionmaker[AsyncSession]) -> OutboxState:
    """What the outbox holds: pending and parked rows, and how long the oldest pending one waits."""
    async with sessions() as session:
        row = (
            await session.execute(
                select(
                    func.count().filter(OutboxRow.parked_at.is_(None)),
                    func.count().filter(OutboxRow.parked_at.is_not(None)),
                    func.extract(
                        "epoch",
                        func.now() - func.min(OutboxRow.created_at).filter(OutboxRow.parked_at.is_(None)),
                    ),
                ).where(OutboxRow.published_at.is_(None))
            )
        ).one()
    return OutboxState(
        pending=int(row[0] or 0), parked=int(row[1] or 0), oldest_pending_age_s=float(row[2] or 0.0)
    )


class OutboxRelay:
    """Publishes the outbox: :meth:`drain_once` on demand, or a background task (:meth:`start`)."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        publisher: EventPublisher,
        batch_size: int = 100,
        interval_s: float = 2.0,
        max_backoff_s: float = 30.0,
        gauges: OutboxGauges | None = None,
    ) -> None:
        """``gauges``: refreshed after every drain (pending, parked, oldest pending age)."""
        self._sessions = sessions
        self._gauges = gauges
        self._publisher = publisher
        self._batch_size = batch_size
        self._interval_s = interval_s
        self._max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._loop = BackgroundTask("postguard-outbox-relay", self._run)

    async def drain_once(self) -> int:
        """Publish every pending event; return how many. Raises the publisher's error (rows stay pending)."""
        total = 0
        while True:
            sent = await self._publish_batch()
            total += sent
            if sent < self._batch_size:
                return total

    async def _publish_batch(self) -> int:
        """Publish one batch of pending rows; return how many were published. Raises when none
        could be (the broker is down), after counting the attempt on each row."""
        failures: dict[int, Exception] = {}
        async with self._sessions() as session:
            async with session.begin():
                rows = list(
                    await session.scalars(
                        select(OutboxRow)
                        .where(OutboxRow.published_at.is_(None), OutboxRow.parked_at.is_(None))
                        .order_by(OutboxRow.id)
                        .limit(self._batch_size)
                        .with_for_update(skip_locked=True)
                    )
                )
                if not rows:
                    return 0
                try:
                    await self._publisher.publish_all([_message(row) for row in rows])
                    published = [row.id for row in rows]
                except Exception as exc:  # noqa: BLE001 - one row or the broker: one by one tells
                    published = []
                    for row in rows if len(rows) > 1 else ():
                        try:
                            await self._publisher.publish_all([_message(row)])
                            published.append(row.id)
                        except Exception as row_exc:  # noqa: BLE001 - recorded on the row
                            failures[row.id] = row_exc
                    if not published:
                        failures = {row.id: exc for row in rows}
                if published:
                    await session.execute(
                        update(OutboxRow).where(OutboxRow.id.in_(published)).values(published_at=func.now())
                    )
                    # Rows refused while their neighbours went through: the row is at fault.
                    await _count_failures(session, failures, may_park=True)
                    return len(published)
            # Nothing went through (the transaction ended, nothing marked): the broker, not a row.
            # Count the attempt, never park for it.
            async with session.begin():
                await _count_failures(session, failures, may_park=False)
            raise next(iter(failures.values()))

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh_gauges()
        except Exception as exc:  # noqa: BLE001 - the database may be down too; the gauges wait
            logger.debug("could not refresh the outbox gauges (%s)", exc)

    async def refresh_gauges(self) -> None:
        """Set the outbox gauges from the database (no-op without gauges)."""
        if self._gauges is None:
            return
        state = await outbox_state(sessions=self._sessions)
        self._gauges.pending.set(state.pending)
        self._gauges.parked.set(state.parked)
        self._gauges.oldest_pending_age_seconds.set(state.oldest_pending_age_s)

    def nudge(self) -> None:
        """Publish now rather than at the next interval (called after a verdict commits)."""
        self._wake.set()

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        """Stop the background task (what is pending stays in the outbox). Safe to call twice."""
        await self._loop.stop()

    async def _run(self) -> None:
        backoff = Backoff(first_s=1.0, max_s=self._max_backoff_s)
        while True:
            try:
                sent = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - retried with backoff; the events stay in the outbox
                pause = backoff.failed()
                logger.warning("publishing verdict events failed (%s); retrying in %.0f s", exc, pause)
                await self._refresh_quietly()
                await asyncio.sleep(pause)
                continue
            await self._refresh_quietly()
            if sent:
                logger.info("published %d events from the outbox", sent)
            if backoff.succeeded():
                logger.info("publishing verdict events works again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()


async def _count_failures(session: AsyncSession, failures: dict[int, Exception], *, may_park: bool) -> None:
    """One more attempt and the error on each failed row; with ``may_park``, a row reaching
    :data:`MAX_ROW_ATTEMPTS` is parked."""
    for row_id, error in failures.items():
        values: dict[str, object] = {
            "attempts": OutboxRow.attempts + 1,
            "last_error": repr(error)[:_MAX_ERROR_CHARS],
        }
        if may_park:
            values["parked_at"] = case((OutboxRow.attempts + 1 >= MAX_ROW_ATTEMPTS, func.now()), else_=None)
            logger.warning("outbox row %d was refused (%r)", row_id, error)
        await session.execute(update(OutboxRow).where(OutboxRow.id == row_id).values(**values))
