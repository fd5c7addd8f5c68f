"""The API under uvicorn on a loopback port, on a real migrated PostgreSQL, with the tiny checkpoint.

The policy sends every post to review (``hate`` review threshold 0): the tiny checkpoint's scores
are random, and these tests are about the API, not the model's judgement
(tests/service/api/test_api_cli.py runs the real model).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools.embedded import PostgresServer, free_port
from service.moderation.policy import LanguageRule, Policy, Thresholds
from service.settings import DatabaseSettings, load_settings
from service.storage.migrate import upgrade

POLICY = Policy(
    version="api-test-1",
    categories={
        "hate": Thresholds(0.0, 1.0),
        "offensive": Thresholds(1.0, 1.0),
        "toxic": Thresholds(1.0, 1.0),
    },
    # as the packaged policy: posts clearly in another language go to review, with a language rule
    languages=LanguageRule(supported=("en",), other="review"),
)


@dataclass
class RunningApi:
    url: str
    database_url: str
    settings: DatabaseSettings


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from devtools.testing import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("api-checkpoint"))


@pytest.fixture(scope="module")
def api_database(postgres: PostgresServer) -> Iterator[str]:
    name = f"api_{uuid.uuid4().hex[:16]}"
    url = postgres.create_database(name)
    upgrade(url)
    yield url
    postgres.drop_database(name)


def _serve(settings: DatabaseSettings, port: int, ready: threading.Event, holder: dict[str, Any]) -> None:
    import uvicorn

    from service.api.server import build_api
    from service.moderation.scoring import load_scorer
    from service.storage.database import create_engine_from_url, session_factory

    async def main() -> None:
        engine = create_engine_from_url(settings.database_url.get_secret_value())
        scorer = load_scorer(settings)
        app = build_api(settings, scorer=scorer, policy=POLICY, sessions=session_factory(engine))
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        )
        holder["server"] = server
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():  # noqa: ASYNC110 - uvicorn offers no started event
            await asyncio.sleep(0.02)
        ready.set()
        await task
        await engine.dispose()

    try:
        asyncio.run(main())
    finally:
        ready.set()


@pytest.fixture(scope="module")
def running_api(tiny_checkpoint: Path, api_database: str) -> Iterator[RunningApi]:
    settings = load_settings(
        DatabaseSettings,
        database_url=api_database,
        model_path=tiny_checkpoint,
        categories_enabled=False,
        nsfw_enabled=False,
        image_fetch_enabled=True,  # so that the SSRF policy, not the switch, refuses internal URLs
        api_max_request_bytes=256 * 1024,
        api_max_inputs=4,
        api_rate_limit_per_minute=10_000,
    )
    port = free_port()
    ready = threading.Event()
    holder: dict[str, Any] = {}
    thread = threading.Thread(target=_serve, args=(settings, port, ready, holder), daemon=True)
    thread.start()
    assert ready.wait(60), "the API did not start within 60 s"
    server = holder.get("server")
    assert server is not None and server.started, "the API failed to start (see the log above)"
    yield RunningApi(f"http://127.0.0.1:{port}", api_database, settings)
    server.should_exit = True
    thread.join(15)


def wait_until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def make_key(database_url: str, name: str, rate_limit: int | None = None) -> str:
    """A new API key stored in ``database_url`` (what ``postguard api-keys create`` does)."""
    from service.api.keys import hash_key, new_key, shown_prefix
    from service.storage.api_records import create_api_key
    from service.storage.database import create_engine_from_url, session_factory

    key = new_key()

    async def create() -> None:
        engine = create_engine_from_url(database_url)
        try:
            created = await create_api_key(
                sessions=session_factory(engine),
                name=name,
                key_prefix=shown_prefix(key),
                key_sha256=hash_key(key),
                rate_limit_per_minute=rate_limit,
            )
            assert created is not None, f"key name {name} taken"
        finally:
            await engine.dispose()

    asyncio.run(create())
    return key


def query(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` (tests read what the API stored)."""
    from sqlalchemy import Connection, text

    from tests.utils.db import run_sync_on

    def run(connection: Connection) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in connection.execute(text(sql), params)]

    return asyncio.run(run_sync_on(database_url, run))
