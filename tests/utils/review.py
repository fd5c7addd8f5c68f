"""Seeding the review workflow in tests: moderators and review items in a migrated database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.review.auth import hash_password
from service.review.queue import claim_next
from service.review.verdicts import resolve
from service.storage.repository import record_decisions
from service.storage.tables import ModeratorRow, ReviewItemRow
from tests.utils.records import make_record

Sessions = async_sessionmaker[AsyncSession]

PASSWORD = "correct horse battery staple"
# One scrypt hash for every seeded moderator: hashing costs ~0.6 s (N = 2**17), tests seed dozens.
_HASH = hash_password(PASSWORD)


async def add_moderators(sessions: Sessions, names: Sequence[str], *, role: str = "moderator") -> None:
    """Moderators with password :data:`PASSWORD` (inserted directly: no audit rows)."""
    async with sessions() as session, session.begin():
        await session.execute(
            insert(ModeratorRow).on_conflict_do_nothing(index_elements=["username"]),
            [{"username": name, "role": role, "password_hash": _HASH} for name in names],
        )


async def seed_items(
    sessions: Sessions,
    count: int,
    *,
    prefix: str = "post",
    text: str = "a borderline post",
    priorities: Sequence[int] | None = None,
    image_thumbnail: bytes | None = None,
    ocr_text: str | None = None,
    triggered: Sequence[dict[str, object]] | None = None,
) -> list[str]:
    """``count`` posts decided ``review`` (so each has an open review item); returns their post ids.
    ``triggered``: the rules that fired (default: ``toxic`` reached its review threshold)."""
    records = [
        make_record(
            f"{prefix}-{i}",
            action="review",
            text=text,
            offset=i,
            review_priority=70 if priorities is None else priorities[i],
            image_thumbnail_jpeg=image_thumbnail,
            ocr_text=ocr_text,
            triggered=list(triggered)
            if triggered is not None
            else [{"kind": "category", "name": "toxic", "action": "review", "score": 0.6, "threshold": 0.5}],
        )
        for i in range(count)
    ]
    await record_decisions(sessions=sessions, records=records)
    return [r.post_id for r in records]


async def age_items(sessions: Sessions, seconds: float) -> None:
    """Move every item's creation time ``seconds`` into the past (for SLA metrics)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(ReviewItemRow).values(created_at=ReviewItemRow.created_at - timedelta(seconds=seconds))
        )


async def expire_claims(sessions: Sessions) -> None:
    """Make every current claim expired (a second ago)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(ReviewItemRow)
            .where(ReviewItemRow.status == "claimed")
            .values(claim_expires_at=ReviewItemRow.claim_expires_at - timedelta(days=1))
        )


async def claim_and_resolve(
    sessions: Sessions, moderator: str, *, action: str, labels: dict[str, int], verdicts_topic: str
) -> int:
    """Claim the next item as ``moderator`` and give it a verdict; returns the item's id."""
    item = await claim_next(sessions=sessions, moderator=moderator, claim_ttl_s=60)
    assert item is not None, "nothing to claim"
    await resolve(
        sessions=sessions,
        item_id=item.item_id,
        moderator=moderator,
        action=action,
        labels=labels,
        verdicts_topic=verdicts_topic,
    )
    return item.item_id
