"""``postguard api-keys`` and ``postguard api`` as a user runs them: subprocesses, the bundled model."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from devtools.embedded import free_port
from tests.service.api.conftest import query
from tests.utils.commands import REPO, run_module

pytestmark = pytest.mark.integration


def _postguard(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_module("service.cli", *args, env={"POSTGUARD_DATABASE_URL": database_url, **env})


def test_keys_are_created_listed_and_revoked(migrated_db: str) -> None:
    created = _postguard(migrated_db, "api-keys", "create", "team-a", "--rate-limit", "30")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("pgk_") and "shown once" in created.stderr
    # Stored as its hash and shown prefix only.
    assert query(migrated_db, "SELECT key_sha256, key_prefix FROM api_keys") == [
        (hashlib.sha256(key.encode()).hexdigest(), key[:12])
    ]

    again = _postguard(migrated_db, "api-keys", "create", "team-a")
    assert again.returncode == 1 and "exists already" in again.stderr

    listed = _postguard(migrated_db, "api-keys", "list", "--json")
    assert (
        listed.returncode == 0
        and key[:12] in listed.stdout
        and '"rate_limit_per_minute": 30' in listed.stdout
    )
    assert key not in listed.stdout

    revoked = _postguard(migrated_db, "api-keys", "revoke", "team-a")
    assert revoked.returncode == 0 and key[:12] in revoked.stderr
    assert "revoked" in _postguard(migrated_db, "api-keys", "list").stdout
    missing = _postguard(migrated_db, "api-keys", "revoke", "nobody")
    assert missing.returncode == 1 and "no key named 'nobody'" in missing.stderr


def test_anonymous_access_off_loopback_is_a_configuration_error(migrated_db: str) -> None:
    result = _postguard(migrated_db, "api", "--host", "0.0.0.0", POSTGUARD_API_ALLOW_ANONYMOUS="true")
    assert result.returncode == 2
    assert "POSTGUARD_API_ALLOW_ANONYMOUS" in result.stderr and "loopback" in result.stderr


@pytest.fixture
def api_process(migrated_db: str, tmp_path: Path) -> Iterator[str]:
    """``postguard api`` with the bundled model and policy, anonymous trials on, on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGUARD_")}
    env.update(
        POSTGUARD_DATABASE_URL=migrated_db,
        POSTGUARD_API_ALLOW_ANONYMOUS="true",
        POSTGUARD_API_PORT=str(port),
    )
    log = (tmp_path / "api.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "api"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "api.log").read_text()
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "postguard api was not ready within 120 s"
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        assert process.wait(30) == 0, (tmp_path / "api.log").read_text()
        log.close()


def test_the_bundled_model_judges_through_the_api(api_process: str, migrated_db: str) -> None:
    with OpenAI(base_url=f"{api_process}/v1", api_key="unused-for-trials", max_retries=0) as client:
        hateful, benign = client.moderations.create(
            input=[
                "Immigrants are filthy vermin and should all be exterminated.",
                "We had a lovely picnic in the park with the kids today.",
            ]
        ).results
    assert hateful.flagged and hateful.categories.hate and hateful.category_scores.hate > 0.5
    assert not benign.flagged and benign.category_scores.hate < 0.5
    stored = query(
        migrated_db,
        "SELECT p.author_id, d.action FROM posts p JOIN decisions d USING (post_id) WHERE p.source = 'api' ORDER BY p.post_id",
    )
    assert stored == [("anonymous", hateful.model_extra["postguard"]["action"]), ("anonymous", "allow")]  # type: ignore[index]
