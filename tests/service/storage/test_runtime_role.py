"""The runtime role cannot remove or rewrite audit rows by any route (real PostgreSQL).

With one role for everything, the service owns ``audit_log`` and can ``ALTER TABLE ... DISABLE
TRIGGER`` and then delete rows: the append-only trigger protects against mistakes, not against
the role. ``postguard migrate`` with ``POSTGUARD_DATABASE_RUNTIME_ROLE`` runs as the owner and
grants the runtime role SELECT/INSERT/UPDATE, and only SELECT/INSERT on ``audit_log``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from devtools.embedded import PostgresServer
from service.review.audit import record_service_versions
from service.review.auth import add_moderator
from service.storage.database import create_engine_from_url, session_factory
from tests.utils.review import claim_and_resolve, seed_items

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Roles:
    owner_url: str
    runtime_url: str
    runtime: str


def _as(url: str, role: str) -> str:
    return url.replace("postgres@", f"{role}@", 1)


def _make_roles(postgres: PostgresServer) -> Iterator[Roles]:
    suffix = uuid.uuid4().hex[:8]
    owner, runtime, name = f"owner_{suffix}", f"app_{suffix}", f"roles_{suffix}"
    url = postgres.create_database(name)

    async def admin(*statements: str) -> None:
        connection = await asyncpg.connect(postgres.url)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(
        admin(
            f"CREATE ROLE {owner} LOGIN",
            f"CREATE ROLE {runtime} LOGIN",
            f'ALTER DATABASE "{name}" OWNER TO {owner}',
        )
    )
    try:
        yield Roles(owner_url=_as(url, owner), runtime_url=_as(url, runtime), runtime=runtime)
    finally:
        postgres.drop_database(name)
        asyncio.run(admin(f"DROP ROLE IF EXISTS {runtime}", f"DROP ROLE IF EXISTS {owner}"))


def _migrate(url: str, runtime_role: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGUARD_")}
    env["POSTGUARD_DATABASE_URL"] = url
    if runtime_role:
        env["POSTGUARD_DATABASE_RUNTIME_ROLE"] = runtime_role
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "migrate"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def roles(postgres: PostgresServer) -> Iterator[Roles]:
    """A fresh database owned by a fresh owner role, and a runtime role (not migrated yet)."""
    yield from _make_roles(postgres)


@pytest.fixture(scope="module")
def granted(postgres: PostgresServer) -> Iterator[Roles]:
    """One database migrated by its owner with the runtime role granted (shared by the module)."""
    for made in _make_roles(postgres):
        done = _migrate(made.owner_url, made.runtime)
        assert done.returncode == 0, done.stderr
        assert f"granted the runtime role {made.runtime}" in done.stderr
        yield made


@pytest.fixture
async def runtime_connection(granted: Roles) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(granted.runtime_url)
    try:
        yield connection
    finally:
        await connection.close()


ROUTES = [
    "DELETE FROM audit_log",
    "UPDATE audit_log SET action = 'nothing happened'",
    "TRUNCATE audit_log",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
    "DROP TRIGGER audit_log_no_update_delete ON audit_log",
    "DROP TABLE audit_log",
    "ALTER TABLE audit_log RENAME TO audit_log_old",
    "ALTER TABLE audit_log OWNER TO CURRENT_USER",
    "SET session_replication_role = replica",
    "DROP FUNCTION audit_log_append_only() CASCADE",
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$",
]


@pytest.mark.parametrize("statement", ROUTES)
async def test_the_runtime_role_cannot_remove_or_rewrite_audit_rows(
    runtime_connection: asyncpg.Connection, statement: str
) -> None:
    await runtime_connection.execute(
        "INSERT INTO audit_log (actor, action, entity_type, entity_id) VALUES ('system', 'probe', 'test', '1')"
    )
    before = await runtime_connection.fetchval("SELECT count(*) FROM audit_log")
    with pytest.raises(asyncpg.PostgresError):
        await runtime_connection.execute(statement)
    assert await runtime_connection.fetchval("SELECT count(*) FROM audit_log") == before >= 1


async def test_the_runtime_role_runs_the_whole_workflow(
    granted: Roles, runtime_connection: asyncpg.Connection
) -> None:
    engine = create_engine_from_url(granted.runtime_url)
    try:
        sessions = session_factory(engine)
        await record_service_versions(sessions=sessions, model_version="m-1", policy_version="p-1")
        await add_moderator(sessions=sessions, username="alice", password="a long enough password")
        await seed_items(sessions, 2)
        await claim_and_resolve(sessions, "alice", action="block", labels={}, verdicts_topic="v")
    finally:
        await engine.dispose()
    actions = {r["action"] for r in await runtime_connection.fetch("SELECT action FROM audit_log")}
    assert {"moderator_added", "claim", "resolve"} <= actions


async def test_the_owner_can_disable_the_trigger_which_is_why_the_service_must_not_be_it(
    roles: Roles,
) -> None:
    done = await asyncio.to_thread(_migrate, roles.owner_url, None)
    assert done.returncode == 0 and "POSTGUARD_DATABASE_RUNTIME_ROLE is not set" in done.stderr
    owner = await asyncpg.connect(roles.owner_url)
    try:
        await owner.execute(
            "INSERT INTO audit_log (actor, action, entity_type, entity_id) VALUES ('a', 'b', 'c', 'd')"
        )
        await owner.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
        await owner.execute("DELETE FROM audit_log")
        assert await owner.fetchval("SELECT count(*) FROM audit_log") == 0
    finally:
        await owner.close()


def test_migrate_refuses_a_missing_runtime_role_or_the_owner_itself(roles: Roles) -> None:
    missing = _migrate(roles.owner_url, "nobody_here")
    assert missing.returncode == 2 and "the runtime role 'nobody_here' does not exist" in missing.stderr
    owner_role = roles.owner_url.split("//", 1)[1].split("@", 1)[0]
    itself = _migrate(roles.owner_url, owner_role)
    assert itself.returncode == 2 and "the runtime role itself" in itself.stderr
