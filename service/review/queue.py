"""The review workflow: claim, resolve, skip, appeal, list. One transaction per operation.

States of a review item (``review_items.status``)::

    open --claim--> claimed --resolve--> resolved --appeal--> appealed --claim--> claimed ...
                       |  (skip, or the claim expires)              ^
                       +--> back to open / appealed ----------------+

- Claiming takes the most urgent claimable item (priority desc, then oldest) with
  ``SELECT ... FOR UPDATE SKIP LOCKED``: concurrent moderators never get the same item, and never
  wait for each other. Claimable: open, appealed, or claimed with an expired claim (expired claims
  return to the queue without any sweeper; :func:`release_expired_claims` also puts them back so
  queue-depth counts stay true). Items a moderator deferred ("review later") come last.
- A moderator never claims an item they already gave a verdict on: after an appeal, someone else
  decides.
- Resolving writes a verdict (the model's decision row is never touched), an audit row and the
  verdict event (transactional outbox, published by :class:`~service.review.events.OutboxRelay`),
  all in one transaction.

Every function takes keyword arguments only, and every value reaches SQL as a bound parameter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ..errors import ReviewConflict, ReviewNotFound
from ..repository import review_queue_depth
from ..tables import (
    REVIEW_STATUSES,
    VERDICT_ACTIONS,
    AppealRow,
    DecisionRow,
    PostRow,
    ReviewItemRow,
    VerdictRow,
)
from .audit import SYSTEM, add_audit
from .auth import get_active_moderator
from .events import VerdictEvent, enqueue
from .metrics import ReviewMetrics

__all__ = [
    "DEFAULT_DEFER_S",
    "AppealRecord",
    "ItemSummary",
    "ItemView",
    "VerdictRecord",
    "appeal",
    "claim_next",
    "current_claim",
    "get_item",
    "list_items",
    "model_flags",
    "refresh_queue_metrics",
    "release_expired_claims",
    "resolve",
    "skip",
]

logger = logging.getLogger(__name__)

#: How long a skipped ("review later") item stays behind the others in the queue.
DEFAULT_DEFER_S = 600.0
#: Priority of a review item created by an appeal against a decision nobody reviewed (a block).
APPEAL_PRIORITY = 50
MAX_NOTE_CHARS = 4000
MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class ItemSummary:
    """One line of the queue."""

    item_id: int
    post_id: str
    status: str
    priority: int
    claimed_by: str | None
    claim_expires_at: datetime | None
    created_at: datetime
    first_claimed_at: datetime | None
    resolved_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in self.__dict__.items()
        }


@dataclass(frozen=True)
class ItemView:
    """Everything a moderator sees of one item: the post, the model's decision, an open appeal."""

    summary: ItemSummary
    author_id: str
    text: str | None
    ocr_text: str | None
    lang: str | None
    has_image: bool
    decision_id: int
    model_action: str
    scores: dict[str, float]
    triggered: list[dict[str, Any]]
    attribution: dict[str, dict[str, float]]
    model_version: str
    policy_version: str
    appeal_reason: str | None

    @property
    def item_id(self) -> int:
        return self.summary.item_id

    @property
    def categories(self) -> list[str]:
        return list(self.scores)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.summary.as_dict(),
            "text": self.text,
            "ocr_text": self.ocr_text,
            "lang": self.lang,
            "has_image": self.has_image,
            "decision_id": self.decision_id,
            "model_action": self.model_action,
            "scores": self.scores,
            "triggered": self.triggered,
            "attribution": self.attribution,
            "model_version": self.model_version,
            "policy_version": self.policy_version,
            "appeal_reason": self.appeal_reason,
        }


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


def _summary(row: ReviewItemRow) -> ItemSummary:
    return ItemSummary(
        item_id=row.id,
        post_id=row.post_id,
        status=row.status,
        priority=row.priority,
        claimed_by=row.claimed_by,
        claim_expires_at=row.claim_expires_at,
        created_at=row.created_at,
        first_claimed_at=row.first_claimed_at,
        resolved_at=row.resolved_at,
    )


def _open_appeal(item_id: Any) -> Any:
    """SELECT of the item's appeal no verdict has answered yet (at most one by construction)."""
    answered = exists().where(VerdictRow.appeal_id == AppealRow.id)
    return (
        select(AppealRow)
        .where(AppealRow.review_item_id == item_id, ~answered)
        .order_by(AppealRow.id.desc())
        .limit(1)
    )


def _claimable() -> Any:
    expired = and_(ReviewItemRow.status == "claimed", ReviewItemRow.claim_expires_at <= func.now())
    return or_(ReviewItemRow.status.in_(("open", "appealed")), expired)


