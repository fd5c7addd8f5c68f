"""The verdict outbox and its relay against a real PostgreSQL (the publisher is a fake)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from service.moderation.schemas import render_json_schema
from service.records import OutgoingMessage
from service.review.events import (
    MAX_ROW_ATTEMPTS,
    OutboxRelay,
    VerdictEvent,
    outbox_state,
    pending_events,
    verdict_event_json_schema,
)
from service.storage.tables import OutboxRow
from tests.utils.review import Sessions, add_moderators, claim_and_resolve, seed_items

pytestmark = pytest.mark.integration

TOPIC = "moderation.verdicts"


class FakePublisher:
    def __init__(self, *, fail: bool = False, delay_s: float = 0.0) -> None:
        self.sent: list[OutgoingMessage] = []
        self.published = asyncio.Event()
        self.fail = fail
        self.delay_s = delay_s

    async def publish_all(self, messages: Sequence[OutgoingMessage]) -> None:
        await asyncio.sleep(self.delay_s)
        if self.fail:
            raise ConnectionError("broker down")
        self.sent.extend(messages)
        self.published.set()


async def _verdicts(sessions: Sessions, count: int) -> None:
    await add_moderators(sessions, ["alice"])
    await seed_items(sessions, count)
    for _ in range(count):
        await claim_and_resolve(sessions, "alice", action="block", labels={"toxic": 1}, verdicts_topic=TOPIC)


async def test_drain_publishes_valid_events_once_and_marks_them(db_sessions: Sessions) -> None:
    await _verdicts(db_sessions, 3)
    publisher = FakePublisher()
    relay = OutboxRelay(sessions=db_sessions, publisher=publisher, batch_size=2)

    assert await relay.drain_once() == 3
    assert await relay.drain_once() == 0

    assert [m.key for m in publisher.sent] == [b"post-0", b"post-1", b"post-2"]
    for message in publisher.sent:
        assert message.topic == TOPIC and message.headers == {"postguard-event": "verdict"}
        event = VerdictEvent.model_validate(json.loads(message.value))
        assert event.action == "block" and event.labels["toxic"] == 1 and event.moderator == "alice"
    assert await pending_events(sessions=db_sessions) == 0
    assert "verdict_id" in verdict_event_json_schema()["properties"]


async def test_a_failed_publish_keeps_the_events(db_sessions: Sessions) -> None:
    await _verdicts(db_sessions, 2)
    relay = OutboxRelay(sessions=db_sessions, publisher=FakePublisher(fail=True))

    with pytest.raises(ConnectionError):
        await relay.drain_once()

    assert await pending_events(sessions=db_sessions) == 2
    async with db_sessions() as session:
        rows = (await session.scalars(select(OutboxRow))).all()
    assert {(r.attempts, r.last_error) for r in rows} == {(1, "ConnectionError('broker down')")}
    good = FakePublisher()
    assert await OutboxRelay(sessions=db_sessions, publisher=good).drain_once() == 2


async def test_concurrent_relays_never_send_a_row_twice(db_sessions: Sessions) -> None:
    await _verdicts(db_sessions, 6)
    publishers = [FakePublisher(delay_s=0.05) for _ in range(3)]
    relays = [OutboxRelay(sessions=db_sessions, publisher=p, batch_size=2) for p in publishers]

    await asyncio.gather(*(relay.drain_once() for relay in relays))

    keys = [m.key or b"" for p in publishers for m in p.sent]
    assert len(keys) == len(set(keys)) == 6


async def test_the_background_relay_publishes_when_nudged(db_sessions: Sessions) -> None:
    publisher = FakePublisher()
    relay = OutboxRelay(sessions=db_sessions, publisher=publisher, interval_s=60)
    relay.start()
    try:
        await asyncio.sleep(0.1)  # the first drain finds nothing, then waits up to 60 s
        await _verdicts(db_sessions, 1)
        relay.nudge()
        await asyncio.wait_for(publisher.published.wait(), 5)
    finally:
        await relay.stop()
        await relay.stop()  # twice is fine
    assert len(publisher.sent) == 1


def test_the_committed_verdict_schema_is_current() -> None:
    committed = Path(__file__).resolve().parents[3] / "docs" / "schemas" / "verdict.schema.json"
    assert committed.read_text(encoding="utf-8") == render_json_schema(verdict_event_json_schema()), (
        "regenerate docs/schemas/verdict.schema.json (see docs/review.md)"
    )


class RefusingPublisher(FakePublisher):
    """A broker that takes every message but the ones keyed ``refused`` (too large, say)."""

    def __init__(self, refused: bytes) -> None:
        super().__init__()
        self.refused = refused
        self.calls = 0

    async def publish_all(self, messages: Sequence[OutgoingMessage]) -> None:
        self.calls += 1
        if any(m.key == self.refused for m in messages):
            raise ValueError("MessageSizeTooLargeError")
        await super().publish_all(messages)


async def _rows(sessions: Sessions, *keys: str) -> None:
    async with sessions() as session, session.begin():
        session.add_all(
            OutboxRow(topic=TOPIC, key=key, payload={"_kind": "verdict", "key": key}) for key in keys
        )


async def _row(sessions: Sessions, key: str) -> OutboxRow:
    async with sessions() as session:
        row = await session.scalar(select(OutboxRow).where(OutboxRow.key == key))
        assert row is not None
        return row


async def test_one_bad_row_does_not_hold_back_or_resend_its_neighbours(db_sessions: Sessions) -> None:
    await _rows(db_sessions, "a", "bad", "c")
    publisher = RefusingPublisher(b"bad")
    relay = OutboxRelay(sessions=db_sessions, publisher=publisher)
    assert await relay.drain_once() == 2
    assert sorted(m.key or b"" for m in publisher.sent) == [b"a", b"c"]
    bad = await _row(db_sessions, "bad")
    assert (bad.attempts, bad.parked_at) == (1, None) and "MessageSizeTooLarge" in (bad.last_error or "")

    # Each round a new row goes through beside it; the bad row is parked after MAX_ROW_ATTEMPTS.
    for round_ in range(2, MAX_ROW_ATTEMPTS + 1):
        await _rows(db_sessions, f"new-{round_}")
        await relay.drain_once()
    bad = await _row(db_sessions, "bad")
    assert bad.attempts == MAX_ROW_ATTEMPTS and bad.parked_at is not None
    sent_before = len(publisher.sent)
    await _rows(db_sessions, "after")
    assert await relay.drain_once() == 1  # the parked row is skipped: no batch fails any more
    assert [m.key for m in publisher.sent[sent_before:]] == [b"after"]
    assert [m.key for m in publisher.sent].count(b"a") == 1  # neighbours were never re-sent
    state = await outbox_state(sessions=db_sessions)
    assert (state.pending, state.parked) == (0, 1)


async def test_a_broker_outage_parks_nothing(db_sessions: Sessions) -> None:
    await _rows(db_sessions, "a", "b")
    relay = OutboxRelay(sessions=db_sessions, publisher=FakePublisher(fail=True))
    for _ in range(MAX_ROW_ATTEMPTS + 3):
        with pytest.raises(ConnectionError):
            await relay.drain_once()
    async with db_sessions() as session:
        rows = (await session.scalars(select(OutboxRow))).all()
    assert {(r.attempts, r.parked_at) for r in rows} == {(MAX_ROW_ATTEMPTS + 3, None)}
    assert await OutboxRelay(sessions=db_sessions, publisher=FakePublisher()).drain_once() == 2


async def test_events_carry_a_sequence_that_orders_a_posts_verdicts(db_sessions: Sessions) -> None:
    await _verdicts(db_sessions, 3)
    publisher = FakePublisher()
    await OutboxRelay(sessions=db_sessions, publisher=publisher).drain_once()
    sequences = [VerdictEvent.model_validate(json.loads(m.value)).sequence or 0 for m in publisher.sent]
    assert all(sequences) and sequences == sorted(sequences)
    assert len(set(sequences)) == 3


async def test_the_outbox_gauges_show_pending_parked_and_the_oldest_wait(db_sessions: Sessions) -> None:
    from prometheus_client import CollectorRegistry

    from service.observability.metrics import build_outbox_gauges

    gauges = build_outbox_gauges(CollectorRegistry())
    relay = OutboxRelay(sessions=db_sessions, publisher=FakePublisher(), gauges=gauges)
    await _rows(db_sessions, "a", "b")
    await relay.refresh_gauges()
    assert gauges.pending._value.get() == 2 and gauges.parked._value.get() == 0
    assert gauges.oldest_pending_age_seconds._value.get() >= 0
    await relay.drain_once()
    await relay.refresh_gauges()
    assert gauges.pending._value.get() == 0 and gauges.oldest_pending_age_seconds._value.get() == 0
