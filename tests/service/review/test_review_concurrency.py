"""Concurrent moderators against the real PostgreSQL: no item is ever claimed twice."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from service.review.queue import claim_next
from service.review.verdicts import resolve
from service.storage.database import create_engine_from_url, session_factory
from service.storage.tables import AuditLogRow, ReviewItemRow
from tests.utils.review import Sessions, add_moderators, expire_claims, seed_items

pytestmark = pytest.mark.integration

CLAIMERS = 20
ITEMS = 50


async def _claim_all(sessions: Sessions, moderator: str, ttl: float) -> list[int]:
    """Claim until the queue is empty; return the item ids this moderator got."""
    got = []
    while (item := await claim_next(sessions=sessions, moderator=moderator, claim_ttl_s=ttl)) is not None:
        got.append(item.item_id)
        await asyncio.sleep(0)  # let the others interleave between transactions
    return got


async def test_concurrent_claimers_never_share_an_item(migrated_db: str, db_sessions: Sessions) -> None:
    names = [f"mod-{i:02d}" for i in range(CLAIMERS)]
    await add_moderators(db_sessions, names)
    await seed_items(db_sessions, ITEMS)

    # One engine (and so one connection) per moderator: the claims really run in parallel transactions.
    engines = [create_engine_from_url(migrated_db, pool_size=1) for _ in names]
    try:
        claimed = await asyncio.gather(
            *(
                _claim_all(session_factory(engine), name, ttl=600)
                for engine, name in zip(engines, names, strict=True)
            )
        )

        every = [item for per_moderator in claimed for item in per_moderator]
        assert len(every) == ITEMS
        assert len(set(every)) == ITEMS, [item for item, n in Counter(every).items() if n > 1]
        assert sum(1 for per_moderator in claimed if per_moderator) > 1  # it really was shared
        async with db_sessions() as session:
            owners = dict((await session.execute(select(ReviewItemRow.id, ReviewItemRow.claimed_by))).all())
            audits = await session.scalar(select(func.count()).where(AuditLogRow.action == "claim"))
        for name, items in zip(names, claimed, strict=True):
            assert all(owners[item] == name for item in items)
        assert audits == ITEMS

        # Every claim expires: the items come back, and are again shared without duplicates.
        await expire_claims(db_sessions)
        again = await asyncio.gather(
            *(
                _claim_all(session_factory(engine), name, ttl=600)
                for engine, name in zip(engines, names, strict=True)
            )
        )
        every = [item for per_moderator in again for item in per_moderator]
        assert sorted(every) == sorted(set(every)) and len(every) == ITEMS

        # Resolving concurrently: each item gets exactly one verdict from its claimant.
        async def resolve_all(sessions: Sessions, name: str, items: list[int]) -> None:
            for item in items:
                await resolve(
                    sessions=sessions,
                    item_id=item,
                    moderator=name,
                    action="allow",
                    labels={},
                    verdicts_topic="moderation.verdicts",
                )

        await asyncio.gather(
            *(
                resolve_all(session_factory(engine), name, items)
                for engine, name, items in zip(engines, names, again, strict=True)
            )
        )
        async with db_sessions() as session:
            statuses = Counter((await session.scalars(select(ReviewItemRow.status))).all())
        assert statuses == {"resolved": ITEMS}
    finally:
        await asyncio.gather(*(engine.dispose() for engine in engines))
