"""Verdicts and appeals: a moderator resolves a claimed item; an author appeals a decision.

Resolving writes a verdict (the model's decision row is never touched), an audit row and the
verdict event (transactional outbox, published by :class:`~service.review.events.OutboxRelay`),
all in one transaction. An appeal re-opens the post's review item for a different moderator.
Every function takes keyword arguments only, and every value reaches SQL as a bound parameter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.errors import ReviewConflict, ReviewNotFound
from service.review.audit import add_audit
from service.review.auth import get_active_moderator
from service.review.events import VerdictEvent, enqueue
from service.review.metrics import ReviewMetrics
from service.review.queue import open_appeal
from service.storage.tables import VERDICT_ACTIONS, AppealRow, DecisionRow, ReviewItemRow, VerdictRow

logger = logging.getLogger(__name__)

#: Priority of a review item created by an appeal against a decision nobody reviewed (a block).
APPEAL_PRIORITY = 50
MAX_NOTE_CHARS = 4000
MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class VerdictRecord:
    verdict_id: int
    item_id: int
    post_id: str
    moderator: str
    action: str
    labels: dict[str, int]
    appeal_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class AppealRecord:
    appeal_id: int
    item_id: int
    post_id: str
    previous_moderator: str | None
    created_at: datetime


def model_flags(triggered: list[dict[str, Any]]) -> set[str]:
    """Categories the model (under its policy) flagged: the category rules that fired."""
    flagged = set()
    for rule in triggered:
        if rule.get("kind", "category") != "category":
            continue
        name = rule.get("name", rule.get("label"))
        if isinstance(name, str):
            flagged.add(name)
    return flagged


def _check_labels(labels: Mapping[str, int | bool], categories: list[str]) -> dict[str, int]:
    unknown = sorted(set(labels) - set(categories))
    if unknown:
        raise ValueError(f"unknown categories {unknown}; this item's categories are {categories}")
    checked: dict[str, int] = {}
    for category in categories:
        value = labels.get(category, 0)
        if value not in (0, 1):  # True/False compare equal to 1/0
            raise ValueError(f"label {category!r} must be 0 or 1, got {value!r}")
        checked[category] = int(value)
    return checked


async def resolve(
    *,
    sessions: async_sessionmaker[AsyncSession],
    item_id: int,
    moderator: str,
    action: str,
    labels: Mapping[str, int | bool],
    note: str | None = None,
    verdicts_topic: str,
    metrics: ReviewMetrics | None = None,
) -> VerdictRecord:
    """Record ``moderator``'s verdict on an item they hold the claim on.

    ``labels``: 0/1 per category of the model; categories left out are 0. Writes the verdict, marks
    the item resolved, audits it and enqueues the verdict event, in one transaction.
    ``ReviewConflict`` when the item is not claimed by ``moderator`` (also after the claim expired
    and someone else took it); ``ValueError`` for an invalid action, label or note.
    """
    if action not in VERDICT_ACTIONS:
        raise ValueError(f"action must be one of {VERDICT_ACTIONS}, got {action!r}")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise ValueError(f"the note has {len(note)} characters, more than {MAX_NOTE_CHARS}")
    note = note.strip() or None if note is not None else None
    async with sessions() as session, session.begin():
        await get_active_moderator(session=session, username=moderator)
        item = await session.scalar(
            select(ReviewItemRow).where(ReviewItemRow.id == item_id).with_for_update()
        )
        if item is None:
            raise ReviewNotFound(f"no review item {item_id}")
        if item.status != "claimed" or item.claimed_by != moderator:
            holder = f", claimed by {item.claimed_by}" if item.claimed_by else ""
            raise ReviewConflict(
                f"review item {item_id} is not claimed by {moderator} (status {item.status}{holder}); claim it first"
            )
        decision = await session.get_one(DecisionRow, item.decision_id)
        checked = _check_labels(labels, list(decision.scores))
        appeal_row = await session.scalar(open_appeal(item.id))
        verdict = (
            await session.execute(
                insert(VerdictRow)
                .values(
                    review_item_id=item.id,
                    post_id=item.post_id,
                    decision_id=decision.id,
                    moderator=moderator,
                    action=action,
                    labels=checked,
                    note=note,
                    appeal_id=None if appeal_row is None else appeal_row.id,
                )
                .returning(VerdictRow.id, VerdictRow.created_at)
            )
        ).one()
        await session.execute(
            update(ReviewItemRow)
            .where(ReviewItemRow.id == item.id)
            .values(
                status="resolved",
                resolved_at=verdict.created_at,
                claimed_by=None,
                claim_expires_at=None,
                deferred_until=None,
            )
            .execution_options(synchronize_session=False)
        )
        add_audit(
            session,
            actor=moderator,
            action="resolve",
            entity_type="review_item",
            entity_id=item.id,
            before={"status": "claimed", "claimed_by": moderator},
            after={
                "status": "resolved",
                "verdict_id": verdict.id,
                "action": action,
                "labels": checked,
                "appeal_id": None if appeal_row is None else appeal_row.id,
            },
        )
        event = VerdictEvent(
            event_id=f"verdict-{verdict.id}",
            verdict_id=verdict.id,
            post_id=item.post_id,
            review_item_id=item.id,
            decision_id=decision.id,
            action=action,  # type: ignore[arg-type]  # checked against VERDICT_ACTIONS above
            labels=checked,  # type: ignore[arg-type]  # 0/1 checked above
            moderator=moderator,
            appeal_id=None if appeal_row is None else appeal_row.id,
            model_action=decision.action,  # type: ignore[arg-type]  # a CHECK constraint holds it
            model_version=decision.model_version,
            policy_version=decision.policy_version,
            decided_at=verdict.created_at,
        )
        enqueue(session, topic=verdicts_topic, key=item.post_id, event=event, kind="verdict")
        started = item.created_at if appeal_row is None else appeal_row.created_at
        flagged = model_flags(decision.triggered)
    if metrics is not None:
        metrics.verdicts.labels(action=action).inc()
        metrics.time_to_verdict_seconds.labels(kind="first" if appeal_row is None else "appeal").observe(
            max(0.0, (verdict.created_at - started).total_seconds())
        )
        for category, value in checked.items():
            outcome = "agree" if (category in flagged) == bool(value) else "disagree"
            metrics.agreement.labels(category=category, outcome=outcome).inc()
    return VerdictRecord(
        verdict_id=verdict.id,
        item_id=item_id,
        post_id=item.post_id,
        moderator=moderator,
        action=action,
        labels=checked,
        appeal_id=None if appeal_row is None else appeal_row.id,
        created_at=verdict.created_at,
    )


async def appeal(
    *,
    sessions: async_sessionmaker[AsyncSession],
    post_id: str,
    reason: str,
    actor: str = "platform",
    metrics: ReviewMetrics | None = None,
) -> AppealRecord:
    """An author's appeal: re-open the post's resolved review item for a different moderator.

    A post the model decided alone (a block, say) gets a new review item in state ``appealed``.
    ``ReviewConflict`` while the post is still under review; ``ReviewNotFound`` for an unknown post.
    """
    reason = reason.strip()
    if not reason:
        raise ValueError("an appeal needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"the reason has {len(reason)} characters, more than {MAX_REASON_CHARS}")
    async with sessions() as session, session.begin():
        item = await session.scalar(
            select(ReviewItemRow).where(ReviewItemRow.post_id == post_id).with_for_update()
        )
        previous_moderator: str | None = None
        previous_verdict_id: int | None = None
        if item is None:
            decision_id = await session.scalar(
                select(DecisionRow.id)
                .where(DecisionRow.post_id == post_id)
                .order_by(DecisionRow.id.desc())
                .limit(1)
            )
            if decision_id is None:
                raise ReviewNotFound(f"no decision for post {post_id!r}")
            item_id = (
                await session.execute(
                    insert(ReviewItemRow)
                    .values(
                        post_id=post_id, decision_id=decision_id, status="appealed", priority=APPEAL_PRIORITY
                    )
                    .returning(ReviewItemRow.id)
                )
            ).scalar_one()
            before: dict[str, Any] | None = None
        else:
            if item.status != "resolved":
                raise ReviewConflict(
                    f"post {post_id!r} is still under review (status {item.status}); appeal after the verdict"
                )
            last = await session.scalar(
                select(VerdictRow)
                .where(VerdictRow.review_item_id == item.id)
                .order_by(VerdictRow.id.desc())
                .limit(1)
            )
            if last is not None:
                previous_moderator, previous_verdict_id = last.moderator, last.id
            await session.execute(
                update(ReviewItemRow)
                .where(ReviewItemRow.id == item.id)
                .values(status="appealed", resolved_at=None, deferred_until=None)
                .execution_options(synchronize_session=False)
            )
            item_id = item.id
            before = {"status": item.status, "verdict_id": previous_verdict_id}
        created = (
            await session.execute(
                insert(AppealRow)
                .values(
                    review_item_id=item_id,
                    reason=reason,
                    previous_moderator=previous_moderator,
                    previous_verdict_id=previous_verdict_id,
                )
                .returning(AppealRow.id, AppealRow.created_at)
            )
        ).one()
        add_audit(
            session,
            actor=actor,
            action="appeal",
            entity_type="review_item",
            entity_id=item_id,
            before=before,
            after={"status": "appealed", "appeal_id": created.id, "previous_moderator": previous_moderator},
        )
    if metrics is not None:
        metrics.appeals.inc()
    return AppealRecord(
        appeal_id=created.id,
        item_id=item_id,
        post_id=post_id,
        previous_moderator=previous_moderator,
        created_at=created.created_at,
    )
