"""Initial schema: posts, decisions, review_items.

Revision ID: 0001
Revises:
Create Date: 2025-11-27

Hand-written to match ``service/storage/tables.py``; ``tests/service/storage/test_migrations.py`` compares them.
Every name is wrapped in ``op.f()``: it is final, not to be run through the naming convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "posts",
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_sha256", sa.String(64), nullable=True),
        sa.Column("image_sha256", sa.String(64), nullable=True),
        sa.Column("image_thumbnail", sa.LargeBinary(), nullable=True),
        sa.Column("ocr_text", sa.Text(), nullable=True),
        sa.Column("lang", sa.Text(), nullable=True),
        sa.Column("metadata", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("created_at", _TIMESTAMPTZ, nullable=False),
        sa.Column("received_at", _TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("source_topic", sa.Text(), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=False),
        sa.Column("source_offset", sa.BigInteger(), nullable=False),
        sa.Column("source_timestamp", _TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_posts")),
        sa.CheckConstraint("char_length(post_id) BETWEEN 1 AND 128", name=op.f("ck_posts_post_id_length")),
    )

    op.create_table(
        "decisions",
        # BigInteger primary key with autoincrement renders as BIGSERIAL.
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("policy_version", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("scores", postgresql.JSONB(), nullable=False),
        sa.Column("triggered", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False),
        sa.Column("attribution", postgresql.JSONB(), server_default=sa.text("'{}'::jsonb"), nullable=False),
        sa.Column("decided_at", _TIMESTAMPTZ, nullable=False),
        sa.Column("recorded_at", _TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.post_id"], name=op.f("fk_decisions_post_id_posts"), ondelete="CASCADE"
        ),
        # A redelivered post never creates a second decision for the same model.
        sa.UniqueConstraint("post_id", "model_version", name=op.f("uq_decisions_post_id_model_version")),
        sa.CheckConstraint("action IN ('allow', 'review', 'block')", name=op.f("ck_decisions_action")),
    )
    op.create_index(op.f("ix_decisions_action_decided_at"), "decisions", ["action", "decided_at"])
    op.create_index(op.f("ix_decisions_decided_at"), "decisions", ["decided_at"])

    op.create_table(
        "review_items",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'open'"), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claim_expires_at", _TIMESTAMPTZ, nullable=True),
        sa.Column("created_at", _TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", _TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.post_id"], name=op.f("fk_review_items_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_review_items_decision_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("post_id", name=op.f("uq_review_items_post_id")),
        sa.CheckConstraint(
            "status IN ('open', 'claimed', 'resolved', 'appealed')", name=op.f("ck_review_items_status")
        ),
        sa.CheckConstraint("priority BETWEEN 0 AND 100", name=op.f("ck_review_items_priority_range")),
    )
    # The moderation queue: items of one status, most urgent first, oldest first among equals.
    op.create_index(
        op.f("ix_review_items_queue"), "review_items", ["status", sa.text("priority DESC"), "created_at"]
    )


def downgrade() -> None:
    # Reverse order of creation: foreign keys point from later tables to earlier ones.
    op.drop_index(op.f("ix_review_items_queue"), table_name="review_items")
    op.drop_table("review_items")
    op.drop_index(op.f("ix_decisions_decided_at"), table_name="decisions")
    op.drop_index(op.f("ix_decisions_action_decided_at"), table_name="decisions")
    op.drop_table("decisions")
    op.drop_table("posts")
