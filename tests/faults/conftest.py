"""Fixtures of the fault-injection tests: the tiny checkpoint, and service processes cleaned up after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.embedded import PostgresServer, TansuBroker, start_postgres, start_tansu

from .harness import ServiceProcess, Topics, service_env


@pytest.fixture(scope="session")
def serve_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight checkpoint of the real architecture (fast to load and to score)."""
    from devtools.testing import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("serve-checkpoint"))


SpawnService = Callable[..., ServiceProcess]


@pytest.fixture
def spawn_service(serve_checkpoint: Path, tmp_path: Path) -> Iterator[SpawnService]:
    """``spawn_service(name, bootstrap=, database_url=, topics=, **settings)`` starts ``postguard serve``.

    Every process started is stopped (SIGTERM, then SIGKILL) after the test.
    """
    started: list[ServiceProcess] = []

    def spawn(
        name: str, *, bootstrap: str, database_url: str, topics: Topics, **settings: object
    ) -> ServiceProcess:
        env = service_env(
            bootstrap=bootstrap,
            database_url=database_url,
            checkpoint=serve_checkpoint,
            topics=topics,
            **settings,
        )
        service = ServiceProcess(name, env, tmp_path / f"{name}.log")
        service.start()
        started.append(service)
        return service

    yield spawn
    for service in started:
        service.stop()


@pytest.fixture
def own_tansu() -> Iterator[TansuBroker]:
    """A broker of this test's own, for tests that restart it (the session broker stays untouched)."""
    with start_tansu() as broker:
        yield broker


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, for tests that stop it."""
    with start_postgres() as server:
        yield server
