"""The ``postguard`` command as a user runs it: a subprocess with a controlled environment."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from devtools.embedded import PostgresServer, TansuBroker, free_port
from tests.utils.commands import run_module

REPO = Path(__file__).resolve().parents[2]


def _run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``postguard ARGS`` with no POSTGUARD_* variables from the caller's environment."""
    return run_module("service.cli", *args, env=env, timeout=timeout)


def test_help_lists_commands_and_variables() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for word in (
        "serve",
        "migrate",
        "produce",
        "POSTGUARD_KAFKA_BOOTSTRAP",
        "POSTGUARD_DATABASE_URL",
    ):
        assert word in result.stdout
    assert "demo" not in result.stdout.split("environment variables")[0]  # devtools, not production


def test_missing_configuration_exits_2_naming_the_variable() -> None:
    result = _run("serve")
    assert result.returncode == 2
    assert "POSTGUARD_KAFKA_BOOTSTRAP" in result.stderr
    assert "POSTGUARD_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_exits_2_naming_the_variable() -> None:
    result = _run(
        "serve",
        env={
            "POSTGUARD_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
            "POSTGUARD_DATABASE_URL": "postgresql://u@127.0.0.1/db",
            "POSTGUARD_METRICS_PORT": "not-a-port",
        },
    )
    assert result.returncode == 2
    assert "POSTGUARD_METRICS_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_needs_only_the_database_url() -> None:
    result = _run("migrate")
    assert result.returncode == 2
    assert "POSTGUARD_DATABASE_URL" in result.stderr
    assert "POSTGUARD_KAFKA_BOOTSTRAP" not in result.stderr


@pytest.mark.integration
def test_produce_publishes_valid_lines_keyed_by_post_id(tansu: TansuBroker, tmp_path: Path) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topic = f"produce-{uuid.uuid4().hex[:8]}"
    lines = [
        json.dumps(
            {"post_id": f"p-{i}", "author_id": "u", "text": "hi", "created_at": "2026-01-02T03:04:05Z"}
        )
        for i in range(3)
    ]
    file = tmp_path / "posts.jsonl"
    file.write_text("\n".join([lines[0], "{not json", lines[1], "", lines[2]]) + "\n")

    result = _run("produce", str(file), "--bootstrap", tansu.bootstrap, "--topic", topic)
    assert result.returncode == 1, result.stderr  # one invalid line
    assert "published 3 posts" in result.stderr
    assert ":2: skipped (invalid_json" in result.stderr

    async def read() -> list[Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=tansu.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            records: list[Any] = []
            for _ in range(20):
                for batch in (await consumer.getmany(timeout_ms=300)).values():
                    records.extend(batch)
                if len(records) >= 3:
                    break
            return records
        finally:
            await consumer.stop()

    records = asyncio.run(read())
    assert sorted((r.key, r.value.decode()) for r in records) == sorted(
        (f"p-{i}".encode(), line) for i, line in enumerate(lines)
    )


@pytest.fixture(scope="module")
def model_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """POSTGUARD_MODEL_PATH pointing at a tiny checkpoint unless a trained one is bundled."""
    if (REPO / "models" / "default_checkpoint" / "manifest.json").is_file():
        return {}
    from devtools.testing import build_tiny_checkpoint

    return {"POSTGUARD_MODEL_PATH": str(build_tiny_checkpoint(tmp_path_factory.mktemp("tiny")))}


@pytest.mark.integration
def test_serve_refuses_an_unmigrated_database(
    tansu: TansuBroker, postgres: PostgresServer, model_env: dict[str, str]
) -> None:
    name = f"empty_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    try:
        env = {"POSTGUARD_KAFKA_BOOTSTRAP": tansu.bootstrap, "POSTGUARD_DATABASE_URL": url, **model_env}
        result = _run("serve", env=env)
    finally:
        postgres.drop_database(name)
    assert result.returncode == 1
    assert "postguard migrate" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_serve_exits_0_within_10_s_of_sigterm(
    tansu: TansuBroker, migrated_db: str, model_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    suffix = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGUARD_")}
    env.update(
        POSTGUARD_KAFKA_BOOTSTRAP=tansu.bootstrap,
        POSTGUARD_DATABASE_URL=migrated_db,
        POSTGUARD_INPUT_TOPIC=f"posts-{suffix}",
        POSTGUARD_GROUP_ID=f"group-{suffix}",
        POSTGUARD_METRICS_HOST="127.0.0.1",
        POSTGUARD_METRICS_PORT=str(port),
        POSTGUARD_SESSION_TIMEOUT_MS="2000",
        POSTGUARD_HEARTBEAT_INTERVAL_MS="500",
        **model_env,
    )
    log = tmp_path / "serve.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve"], cwd=REPO, env=env, stderr=log_file, text=True
        )
    try:
        assert _wait_ready(port, process, timeout_s=120), "the service never became ready"
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        code = process.wait(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = log.read_text()
    assert code == 0, stderr[-3000:]
    assert elapsed < 10, f"took {elapsed:.1f} s to stop"
    assert "postguard stopped" in stderr


def _wait_ready(port: int, process: subprocess.Popen[str], timeout_s: float) -> bool:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    return False
