"""The append-only audit log: one row per action, written in the transaction of the action.

``audit_log`` rejects UPDATE, DELETE and TRUNCATE (a trigger of migration 0002), so a row once
committed stays as written. Rows name posts and review items by id and record states (status,
claimant, action, labels), never post text or author ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.storage.tables import AuditLogRow

__all__ = ["AuditEntry", "add_audit", "audit_entries", "record_service_versions"]

#: The actor of actions nobody took by hand (expired claims, version changes at start).
SYSTEM = "system"

# Serialises version checks of replicas starting together (any constant; "pgvs" in ASCII).
_VERSIONS_LOCK_KEY = 0x70677673


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def add_audit(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add an audit row to ``session``'s transaction (it commits, or rolls back, with the action)."""
    session.add(
        AuditLogRow(
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id),
            before=before,
            after=after,
        )
    )


async def audit_entries(
    *,
    sessions: async_sessionmaker[AsyncSession],
    entity_type: str | None = None,
    entity_id: str | int | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Audit rows, oldest first, optionally for one entity."""
    query = select(AuditLogRow).order_by(AuditLogRow.id).limit(limit)
    if entity_type is not None:
        query = query.where(AuditLogRow.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditLogRow.entity_id == str(entity_id))
    async with sessions() as session:
        rows = await session.scalars(query)
        return [
            AuditEntry(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                entity_type=r.entity_type,
                entity_id=r.entity_id,
                before=r.before,
                after=r.after,
            )
            for r in rows
        ]


async def record_service_versions(
    *, sessions: async_sessionmaker[AsyncSession], model_version: str, policy_version: str
) -> list[str]:
    """Audit a model or policy version that differs from the last one recorded; return what changed.

    Called by the service at start. The first start records both versions (``before`` is null);
    replicas starting together record a change once (a transaction-scoped advisory lock).
    """
    current = {"model": model_version, "policy": policy_version}
    changed: list[str] = []
    async with sessions() as session, session.begin():
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _VERSIONS_LOCK_KEY})
        for entity_id, version in current.items():
            last = await session.scalar(
                select(AuditLogRow.after)
                .where(AuditLogRow.entity_type == "service", AuditLogRow.entity_id == entity_id)
                .order_by(AuditLogRow.id.desc())
                .limit(1)
            )
            previous = (last or {}).get("version")
            if previous == version:
                continue
            add_audit(
                session,
                actor=SYSTEM,
                action=f"{entity_id}_version_changed",
                entity_type="service",
                entity_id=entity_id,
                before=None if previous is None else {"version": previous},
                after={"version": version},
            )
            changed.append(entity_id)
    return changed
