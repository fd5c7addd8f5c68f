"""The verdict outbox and its relay against a real PostgreSQL (the publisher is a fake)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from service.contract import render_json_schema
from service.pipeline import OutgoingMessage
from service.review.events import OutboxRelay, VerdictEvent, pending_events, verdict_event_json_schema
from service.review.queue import claim_next, resolve
from service.tables import OutboxRow
from tests.utils.review import Sessions, add_moderators, seed_items

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
        item = await claim_next(sessions=sessions, moderator="alice", claim_ttl_s=60)
        assert item is not None
        await resolve(
            sessions=sessions,
            item_id=item.item_id,
            moderator="alice",
            action="block",
            labels={"toxic": 1},
            verdicts_topic=TOPIC,
        )


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
