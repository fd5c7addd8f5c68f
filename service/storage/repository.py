"""Persisting decisions: idempotent bulk writes and the few queries the service and tests need.

Delivery from Kafka is at-least-once (Tansu has no transactional producer, and a consumer may
crash between writing and committing), so every write here is idempotent: ``INSERT ... ON
CONFLICT DO NOTHING`` on natural keys, then a read-back of what is actually stored. A redelivered
post returns the decision recorded the first time, with ``created=False``, and the caller
publishes that same decision again.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.records import ApiRequestRef, SourceRef
from service.storage.tables import (
    ACTIONS,
    POST_ID_MAX_CHARS,
    REVIEW_STATUSES,
    DecisionRow,
    PostRow,
    ReviewItemRow,
)

__all__ = [
    "DecisionRecord",
    "StoredDecision",
    "count_decisions",
    "decisions_by_action",
    "decisions_for_post",
    "record_decisions",
    "stored_decision",
    "review_queue_depth",
]

# Core tables for the bulk inserts: executemany with plain column-keyed dicts (the ORM bulk path
# would want attribute names, and ``posts.metadata`` is ``PostRow.post_metadata``).
_POSTS = cast(Table, PostRow.__table__)
_DECISIONS = cast(Table, DecisionRow.__table__)
_REVIEW_ITEMS = cast(Table, ReviewItemRow.__table__)

# asyncpg accepts at most 32767 bound parameters per statement; the read-back binds two per key.
_READ_BACK_CHUNK = 5000


@dataclass(frozen=True)
class DecisionRecord:
    """A post and the decision made on it, as the pipeline hands it over for storage."""

    post_id: str
    author_id: str
    text: str | None
    text_sha256: str | None
    image_sha256: str | None
    image_thumbnail_jpeg: bytes | None
    ocr_text: str | None
    created_at: datetime
    lang: str | None
    metadata: dict[str, Any]
    #: A Kafka position (``postguard serve``) or an API request (``postguard api``).
    source: SourceRef | ApiRequestRef
    model_version: str
    policy_version: str
    action: str  # allow | review | block
    scores: dict[str, float]
    triggered: list[dict[str, Any]]
    attribution: dict[str, dict[str, float]]
    decided_at: datetime
    review_priority: int


@dataclass(frozen=True)
class StoredDecision:
    """A decision as stored; ``created`` is False when it already existed (redelivery)."""

    post_id: str
    decision_id: int
    action: str
    scores: dict[str, float]
    triggered: list[dict[str, Any]]
    attribution: dict[str, dict[str, float]]
    model_version: str
    policy_version: str
    decided_at: datetime
    created: bool


def _validate(record: DecisionRecord) -> None:
    """Reject records the database would reject, with a message that names the post."""
    problems = []
    if not 1 <= len(record.post_id) <= POST_ID_MAX_CHARS:
        problems.append(f"post_id must have 1-{POST_ID_MAX_CHARS} characters")
    if record.action not in ACTIONS:
        problems.append(f"action {record.action!r} is not one of {ACTIONS}")
    if not 0 <= record.review_priority <= 100:
        problems.append(f"review_priority {record.review_priority} is not in 0..100")
    for name, value in (("created_at", record.created_at), ("decided_at", record.decided_at)):
        if value.tzinfo is None or value.utcoffset() is None:
            problems.append(f"{name} must be timezone-aware (got {value.isoformat()})")
    # PostgreSQL text cannot hold NUL; asyncpg would fail the whole batch with a data error.
    for name in ("post_id", "author_id", "text", "ocr_text", "lang", "model_version", "policy_version"):
        value = getattr(record, name)
        if value is not None and "\x00" in value:
            problems.append(f"{name} contains a NUL character")
    # jsonb has no NaN/Infinity: a non-finite score would fail the whole batch.
    bad = [label for label, score in record.scores.items() if not math.isfinite(score)]
    if bad:
        problems.append(f"scores not finite: {', '.join(bad)}")
    if problems:
        raise ValueError(f"decision record for post {record.post_id!r}: " + "; ".join(problems))


def _source_columns(source: SourceRef | ApiRequestRef) -> dict[str, Any]:
    if isinstance(source, ApiRequestRef):
        return {
            "source": "api",
            "request_id": source.request_id,
            "source_topic": None,
            "source_partition": None,
            "source_offset": None,
            "source_timestamp": None,
        }
    return {
        "source": "kafka",
        "request_id": None,
        "source_topic": source.topic,
        "source_partition": source.partition,
        "source_offset": source.offset,
        "source_timestamp": (
            None if source.timestamp_ms is None else datetime.fromtimestamp(source.timestamp_ms / 1000, UTC)
        ),
    }


def _post_row(record: DecisionRecord) -> dict[str, Any]:
    return {
        "post_id": record.post_id,
        "author_id": record.author_id,
        "text": record.text,
        "text_sha256": record.text_sha256,
        "image_sha256": record.image_sha256,
        "image_thumbnail": record.image_thumbnail_jpeg,
        "ocr_text": record.ocr_text,
        "lang": record.lang,
        "metadata": record.metadata,
        "created_at": record.created_at,
        **_source_columns(record.source),
    }


def _decision_row(record: DecisionRecord) -> dict[str, Any]:
    return {
        "post_id": record.post_id,
        "model_version": record.model_version,
        "policy_version": record.policy_version,
        "action": record.action,
        "scores": record.scores,
        "triggered": record.triggered,
        "attribution": record.attribution,
        "decided_at": record.decided_at,
    }


def stored_decision(row: DecisionRow, *, created: bool) -> StoredDecision:
    """A decision row as :class:`StoredDecision`."""
    return StoredDecision(
        post_id=row.post_id,
        decision_id=row.id,
        action=row.action,
        scores=row.scores,
        triggered=row.triggered,
        attribution=row.attribution,
        model_version=row.model_version,
        policy_version=row.policy_version,
        decided_at=row.decided_at,
        created=created,
    )


async def record_decisions(
    *, sessions: async_sessionmaker[AsyncSession], records: Sequence[DecisionRecord]
) -> list[StoredDecision]:
    """Store posts, decisions and review items in one transaction; return what is stored.

    - posts: first content wins (an existing post_id is never overwritten);
    - decisions: one per (post_id, model_version); a repeat returns the existing row with
      ``created=False`` (also for a repeat within ``records``: only its first occurrence is new);
    - review_items: one per post, for stored decisions whose action is ``review``.

    The result is in the order of ``records``. Raises ``ValueError`` (nothing written) for a record
    the database would reject; database errors roll the whole call back.
    """
    if not records:
        return []
    for record in records:
        _validate(record)

    # First occurrence wins inside the batch too, explicitly rather than by statement row order.
    posts = {r.post_id: _post_row(r) for r in reversed(records)}
    decisions = {(r.post_id, r.model_version): r for r in reversed(records)}
    keys = list(decisions)

    async with sessions() as session, session.begin():
        await session.execute(
            insert(_POSTS).on_conflict_do_nothing(index_elements=["post_id"]),
            list(posts.values()),
        )
        inserted = await session.execute(
            insert(_DECISIONS)
            .on_conflict_do_nothing(index_elements=["post_id", "model_version"])
            .returning(_DECISIONS.c.id),
            [_decision_row(decisions[key]) for key in keys],
        )
        new_ids = set(inserted.scalars().all())

        stored: dict[tuple[str, str], DecisionRow] = {}
        for start in range(0, len(keys), _READ_BACK_CHUNK):
            chunk = keys[start : start + _READ_BACK_CHUNK]
            rows = await session.scalars(
                select(DecisionRow).where(tuple_(DecisionRow.post_id, DecisionRow.model_version).in_(chunk))
            )
            stored.update(((row.post_id, row.model_version), row) for row in rows)

        review_rows = [
            {
                "post_id": row.post_id,
                "decision_id": row.id,
                "priority": decisions[key].review_priority,
            }
            for key, row in stored.items()
            if row.action == "review"
        ]
        if review_rows:
            await session.execute(
                insert(_REVIEW_ITEMS).on_conflict_do_nothing(index_elements=["post_id"]),
                review_rows,
            )

    result = []
    seen: set[tuple[str, str]] = set()
    for record in records:
        key = (record.post_id, record.model_version)
        row = stored[key]
        result.append(stored_decision(row, created=row.id in new_ids and key not in seen))
        seen.add(key)
    return result


async def decisions_for_post(
    *, sessions: async_sessionmaker[AsyncSession], post_id: str
) -> list[StoredDecision]:
    """Every decision stored for a post (one per model version), oldest first."""
    async with sessions() as session:
        rows = await session.scalars(
            select(DecisionRow).where(DecisionRow.post_id == post_id).order_by(DecisionRow.id)
        )
        return [stored_decision(row, created=False) for row in rows]


async def count_decisions(*, sessions: async_sessionmaker[AsyncSession]) -> int:
    """Number of decision rows."""
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(DecisionRow)) or 0)


async def decisions_by_action(*, sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Decision counts per action; every action is present, with 0 when it never occurred."""
    async with sessions() as session:
        rows = await session.execute(select(DecisionRow.action, func.count()).group_by(DecisionRow.action))
        counts = {action: 0 for action in ACTIONS}
        counts.update({action: int(n) for action, n in rows.all()})
        return counts


async def review_queue_depth(*, sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Review items per status; every status is present, with 0 when none."""
    async with sessions() as session:
        rows = await session.execute(
            select(ReviewItemRow.status, func.count()).group_by(ReviewItemRow.status)
        )
        counts = {status: 0 for status in REVIEW_STATUSES}
        counts.update({status: int(n) for status, n in rows.all()})
        return counts


def review_counter(sessions: async_sessionmaker[AsyncSession]) -> Callable[[], Awaitable[Mapping[str, int]]]:
    """``review_queue_depth`` bound to a session factory (what the monitor's review gauges read)."""

    async def count() -> Mapping[str, int]:
        return await review_queue_depth(sessions=sessions)

    return count
