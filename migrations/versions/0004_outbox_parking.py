"""Outbox rows that keep failing are parked instead of blocking the relay.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Hand-written to match ``service/storage/tables.py``; ``tests/service/storage/test_migrations.py`` compares them.
A row the broker refuses again and again while its neighbours go through gets ``parked_at`` and
leaves the relay's scan (service/review/events.py); the pending index skips parked rows too.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index(
        "ix_outbox_pending",
        "outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL AND parked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.create_index("ix_outbox_pending", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL"))
    op.drop_column("outbox", "parked_at")
