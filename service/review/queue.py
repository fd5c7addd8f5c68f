"""The review queue: claim, skip, list, release expired claims (verdicts and appeals are in
:mod:`service.review.verdicts`). One transaction per operation.

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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.errors import ReviewConflict, ReviewNotFound
from service.review.audit import SYSTEM, add_audit
from service.review.auth import get_active_moderator
from service.review.metrics import ReviewMetrics
from service.storage.repository import review_queue_depth
from service.storage.tables import (
    REVIEW_STATUSES,
    AppealRow,
    DecisionRow,
    PostRow,
    ReviewItemRow,
    VerdictRow,
)

__all__ = [
    "DEFAULT_DEFER_S",
    "ItemSummary",
    "ItemView",
    "claim_next",
    "current_claim",
    "get_item",
    "list_items",
    "refresh_queue_metrics",
    "release_expired_claims",
    "skip",
]

logger = logging.getLogger(__name__)

#: How long a skipped ("review later") item stays behind the others in the queue.
DEFAULT_DEFER_S = 600.0


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


def open_appeal(item_id: Any) -> Any:
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
        appeal_row = await session.scalar(open_appeal(item.id))
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
