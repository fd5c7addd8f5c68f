"""PostgreSQL tables of postguard (SQLAlchemy 2 typed declarative).

The schema is created and changed only by the Alembic migrations in ``migrations/``; these classes
describe it for queries, and ``tests/service/storage/test_migrations.py`` fails when the two drift apart.
(The word "models" means the classifier in this project, hence ``tables``.)

Every constraint has a deterministic name (``NAMING_CONVENTION``) so migrations can refer to it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ACTIONS = ("allow", "review", "block")
REVIEW_STATUSES = ("open", "claimed", "resolved", "appealed")
#: What a moderator's verdict may decide (``review`` is the model's "not sure", not a verdict).
VERDICT_ACTIONS = ("allow", "block")
MODERATOR_ROLES = ("moderator", "admin")
#: Where a post came from: a Kafka topic (``postguard serve``) or the HTTP API (``postguard api``).
POST_SOURCES = ("kafka", "api")
POST_ID_MAX_CHARS = 128


def _in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL text for a CHECK constraint over constant strings (module constants, never user input)."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata`` is what the migration drift test compares against."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PostRow(Base):
    """One post as it arrived, stored once.

    First content wins: a post_id seen again (redelivery, or a producer reusing an id with other
    content) never overwrites the stored row (``INSERT ... ON CONFLICT DO NOTHING``), so the text
    moderators review is always the text the first decision was made on.
    """

    __tablename__ = "posts"
    __table_args__ = (
        CheckConstraint(f"char_length(post_id) BETWEEN 1 AND {POST_ID_MAX_CHARS}", name="post_id_length"),
        CheckConstraint(_in_list("source", POST_SOURCES), name="source"),
        # A Kafka post has its position, an API post its request id (migration 0005).
        CheckConstraint(
            "(source = 'kafka' AND source_topic IS NOT NULL AND source_partition IS NOT NULL "
            "AND source_offset IS NOT NULL) OR (source = 'api' AND request_id IS NOT NULL)",
            name="source_shape",
        ),
    )

    post_id: Mapped[str] = mapped_column(Text, primary_key=True)
    author_id: Mapped[str] = mapped_column(Text)
    # Kept (not only its hash): moderators need the text on the review page.
    text: Mapped[str | None] = mapped_column(Text)
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    # A small JPEG for the review page; the original image is never stored.
    image_thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)
    ocr_text: Mapped[str | None] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(Text)
    # ``metadata`` is reserved on declarative classes, so the attribute has another name.
    post_metadata: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONB, server_default=sql_text("'{}'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Where the post came from: enough to find the original message or request again.
    source: Mapped[str] = mapped_column(Text, server_default=sql_text("'kafka'"))
    source_topic: Mapped[str | None] = mapped_column(Text)
    source_partition: Mapped[int | None] = mapped_column(Integer)
    source_offset: Mapped[int | None] = mapped_column(BigInteger)
    source_timestamp: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    request_id: Mapped[str | None] = mapped_column(Text)


class DecisionRow(Base):
    """One decision per (post, model version): a redelivered post never creates a second row."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("post_id", "model_version"),
        CheckConstraint(_in_list("action", ACTIONS), name="action"),
        Index(None, "action", "decided_at"),
        Index(None, "decided_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # CASCADE: erasing a post (retention, takedown requests) erases what was derived from it.
    post_id: Mapped[str] = mapped_column(Text, ForeignKey("posts.post_id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(Text)
    policy_version: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(Text)
    scores: Mapped[dict[str, float]] = mapped_column(JSONB)
    triggered: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=sql_text("'[]'::jsonb"))
    attribution: Mapped[dict[str, dict[str, float]]] = mapped_column(
        JSONB, server_default=sql_text("'{}'::jsonb")
    )
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReviewItemRow(Base):
    """A post waiting for (or handled by) a human moderator; at most one per post."""

    __tablename__ = "review_items"
    __table_args__ = (
        CheckConstraint(_in_list("status", REVIEW_STATUSES), name="status"),
        CheckConstraint("priority BETWEEN 0 AND 100", name="priority_range"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    post_id: Mapped[str] = mapped_column(Text, ForeignKey("posts.post_id", ondelete="CASCADE"), unique=True)
    decision_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("decisions.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(Text, server_default=sql_text("'open'"))
    priority: Mapped[int] = mapped_column(SmallInteger)
    claimed_by: Mapped[str | None] = mapped_column(Text)
    claim_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # SLA timestamps (migration 0002): the first claim ever, and the latest verdict (cleared by an appeal).
    first_claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # "Review later": the item goes back to the queue but behind items nobody deferred, until then.
    deferred_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# The moderation queue: items of one status, most urgent first, oldest first among equals.
# Declared after the class because a DESC column needs the mapped attribute.
Index(
    "ix_review_items_queue",
    ReviewItemRow.status,
    ReviewItemRow.priority.desc(),
    ReviewItemRow.created_at,
)


# --- the moderators' workplace (migration 0002; see service/review and docs/review.md) ---


class ModeratorRow(Base):
    """A person who may log in to the review page; never deleted, only disabled."""

    __tablename__ = "moderators"
    __table_args__ = (
        CheckConstraint(_in_list("role", MODERATOR_ROLES), name="role"),
        CheckConstraint("char_length(username) BETWEEN 1 AND 64", name="username_length"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(Text, server_default=sql_text("'moderator'"))
    # ``scrypt$N$r$p$salt$hash`` (base64), see service/review/auth.py.
    password_hash: Mapped[str] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=sql_text("false"))
    # Carried by each review-page session from its login; logout and disabling add one, which
    # revokes every session cookie issued before (service/review/web.py).
    session_version: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AppealRow(Base):
    """An author's appeal: re-opens a review item for a moderator other than the previous one."""

    __tablename__ = "appeals"
    __table_args__ = (Index(None, "review_item_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    review_item_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("review_items.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    # Who decided before (None: the appeal is against the model's own decision).
    previous_moderator: Mapped[str | None] = mapped_column(Text)
    previous_verdict_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class VerdictRow(Base):
    """A moderator's verdict; it stands beside the model's decision, which is never modified."""

    __tablename__ = "verdicts"
    __table_args__ = (
        CheckConstraint(_in_list("action", VERDICT_ACTIONS), name="action"),
        Index(None, "review_item_id"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    review_item_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("review_items.id", ondelete="CASCADE"))
    post_id: Mapped[str] = mapped_column(Text, ForeignKey("posts.post_id", ondelete="CASCADE"))
    decision_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("decisions.id", ondelete="CASCADE"))
    moderator: Mapped[str] = mapped_column(Text, ForeignKey("moderators.username"))
    action: Mapped[str] = mapped_column(Text)
    # Corrected labels, one 0/1 per category the model scores: {"hate": 0, "offensive": 1, ...}.
    labels: Mapped[dict[str, int]] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
    # Set when this verdict answers an appeal.
    appeal_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("appeals.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AuditLogRow(Base):
    """Append-only record of every action; a trigger (migration 0002) rejects UPDATE, DELETE, TRUNCATE.

    No foreign keys: the record outlives what it describes (erased posts, disabled moderators).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "entity_type", "entity_id"), Index(None, "at"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)  # a moderator's username, "system" or "platform"
    action: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[str] = mapped_column(Text)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class OutboxRow(Base):
    """Transactional outbox: events written with the change they announce, published by a relay."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default=sql_text("0"))
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set when the broker kept refusing this row while its neighbours went through: the relay
    # skips it from then on (an operator re-queues it: docs/operations.md).
    parked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# What the relay scans: only the unpublished, unparked rows, in order.
Index(
    "ix_outbox_pending",
    OutboxRow.id,
    postgresql_where=and_(OutboxRow.published_at.is_(None), OutboxRow.parked_at.is_(None)),
)


class ApiKeyRow(Base):
    """A bearer key of the HTTP API (``postguard api-keys``); only its SHA-256 is kept."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint("char_length(name) BETWEEN 1 AND 64", name="name_length"),
        CheckConstraint(
            "rate_limit_per_minute IS NULL OR rate_limit_per_minute > 0", name="rate_limit_positive"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    # The key's first characters, shown by ``api-keys list`` so a leaked key can be told apart.
    key_prefix: Mapped[str] = mapped_column(Text)
    # Keys are 256 random bits: a plain SHA-256 cannot be brute-forced, and a lookup is one index probe.
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    # None: the API's default (POSTGUARD_API_RATE_LIMIT_PER_MINUTE).
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
