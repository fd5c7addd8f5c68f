"""``service.review.queue``: the workflow against a real, migrated PostgreSQL."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from service.errors import ModeratorRejected, ReviewConflict, ReviewNotFound
from service.review.audit import audit_entries, record_service_versions
from service.review.auth import set_disabled
from service.review.metrics import build_review_metrics
from service.review.queue import claim_next, current_claim, get_item, list_items, release_expired_claims, skip
from service.review.verdicts import appeal, resolve
from service.storage.repository import record_decisions, review_queue_depth
from service.storage.tables import DecisionRow, OutboxRow, ReviewItemRow, VerdictRow
from tests.utils.records import make_record
from tests.utils.review import Sessions, add_moderators, age_items, expire_claims, seed_items

pytestmark = pytest.mark.integration

TOPIC = "moderation.verdicts"
TTL = 600.0


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_claim_takes_the_most_urgent_then_oldest(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice"])
    await seed_items(db_sessions, 3, priorities=[10, 90, 10])

    order = []
    for _ in range(3):
        item = await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL)
        assert item is not None
        order.append(item.summary.post_id)
        assert item.summary.status == "claimed"
        assert item.summary.claimed_by == "alice"
        assert item.summary.first_claimed_at is not None
        assert item.text == "a borderline post"
        assert item.model_action == "review"
    assert order == ["post-1", "post-0", "post-2"]
    assert await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL) is None
    assert (await current_claim(sessions=db_sessions, moderator="alice")) is not None

    audit = await audit_entries(sessions=db_sessions, entity_type="review_item")
    assert [(a.actor, a.action) for a in audit] == [("alice", "claim")] * 3
    assert audit[0].before == {"status": "open", "claimed_by": None}


async def test_resolve_writes_verdict_audit_and_event_and_leaves_the_decision(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice"])
    await seed_items(db_sessions, 1)
    await age_items(db_sessions, 120)
    metrics = build_review_metrics()
    item = await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL, metrics=metrics)
    assert item is not None
    async with db_sessions() as session:
        decision_before = (await session.get_one(DecisionRow, item.decision_id)).__dict__.copy()

    verdict = await resolve(
        sessions=db_sessions,
        item_id=item.item_id,
        moderator="alice",
        action="block",
        labels={"hate": 1, "toxic": 1},
        note="  slur in caption ",
        verdicts_topic=TOPIC,
        metrics=metrics,
    )

    assert verdict.labels == {"hate": 1, "offensive": 0, "toxic": 1}
    async with db_sessions() as session:
        row = await session.get_one(VerdictRow, verdict.verdict_id)
        assert (row.moderator, row.action, row.note, row.appeal_id) == (
            "alice",
            "block",
            "slur in caption",
            None,
        )
        stored = await session.get_one(ReviewItemRow, item.item_id)
        assert stored.status == "resolved" and stored.claimed_by is None and stored.resolved_at is not None
        decision = await session.get_one(DecisionRow, item.decision_id)
        assert decision.action == "review"
        assert decision.recorded_at == decision_before["recorded_at"]
        outbox = list(await session.scalars(select(OutboxRow)))
    assert len(outbox) == 1
    assert outbox[0].topic == TOPIC and outbox[0].key == "post-0" and outbox[0].published_at is None
    event = outbox[0].payload
    assert event["event_id"] == f"verdict-{verdict.verdict_id}"
    assert event["action"] == "block" and event["model_action"] == "review"
    assert event["labels"] == {"hate": 1, "offensive": 0, "toxic": 1}

    audit = await audit_entries(sessions=db_sessions, entity_type="review_item", entity_id=item.item_id)
    assert [a.action for a in audit] == ["claim", "resolve"]
    assert audit[1].after is not None and audit[1].after["verdict_id"] == verdict.verdict_id

    registry = metrics.registry
    assert _sample(registry, "postguard_review_verdicts_total", action="block") == 1
    assert _sample(registry, "postguard_review_time_to_first_claim_seconds_count") == 1
    assert _sample(registry, "postguard_review_time_to_first_claim_seconds_sum") >= 119
    assert _sample(registry, "postguard_review_time_to_verdict_seconds_count", kind="first") == 1
    # The model flagged toxic only: toxic and offensive agree, hate does not.
    assert _sample(registry, "postguard_review_label_agreement_total", category="toxic", outcome="agree") == 1
    assert (
        _sample(registry, "postguard_review_label_agreement_total", category="offensive", outcome="agree")
        == 1
    )
    assert (
        _sample(registry, "postguard_review_label_agreement_total", category="hate", outcome="disagree") == 1
    )


async def test_resolve_rejects_what_it_must(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice", "bob"])
    await seed_items(db_sessions, 1)
    item = await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL)
    assert item is not None

    def attempt(**overrides: object) -> object:
        arguments: dict[str, object] = {
            "sessions": db_sessions,
            "item_id": item.item_id,
            "moderator": "alice",
            "action": "allow",
            "labels": {},
            "verdicts_topic": TOPIC,
        }
        return resolve(**{**arguments, **overrides})  # type: ignore[arg-type]

    with pytest.raises(ReviewConflict, match="not claimed by bob"):
        await attempt(moderator="bob")  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown categories"):
        await attempt(labels={"spam": 1})  # type: ignore[misc]
    with pytest.raises(ValueError, match="must be 0 or 1"):
        await attempt(labels={"hate": 2})  # type: ignore[misc]
    with pytest.raises(ValueError, match="action"):
        await attempt(action="review")  # type: ignore[misc]
    with pytest.raises(ReviewNotFound):
        await attempt(item_id=999_999)  # type: ignore[misc]
    with pytest.raises(ReviewNotFound):
        await attempt(moderator="nobody")  # type: ignore[misc]
    await attempt()  # type: ignore[misc]
    with pytest.raises(ReviewConflict, match="status resolved"):
        await attempt()  # type: ignore[misc]
    async with db_sessions() as session:
        assert len(list(await session.scalars(select(VerdictRow)))) == 1


async def test_skip_returns_the_item_behind_the_others(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice", "bob"])
    await seed_items(db_sessions, 2, priorities=[90, 10])
    first = await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL)
    assert first is not None and first.summary.post_id == "post-0"

    await skip(sessions=db_sessions, item_id=first.item_id, moderator="alice")

    assert (await get_item(sessions=db_sessions, item_id=first.item_id)).summary.status == "open"
    second = await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL)
    assert second is not None and second.summary.post_id == "post-1"  # the deferred one comes last
    third = await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL)
    assert third is not None and third.summary.post_id == "post-0"  # ... but it does come
    with pytest.raises(ReviewConflict):
        await skip(sessions=db_sessions, item_id=first.item_id, moderator="bob")


async def test_expired_claims_return_to_the_queue(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice", "bob"])
    await seed_items(db_sessions, 2)
    metrics = build_review_metrics()
    for _ in range(2):
        assert await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL) is not None
    assert await claim_next(sessions=db_sessions, moderator="bob", claim_ttl_s=TTL) is None

    await expire_claims(db_sessions)
    taken = await claim_next(sessions=db_sessions, moderator="bob", claim_ttl_s=TTL, metrics=metrics)
    assert taken is not None and taken.summary.claimed_by == "bob"
    assert _sample(metrics.registry, "postguard_review_claims_expired_total") == 1
    with pytest.raises(ReviewConflict):  # alice lost it
        await resolve(
            sessions=db_sessions,
            item_id=taken.item_id,
            moderator="alice",
            action="allow",
            labels={},
            verdicts_topic=TOPIC,
        )

    assert await release_expired_claims(sessions=db_sessions, metrics=metrics) == 1
    assert await review_queue_depth(sessions=db_sessions) == {
        "open": 1,
        "claimed": 1,
        "resolved": 0,
        "appealed": 0,
    }
    expiries = [a for a in await audit_entries(sessions=db_sessions) if a.action == "claim_expired"]
    assert len(expiries) == 1 and expiries[0].actor == "system"
    assert expiries[0].before == {"status": "claimed", "claimed_by": "alice"}


async def test_appeal_reopens_for_a_different_moderator(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice", "bob"])
    (post_id,) = await seed_items(db_sessions, 1)
    metrics = build_review_metrics()
    item = await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL)
    assert item is not None
    with pytest.raises(ReviewConflict, match="still under review"):
        await appeal(sessions=db_sessions, post_id=post_id, reason="not hateful")
    await resolve(
        sessions=db_sessions,
        item_id=item.item_id,
        moderator="alice",
        action="block",
        labels={"toxic": 1},
        verdicts_topic=TOPIC,
    )

    filed = await appeal(sessions=db_sessions, post_id=post_id, reason="it was a quote", metrics=metrics)

    assert filed.previous_moderator == "alice"
    view = await get_item(sessions=db_sessions, item_id=item.item_id)
    assert view.summary.status == "appealed" and view.appeal_reason == "it was a quote"
    assert await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL) is None
    again = await claim_next(sessions=db_sessions, moderator="bob", claim_ttl_s=TTL)
    assert again is not None and again.item_id == item.item_id
    # Skipping an appealed item keeps it appealed.
    await skip(sessions=db_sessions, item_id=item.item_id, moderator="bob", defer_s=0)
    assert [i.item_id for i in await list_items(sessions=db_sessions, status="appealed")] == [item.item_id]
    again = await claim_next(sessions=db_sessions, moderator="bob", claim_ttl_s=TTL)
    assert again is not None
    verdict = await resolve(
        sessions=db_sessions,
        item_id=item.item_id,
        moderator="bob",
        action="allow",
        labels={},
        verdicts_topic=TOPIC,
        metrics=metrics,
    )
    assert verdict.appeal_id == filed.appeal_id
    assert (await get_item(sessions=db_sessions, item_id=item.item_id)).appeal_reason is None
    assert _sample(metrics.registry, "postguard_review_time_to_verdict_seconds_count", kind="appeal") == 1
    assert _sample(metrics.registry, "postguard_review_appeals_total") == 1


async def test_appeal_against_an_unreviewed_block_creates_an_item(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice"])
    await record_decisions(sessions=db_sessions, records=[make_record("blocked-1", action="block")])

    filed = await appeal(sessions=db_sessions, post_id="blocked-1", reason="satire")

    assert filed.previous_moderator is None
    item = await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL)
    assert item is not None and item.item_id == filed.item_id and item.model_action == "block"
    with pytest.raises(ReviewNotFound):
        await appeal(sessions=db_sessions, post_id="never-seen", reason="x")
    with pytest.raises(ValueError, match="reason"):
        await appeal(sessions=db_sessions, post_id="blocked-1", reason="  ")


async def test_disabled_moderators_cannot_act(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice"])
    await seed_items(db_sessions, 1)
    await set_disabled(sessions=db_sessions, username="alice", disabled=True)
    with pytest.raises(ModeratorRejected, match="disabled"):
        await claim_next(sessions=db_sessions, moderator="alice", claim_ttl_s=TTL)


async def test_audit_log_is_append_only(db_sessions: Sessions) -> None:
    await record_service_versions(sessions=db_sessions, model_version="m1", policy_version="p1")
    for statement in (
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        async with db_sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                async with session.begin():
                    await session.execute(text(statement))
    assert len(await audit_entries(sessions=db_sessions)) == 2


async def test_service_versions_are_audited_when_they_change(db_sessions: Sessions) -> None:
    first = await record_service_versions(sessions=db_sessions, model_version="m1", policy_version="p1")
    same = await record_service_versions(sessions=db_sessions, model_version="m1", policy_version="p1")
    newer = await record_service_versions(sessions=db_sessions, model_version="m2", policy_version="p1")

    assert (first, same, newer) == (["model", "policy"], [], ["model"])
    changes = await audit_entries(sessions=db_sessions, entity_type="service", entity_id="model")
    assert [(c.action, c.before, c.after) for c in changes] == [
        ("model_version_changed", None, {"version": "m1"}),
        ("model_version_changed", {"version": "m1"}, {"version": "m2"}),
    ]
