"""``service.storage.repository`` against a real, migrated PostgreSQL."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.storage.repository import (
    count_decisions,
    decisions_by_action,
    decisions_for_post,
    record_decisions,
    review_queue_depth,
)
from service.storage.tables import DecisionRow, PostRow, ReviewItemRow
from tests.utils.records import make_record

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]


async def test_records_become_rows(db_sessions: Sessions) -> None:
    records = [make_record("p1", action="allow"), make_record("p2", action="block", text=None)]

    stored = await record_decisions(sessions=db_sessions, records=records)

    assert [s.post_id for s in stored] == ["p1", "p2"]
    assert all(s.created for s in stored)
    assert stored[1].action == "block"
    assert stored[1].scores == records[1].scores
    assert stored[1].triggered == records[1].triggered
    assert stored[1].attribution == records[1].attribution
    assert stored[1].decided_at == records[1].decided_at
    async with db_sessions() as session:
        post = await session.get(PostRow, "p1")
        assert post is not None
        assert post.text == "hello world"
        assert post.post_metadata == {"client": "tests"}
        assert post.source_timestamp is not None and post.source_timestamp.year == 2025
        assert post.received_at is not None
    assert await count_decisions(sessions=db_sessions) == 2


async def test_redelivery_creates_nothing_and_returns_the_stored_decision(db_sessions: Sessions) -> None:
    first = await record_decisions(sessions=db_sessions, records=[make_record("p1", action="review")])

    # Redelivered with a different outcome (e.g. non-deterministic rescoring): the first stands.
    again = await record_decisions(
        sessions=db_sessions, records=[make_record("p1", action="allow", policy_version="policy-test-2")]
    )

    assert again[0].created is False
    assert again[0].decision_id == first[0].decision_id
    assert again[0].action == "review"
    assert again[0].policy_version == "policy-test-1"
    assert await count_decisions(sessions=db_sessions) == 1
    assert await review_queue_depth(sessions=db_sessions) == {
        "open": 1,
        "claimed": 0,
        "resolved": 0,
        "appealed": 0,
    }


async def test_duplicate_within_one_batch_is_created_once(db_sessions: Sessions) -> None:
    stored = await record_decisions(
        sessions=db_sessions, records=[make_record("p1", text="first"), make_record("p1", text="second")]
    )

    assert [s.created for s in stored] == [True, False]
    assert stored[0].decision_id == stored[1].decision_id
    async with db_sessions() as session:
        post = await session.get(PostRow, "p1")
        assert post is not None and post.text == "first"


async def test_first_post_content_wins(db_sessions: Sessions) -> None:
    await record_decisions(sessions=db_sessions, records=[make_record("p1", text="original")])
    # Same post_id, other content, decided by a newer model: a new decision, the old post row.
    stored = await record_decisions(
        sessions=db_sessions,
        records=[make_record("p1", text="edited", author_id="someone-else", model_version="model-test-2")],
    )

    assert stored[0].created is True
    async with db_sessions() as session:
        post = await session.get(PostRow, "p1")
        assert post is not None
        assert (post.text, post.author_id) == ("original", "author-1")
    assert [d.model_version for d in await decisions_for_post(sessions=db_sessions, post_id="p1")] == [
        "model-test-1",
        "model-test-2",
    ]


async def test_review_items_only_for_review_actions(db_sessions: Sessions) -> None:
    await record_decisions(
        sessions=db_sessions,
        records=[
            make_record("a", action="allow"),
            make_record("r", action="review", review_priority=90),
            make_record("b", action="block"),
        ],
    )

    async with db_sessions() as session:
        items = (await session.scalars(select(ReviewItemRow))).all()
        assert [(i.post_id, i.status, i.priority) for i in items] == [("r", "open", 90)]
        decision = await session.get(DecisionRow, items[0].decision_id)
        assert decision is not None and decision.post_id == "r"
    assert await decisions_by_action(sessions=db_sessions) == {"allow": 1, "review": 1, "block": 1}


async def test_batch_of_500_in_one_call(db_sessions: Sessions) -> None:
    actions = ("allow", "review", "block")
    records = [make_record(f"post-{i}", action=actions[i % 3], offset=i) for i in range(500)]

    started = time.perf_counter()
    stored = await record_decisions(sessions=db_sessions, records=records)
    elapsed = time.perf_counter() - started

    assert [s.post_id for s in stored] == [r.post_id for r in records]
    assert all(s.created for s in stored)
    assert len({s.decision_id for s in stored}) == 500
    assert await decisions_by_action(sessions=db_sessions) == {"allow": 167, "review": 167, "block": 166}
    assert (await review_queue_depth(sessions=db_sessions))["open"] == 167
    assert elapsed < 5, f"500 records took {elapsed:.2f} s"

    again = await record_decisions(sessions=db_sessions, records=records)
    assert not any(s.created for s in again)
    assert [s.decision_id for s in again] == [s.decision_id for s in stored]
    assert await count_decisions(sessions=db_sessions) == 500


async def test_empty_batch(db_sessions: Sessions) -> None:
    assert await record_decisions(sessions=db_sessions, records=[]) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"action": "maybe"}, "action 'maybe'"),
        ({"review_priority": 101}, "review_priority 101"),
        ({"post_id": "x" * 129}, "post_id must have"),
        ({"scores": {"toxic": float("nan")}}, "not finite: toxic"),
        ({"text": "a\x00b"}, "text contains a NUL"),
    ],
)
async def test_invalid_records_are_refused_before_writing(
    db_sessions: Sessions, overrides: dict[str, Any], message: str
) -> None:
    good = make_record("good")
    bad = replace(make_record("bad"), **overrides)

    with pytest.raises(ValueError, match=message):
        await record_decisions(sessions=db_sessions, records=[good, bad])

    assert await count_decisions(sessions=db_sessions) == 0


async def test_naive_timestamps_are_refused(db_sessions: Sessions) -> None:
    naive = make_record("p1").created_at.replace(tzinfo=None)
    with pytest.raises(ValueError, match="created_at must be timezone-aware"):
        await record_decisions(sessions=db_sessions, records=[make_record("p1", created_at=naive)])


async def test_database_constraints_hold_without_the_repository(db_sessions: Sessions) -> None:
    """The checks live in the schema too, for writers that bypass ``record_decisions``."""
    await record_decisions(sessions=db_sessions, records=[make_record("p1", action="review")])
    async with db_sessions() as session:
        item = (await session.scalars(select(ReviewItemRow))).one()
        item.priority = 101
        with pytest.raises(IntegrityError, match="ck_review_items_priority_range"):
            await session.commit()
    async with db_sessions() as session:
        decision = (await session.scalars(select(DecisionRow))).one()
        decision.action = "maybe"
        with pytest.raises(IntegrityError, match="ck_decisions_action"):
            await session.commit()
