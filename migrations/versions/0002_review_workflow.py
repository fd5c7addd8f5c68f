"""Review workflow: moderators, verdicts, appeals, an append-only audit log, the event outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2025-12-01

Hand-written to match ``service/storage/tables.py``; ``tests/service/storage/test_migrations.py`` compares them.
The audit log's append-only rule is a trigger (not expressible in the tables module): UPDATE,
DELETE and TRUNCATE on ``audit_log`` raise an error for every role that is not a superuser
disabling the trigger on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIMESTAMPTZ = sa.DateTime(timezone=True)

_APPEND_ONLY_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    op.add_column("review_items", sa.Column("first_claimed_at", _TIMESTAMPTZ, nullable=True))
    op.add_column("review_items", sa.Column("resolved_at", _TIMESTAMPTZ, nullable=True))
    op.add_column("review_items", sa.Column("deferred_until", _TIMESTAMPTZ, nullable=True))

    op.create_table(
        "moderators",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("username", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), server_default=sa.text("'moderator'"), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("created_at", _TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("last_login_at", _TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderators")),
        sa.UniqueConstraint("username", name=op.f("uq_moderators_username")),
        sa.CheckConstraint("role IN ('moderator', 'admin')", name=op.f("ck_moderators_role")),
        sa.CheckConstraint(
            "char_length(username) BETWEEN 1 AND 64", name=op.f("ck_moderators_username_length")
        ),
    )

    op.create_table(
        "appeals",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("review_item_id", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("previous_moderator", sa.Text(), nullable=True),
        sa.Column("previous_verdict_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
        sa.ForeignKeyConstraint(
            ["review_item_id"],
            ["review_items.id"],
            name=op.f("fk_appeals_review_item_id_review_items"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_appeals_review_item_id"), "appeals", ["review_item_id"])

    op.create_table(
        "verdicts",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("review_item_id", sa.BigInteger(), nullable=False),
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("decision_id", sa.BigInteger(), nullable=False),
        sa.Column("moderator", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("labels", postgresql.JSONB(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("appeal_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", _TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdicts")),
        sa.ForeignKeyConstraint(
            ["review_item_id"],
            ["review_items.id"],
            name=op.f("fk_verdicts_review_item_id_review_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.post_id"], name=op.f("fk_verdicts_post_id_posts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            ["decisions.id"],
            name=op.f("fk_verdicts_decision_id_decisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["moderator"], ["moderators.username"], name=op.f("fk_verdicts_moderator_moderators")
        ),
        sa.ForeignKeyConstraint(
            ["appeal_id"], ["appeals.id"], name=op.f("fk_verdicts_appeal_id_appeals"), ondelete="CASCADE"
        ),
        sa.CheckConstraint("action IN ('allow', 'block')", name=op.f("ck_verdicts_action")),
    )
    op.create_index(op.f("ix_verdicts_review_item_id"), "verdicts", ["review_item_id"])
    op.create_index(op.f("ix_verdicts_created_at"), "verdicts", ["created_at"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("at", _TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("before", postgresql.JSONB(), nullable=True),
        sa.Column("after", postgresql.JSONB(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_entity_type_entity_id"), "audit_log", ["entity_type", "entity_id"])
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"])
    op.execute(_APPEND_ONLY_FUNCTION)
    op.execute(
        "CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()"
    )

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=True),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", _TIMESTAMPTZ, server_default=sa.func.now(), nullable=False),
        sa.Column("published_at", _TIMESTAMPTZ, nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index(
        op.f("ix_outbox_pending"), "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_pending"), table_name="outbox")
    op.drop_table("outbox")
    # Dropping the table drops its triggers; the function goes after.
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_entity_type_entity_id"), table_name="audit_log")
    op.drop_table("audit_log")
    op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index(op.f("ix_verdicts_created_at"), table_name="verdicts")
    op.drop_index(op.f("ix_verdicts_review_item_id"), table_name="verdicts")
    op.drop_table("verdicts")
    op.drop_index(op.f("ix_appeals_review_item_id"), table_name="appeals")
    op.drop_table("appeals")
    op.drop_table("moderators")
    op.drop_column("review_items", "deferred_until")
    op.drop_column("review_items", "resolved_at")
    op.drop_column("review_items", "first_claimed_at")
