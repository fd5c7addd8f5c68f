"""Posts decided through the HTTP API (``postguard api``), and the API's keys.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Hand-written to match ``service/storage/tables.py``; ``tests/service/storage/test_migrations.py`` compares them.
A post now says where it came from: ``source`` is ``kafka`` (the topic, partition and offset it was
read at, as before) or ``api`` (the request id it arrived with; no Kafka position). Existing rows
are Kafka posts. ``api_keys`` holds the API's bearer keys, hashed (service/api/keys.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SOURCE_SHAPE = (
    "(source = 'kafka' AND source_topic IS NOT NULL AND source_partition IS NOT NULL "
    "AND source_offset IS NOT NULL) OR (source = 'api' AND request_id IS NOT NULL)"
)


def upgrade() -> None:
    op.add_column("posts", sa.Column("source", sa.Text(), server_default=sa.text("'kafka'"), nullable=False))
    op.add_column("posts", sa.Column("request_id", sa.Text(), nullable=True))
    for column in ("source_topic", "source_partition", "source_offset"):
        op.alter_column("posts", column, nullable=True)
    op.create_check_constraint(op.f("ck_posts_source"), "posts", "source IN ('kafka', 'api')")
    op.create_check_constraint(op.f("ck_posts_source_shape"), "posts", _SOURCE_SHAPE)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_prefix", sa.Text(), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("char_length(name) BETWEEN 1 AND 64", name=op.f("ck_api_keys_name_length")),
        sa.CheckConstraint(
            "rate_limit_per_minute IS NULL OR rate_limit_per_minute > 0",
            name=op.f("ck_api_keys_rate_limit_positive"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_sha256", name=op.f("uq_api_keys_key_sha256")),
        sa.UniqueConstraint("name", name=op.f("uq_api_keys_name")),
    )


def downgrade() -> None:
    op.drop_table("api_keys")
    # Posts decided through the API have no Kafka position: they cannot stay in the old schema.
    op.execute("DELETE FROM posts WHERE source = 'api'")
    op.drop_constraint(op.f("ck_posts_source_shape"), "posts", type_="check")
    op.drop_constraint(op.f("ck_posts_source"), "posts", type_="check")
    for column in ("source_topic", "source_partition", "source_offset"):
        op.alter_column("posts", column, nullable=False)
    op.drop_column("posts", "request_id")
    op.drop_column("posts", "source")