def _requeued_status() -> Any:
    """For an UPDATE of review_items: ``appealed`` while an appeal waits for its verdict, else ``open``."""
    answered = exists().where(VerdictRow.appeal_id == AppealRow.id)
    waiting = exists().where(AppealRow.review_item_id == ReviewItemRow.id, ~answered)
    return case((waiting, "appealed"), else_="open")


async def claim_next(
    *,
    sessions: async_sessionmaker[AsyncSession],
    moderator: str,
    claim_ttl_s: float,
    metrics: ReviewMetrics | None = None,
) -> ItemView | None:
    """Claim the most urgent claimable item for ``moderator`` for ``claim_ttl_s`` seconds; None when
    nothing is claimable. Each call claims one more item (a moderator may hold several)."""
    if claim_ttl_s <= 0:
        raise ValueError(f"claim_ttl_s must be positive, got {claim_ttl_s}")
    judged_before = exists().where(
        VerdictRow.review_item_id == ReviewItemRow.id, VerdictRow.moderator == moderator
    )
    deferred = func.coalesce(ReviewItemRow.deferred_until > func.now(), False)
    async with sessions() as session, session.begin():
        await get_active_moderator(session=session, username=moderator)
        row = await session.scalar(
            select(ReviewItemRow)
            .where(_claimable(), ~judged_before)
            .order_by(deferred, ReviewItemRow.priority.desc(), ReviewItemRow.created_at, ReviewItemRow.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if row is None:
            return None
        before = {"status": row.status, "claimed_by": row.claimed_by}
        took_expired = row.status == "claimed"
        first_claim = row.first_claimed_at is None
        claimed = (
            await session.execute(
                update(ReviewItemRow)
                .where(ReviewItemRow.id == row.id)
                .values(
                    status="claimed",
                    claimed_by=moderator,
                    claim_expires_at=func.now() + timedelta(seconds=claim_ttl_s),
                    first_claimed_at=func.coalesce(ReviewItemRow.first_claimed_at, func.now()),
                    deferred_until=None,
                )
                .returning(ReviewItemRow.claim_expires_at, ReviewItemRow.first_claimed_at)
                .execution_options(synchronize_session=False)
            )
        ).one()
        add_audit(
            session,
            actor=moderator,
            action="claim",
            entity_type="review_item",
            entity_id=row.id,
            before=before,
            after={
                "status": "claimed",
                "claimed_by": moderator,
                "claim_expires_at": claimed.claim_expires_at.isoformat(),
            },
        )
        item_id, created_at = row.id, row.created_at
    if metrics is not None:
        if first_claim:
            metrics.time_to_first_claim_seconds.observe(
                max(0.0, (claimed.first_claimed_at - created_at).total_seconds())
            )
        if took_expired:
            metrics.claims_expired.inc()
    return await get_item(sessions=sessions, item_id=item_id)


async def current_claim(*, sessions: async_sessionmaker[AsyncSession], moderator: str) -> ItemView | None:
    """The item ``moderator`` holds an unexpired claim on (the oldest claim first), if any."""
    async with sessions() as session:
        item_id = await session.scalar(
            select(ReviewItemRow.id)
            .where(
                ReviewItemRow.status == "claimed",
                ReviewItemRow.claimed_by == moderator,
                ReviewItemRow.claim_expires_at > func.now(),
            )
            .order_by(ReviewItemRow.claim_expires_at)
            .limit(1)
        )
    return None if item_id is None else await get_item(sessions=sessions, item_id=item_id)


async def get_item(*, sessions: async_sessionmaker[AsyncSession], item_id: int) -> ItemView:
    """One item with its post and decision; ``ReviewNotFound`` when there is none."""
    async with sessions() as session:
        found = (
            await session.execute(
                select(ReviewItemRow, PostRow, DecisionRow)
                .join(PostRow, PostRow.post_id == ReviewItemRow.post_id)
                .join(DecisionRow, DecisionRow.id == ReviewItemRow.decision_id)
                .where(ReviewItemRow.id == item_id)
            )
        ).one_or_none()
        if found is None:
            raise ReviewNotFound(f"no review item {item_id}")
        item, post, decision = found
        appeal_row = await session.scalar(_open_appeal(item.id))
        return ItemView(
            summary=_summary(item),
            author_id=post.author_id,
            text=post.text,
            ocr_text=post.ocr_text,
            lang=post.lang,
            has_image=post.image_thumbnail is not None,
            decision_id=decision.id,
            model_action=decision.action,
            scores=dict(decision.scores),
            triggered=list(decision.triggered),
            attribution=dict(decision.attribution),
            model_version=decision.model_version,
            policy_version=decision.policy_version,
            appeal_reason=None if appeal_row is None else appeal_row.reason,
        )


async def thumbnail(
    *, sessions: async_sessionmaker[AsyncSession], item_id: int, claimant: str | None
) -> bytes | None:
    """The JPEG thumbnail of the item's post, if it has an image and ``claimant`` holds the item's
    live claim (``None``: any item, for admins). A moderator sees only the image they are
    reviewing: item ids are sequential, and the queue's images are not theirs to browse."""
    query = (
        select(PostRow.image_thumbnail)
        .join(ReviewItemRow, ReviewItemRow.post_id == PostRow.post_id)
        .where(ReviewItemRow.id == item_id)
    )
    if claimant is not None:
        query = query.where(
            ReviewItemRow.status == "claimed",
            ReviewItemRow.claimed_by == claimant,
            ReviewItemRow.claim_expires_at > func.now(),
        )
    async with sessions() as session:
        return await session.scalar(query)


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
        appeal_row = await session.scalar(_open_appeal(item.id))
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


async def skip(
    *,
    sessions: async_sessionmaker[AsyncSession],
    item_id: int,
    moderator: str,
    defer_s: float = DEFAULT_DEFER_S,
) -> None:
    """ "Review later": give the claim back; the item returns to the queue behind the others for
    ``defer_s`` seconds. Admins may release anybody's claim."""
    async with sessions() as session, session.begin():
        who = await get_active_moderator(session=session, username=moderator)
        item = await session.scalar(
            select(ReviewItemRow).where(ReviewItemRow.id == item_id).with_for_update()
        )
        if item is None:
            raise ReviewNotFound(f"no review item {item_id}")
        if item.status != "claimed" or (item.claimed_by != moderator and not who.is_admin):
            raise ReviewConflict(
                f"review item {item_id} is not claimed by {moderator} (status {item.status})"
            )
        new_status = (
            await session.execute(
                update(ReviewItemRow)
                .where(ReviewItemRow.id == item.id)
                .values(
                    status=_requeued_status(),
                    claimed_by=None,
                    claim_expires_at=None,
                    deferred_until=func.now() + timedelta(seconds=max(defer_s, 0.0)),
                )
                .returning(ReviewItemRow.status)
                .execution_options(synchronize_session=False)
            )
        ).scalar_one()
        add_audit(
            session,
            actor=moderator,
            action="skip",
            entity_type="review_item",
            entity_id=item.id,
            before={"status": "claimed", "claimed_by": item.claimed_by},
            after={"status": new_status, "claimed_by": None, "deferred_s": defer_s},
        )


async def release_expired_claims(
    *, sessions: async_sessionmaker[AsyncSession], metrics: ReviewMetrics | None = None
) -> int:
    """Put items whose claim expired back in the queue (audited as the system); return how many.

    Not needed for correctness (claiming takes expired claims anyway): it keeps the queue-depth
    counts true and the audit log explicit about expiries.
    """
    async with sessions() as session, session.begin():
        rows = list(
            await session.execute(
                select(ReviewItemRow.id, ReviewItemRow.claimed_by)
                .where(ReviewItemRow.status == "claimed", ReviewItemRow.claim_expires_at <= func.now())
                .with_for_update(skip_locked=True)
            )
        )
        for item_id, claimed_by in rows:
            status = (
                await session.execute(
                    update(ReviewItemRow)
                    .where(ReviewItemRow.id == item_id)
                    .values(status=_requeued_status(), claimed_by=None, claim_expires_at=None)
                    .returning(ReviewItemRow.status)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one()
            add_audit(
                session,
                actor=SYSTEM,
                action="claim_expired",
                entity_type="review_item",
                entity_id=item_id,
                before={"status": "claimed", "claimed_by": claimed_by},
                after={"status": status, "claimed_by": None},
            )
    if metrics is not None and rows:
        metrics.claims_expired.inc(len(rows))
    return len(rows)


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


async def list_items(
    *, sessions: async_sessionmaker[AsyncSession], status: str | None = None, limit: int = 50
) -> list[ItemSummary]:
    """Items in queue order (most urgent, then oldest, first), optionally of one status."""
    if status is not None and status not in REVIEW_STATUSES:
        raise ValueError(f"status must be one of {REVIEW_STATUSES}, got {status!r}")
    query = select(ReviewItemRow).order_by(
        ReviewItemRow.priority.desc(), ReviewItemRow.created_at, ReviewItemRow.id
    )
    if status is not None:
        query = query.where(ReviewItemRow.status == status)
    async with sessions() as session:
        return [_summary(row) for row in await session.scalars(query.limit(limit))]


async def refresh_queue_metrics(
    *, sessions: async_sessionmaker[AsyncSession], metrics: ReviewMetrics
) -> None:
    """Re-read the queue depth per status into ``metrics``."""
    metrics.set_queue_depth(await review_queue_depth(sessions=sessions))
