"""Moderator session versions: logging out or disabling an account revokes every session cookie.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

Hand-written to match ``service/storage/tables.py``; ``tests/service/storage/test_migrations.py`` compares them.
A review-page session carries the moderator's ``session_version`` from the login; each request
compares it with the row (service/review/web.py), and logout and disabling add one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "moderators",
        sa.Column("session_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("moderators", "session_version")
