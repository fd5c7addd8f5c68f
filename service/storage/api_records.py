"""What the HTTP API reads back: the decisions already stored for its posts (an ``Idempotency-Key``
retry is answered from them) and its bearer keys (``api_keys``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.storage.repository import StoredDecision, stored_decision
from service.storage.tables import ApiKeyRow, DecisionRow, PostRow

__all__ = [
    "ApiKeyRecord",
    "StoredApiPost",
    "create_api_key",
    "find_api_key",
    "list_api_keys",
    "revoke_api_key",
    "stored_api_posts",
]


@dataclass(frozen=True)
class StoredApiPost:
    """A post stored by the API with its newest decision."""

    post_id: str
    metadata: dict[str, Any]
    has_text: bool
    has_image: bool
    ocr_text: str | None
    decision: StoredDecision


async def stored_api_posts(
    *, sessions: async_sessionmaker[AsyncSession], post_ids: Sequence[str]
) -> dict[str, StoredApiPost]:
    """The API posts among ``post_ids`` that are stored, each with its newest decision."""
    if not post_ids:
        return {}
    async with sessions() as session:
        rows = await session.execute(
            select(PostRow, DecisionRow)
            .join(DecisionRow, DecisionRow.post_id == PostRow.post_id)
            .where(PostRow.post_id.in_(list(post_ids)), PostRow.source == "api")
            .order_by(DecisionRow.id)
        )
        found: dict[str, StoredApiPost] = {}
        for post, decision in rows.all():  # oldest first: the newest decision wins
            found[post.post_id] = StoredApiPost(
                post_id=post.post_id,
                metadata=dict(post.post_metadata),
                has_text=post.text is not None,
                has_image=post.image_sha256 is not None,
                ocr_text=post.ocr_text,
                decision=stored_decision(decision, created=False),
            )
        return found


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored (never the key itself)."""

    id: int
    name: str
    key_prefix: str
    rate_limit_per_minute: int | None
    created_at: datetime
    revoked_at: datetime | None


def _record(row: ApiKeyRow) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        name=row.name,
        key_prefix=row.key_prefix,
        rate_limit_per_minute=row.rate_limit_per_minute,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


async def create_api_key(
    *,
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    key_prefix: str,
    key_sha256: str,
    rate_limit_per_minute: int | None,
) -> ApiKeyRecord | None:
    """Store a new key; None when ``name`` is taken (revoked keys keep their names)."""
    async with sessions() as session, session.begin():
        created = await session.scalar(
            insert(ApiKeyRow)
            .values(
                name=name,
                key_prefix=key_prefix,
                key_sha256=key_sha256,
                rate_limit_per_minute=rate_limit_per_minute,
            )
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(ApiKeyRow.id)
        )
        if created is None:
            return None
        row = await session.get_one(ApiKeyRow, created)
        return _record(row)


async def find_api_key(*, sessions: async_sessionmaker[AsyncSession], key_sha256: str) -> ApiKeyRecord | None:
    """The key with this hash, revoked or not; None when there is none."""
    async with sessions() as session:
        row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.key_sha256 == key_sha256))
        return None if row is None else _record(row)


async def list_api_keys(*, sessions: async_sessionmaker[AsyncSession]) -> list[ApiKeyRecord]:
    """Every key, oldest first."""
    async with sessions() as session:
        return [_record(row) for row in await session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id))]


async def revoke_api_key(*, sessions: async_sessionmaker[AsyncSession], name: str) -> ApiKeyRecord | None:
    """Revoke the key named ``name`` (a revoked key stays revoked); None when there is none."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.name == name, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        row = await session.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
        return None if row is None else _record(row)
