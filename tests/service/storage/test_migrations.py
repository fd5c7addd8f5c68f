"""The Alembic migrations: up, down, up again, and no drift from ``service/storage/tables.py``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from devtools.embedded import PostgresServer
from service.storage import migrate
from service.storage.tables import Base
from tests.utils.db import run_sync_on

pytestmark = pytest.mark.integration

TABLES = {"posts", "decisions", "review_items"}
#: Added by 0002 (the review workflow).
REVIEW_TABLES = {"moderators", "verdicts", "appeals", "audit_log", "outbox"}
#: Added by 0005 (the HTTP API).
API_TABLES = {"api_keys"}


def _schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    return {
        "tables": tables,
        "unique": {t: {c["name"] for c in inspector.get_unique_constraints(t)} for t in tables},
        "checks": {t: {c["name"] for c in inspector.get_check_constraints(t)} for t in tables},
        "indexes": {t: {i["name"] for i in inspector.get_indexes(t)} for t in tables},
        "foreign_keys": {t: {fk["name"] for fk in inspector.get_foreign_keys(t)} for t in tables},
    }


def _diff_against_tables(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


@pytest.fixture
def empty_db(postgres: PostgresServer) -> Any:
    name = f"empty_{uuid.uuid4().hex[:16]}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)


async def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    assert migrate.current(empty_db) is None

    # Called from inside this test's running event loop on purpose: migrate must cope.
    migrate.upgrade(empty_db)
    assert migrate.current(empty_db) == migrate.head() == "0005"
    schema = await run_sync_on(empty_db, _schema)
    assert schema["tables"] == TABLES | REVIEW_TABLES | API_TABLES
    assert schema["unique"]["decisions"] == {"uq_decisions_post_id_model_version"}
    assert schema["unique"]["review_items"] == {"uq_review_items_post_id"}
    assert schema["checks"]["decisions"] == {"ck_decisions_action"}
    assert schema["checks"]["review_items"] == {"ck_review_items_status", "ck_review_items_priority_range"}
    assert schema["checks"]["posts"] == {
        "ck_posts_post_id_length",
        "ck_posts_source",
        "ck_posts_source_shape",
    }
    assert schema["unique"]["api_keys"] == {"uq_api_keys_name", "uq_api_keys_key_sha256"}
    assert schema["indexes"]["decisions"] >= {"ix_decisions_action_decided_at", "ix_decisions_decided_at"}
    assert "ix_review_items_queue" in schema["indexes"]["review_items"]
    assert schema["foreign_keys"]["review_items"] == {
        "fk_review_items_post_id_posts",
        "fk_review_items_decision_id_decisions",
    }

    migrate.downgrade(empty_db)
    assert migrate.current(empty_db) is None
    assert (await run_sync_on(empty_db, _schema))["tables"] == set()

    migrate.upgrade(empty_db)
    assert (await run_sync_on(empty_db, _schema))["tables"] == TABLES | REVIEW_TABLES | API_TABLES


async def test_review_migration_downgrades_to_the_initial_schema(empty_db: str) -> None:
    """0002 down leaves exactly the 0001 schema (columns included), and up again works."""
    migrate.upgrade(empty_db, "0001")
    initial = await run_sync_on(empty_db, _catalog)
    migrate.upgrade(empty_db)
    assert "audit_log" in (await run_sync_on(empty_db, _schema))["tables"]

    migrate.downgrade(empty_db, "0001")
    assert migrate.current(empty_db) == "0001"
    assert await run_sync_on(empty_db, _catalog) == initial

    migrate.upgrade(empty_db)
    assert migrate.current(empty_db) == "0005"


async def test_session_version_migration_downgrades_to_the_review_schema(empty_db: str) -> None:
    """0003 adds moderators.session_version (0 for existing accounts); down removes exactly it."""
    migrate.upgrade(empty_db, "0002")
    before = await run_sync_on(empty_db, _catalog)
    migrate.upgrade(empty_db, "0003")
    after = await run_sync_on(empty_db, _catalog)
    assert after - before == {("column", "moderators", "session_version", "integer NO 0")}
    migrate.downgrade(empty_db, "0002")
    assert await run_sync_on(empty_db, _catalog) == before


async def test_outbox_parking_migration_downgrades_to_the_session_schema(empty_db: str) -> None:
    """0004 adds outbox.parked_at and narrows the pending index to unparked rows; down restores both."""
    migrate.upgrade(empty_db, "0003")
    before = await run_sync_on(empty_db, _catalog)
    migrate.upgrade(empty_db, "0004")
    after = await run_sync_on(empty_db, _catalog)
    added = after - before
    assert ("column", "outbox", "parked_at", "timestamp with time zone YES") in added
    assert any(kind == "index" and "parked_at IS NULL" in definition for kind, _, _, definition in added)
    migrate.downgrade(empty_db, "0003")
    assert await run_sync_on(empty_db, _catalog) == before


async def test_api_migration_keeps_kafka_posts_and_downgrades(empty_db: str) -> None:
    """0005: existing posts become Kafka posts; an API post needs a request id, a Kafka post its
    position; down removes API posts (they have no position) and restores the 0004 schema."""
    migrate.upgrade(empty_db, "0004")
    before = await run_sync_on(empty_db, _catalog)
    kafka_post = (
        "INSERT INTO posts (post_id, author_id, created_at, source_topic, source_partition, source_offset) "
        "VALUES ('{id}', 'a', now(), 'posts', 0, 1)"
    )

    def insert_old(connection: Connection) -> None:
        connection.execute(text(kafka_post.format(id="old")))
        connection.commit()

    await run_sync_on(empty_db, insert_old)
    migrate.upgrade(empty_db, "0005")
    assert await run_sync_on(empty_db, lambda c: c.execute(text("SELECT source FROM posts")).all()) == [
        ("kafka",)
    ]

    def insert(sql: str) -> Any:
        def run(connection: Connection) -> None:
            connection.execute(text(sql))
            connection.commit()

        return run_sync_on(empty_db, run)

    await insert(
        "INSERT INTO posts (post_id, author_id, created_at, source, request_id) VALUES ('api-1', 'k', now(), 'api', 'r1')"
    )
    with pytest.raises(Exception, match="ck_posts_source_shape"):
        await insert(
            "INSERT INTO posts (post_id, author_id, created_at, source) VALUES ('api-2', 'k', now(), 'api')"
        )
    with pytest.raises(Exception, match="ck_posts_source_shape"):
        await insert("INSERT INTO posts (post_id, author_id, created_at) VALUES ('k-2', 'k', now())")
    migrate.downgrade(empty_db, "0004")
    assert await run_sync_on(empty_db, _catalog) == before
    assert await run_sync_on(empty_db, lambda c: c.execute(text("SELECT post_id FROM posts")).all()) == [
        ("old",)
    ]


async def test_migrations_match_tables(migrated_db: str) -> None:
    """Drift test: autogenerate finds nothing to change between head and ``tables.Base.metadata``."""
    assert await run_sync_on(migrated_db, _diff_against_tables) == []


_CATALOG_QUERY = text(
    """
    SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'index', tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT 'column', table_name, column_name,
           concat_ws(' ', data_type, character_maximum_length, is_nullable, column_default)
      FROM information_schema.columns WHERE table_schema = 'public'
    """
)


def _catalog(connection: Connection) -> set[tuple[str, ...]]:
    rows = connection.execute(_CATALOG_QUERY).all()
    return {tuple(row) for row in rows if "alembic_version" not in row[1]}


def _create_all(connection: Connection) -> None:
    Base.metadata.create_all(connection)
    connection.commit()


async def test_migrated_catalog_equals_create_all(migrated_db: str, empty_db: str) -> None:
    """Second drift test, for what autogenerate does not compare: CHECK constraints' SQL, index
    definitions, column defaults. Compares the catalog of head with ``create_all()`` of the tables
    (the one place ``create_all`` is allowed: as the reference for the migration)."""
    await run_sync_on(empty_db, _create_all)
    assert await run_sync_on(migrated_db, _catalog) == await run_sync_on(empty_db, _catalog)


def test_upgrade_accepts_any_postgresql_scheme(empty_db: str) -> None:
    legacy = empty_db.replace("postgresql://", "postgres://", 1)
    migrate.upgrade(legacy)
    assert migrate.current(empty_db.replace("postgresql://", "postgresql+psycopg://", 1)) == migrate.head()
    migrate.upgrade(empty_db)  # already at head: nothing to do, no error
