"""``make demo`` as a user runs it: ``python -m devtools.demo`` in a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.utils.commands import run_module

REPO = Path(__file__).resolve().parents[2]


def _run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m devtools.demo ARGS`` with no POSTGUARD_* variables from the caller's environment."""
    return run_module("devtools.demo", *args, env=env, timeout=timeout)


def test_help_and_bad_post_count() -> None:
    assert "--posts" in _run("--help").stdout
    refused = _run("--posts", "0")
    assert refused.returncode == 2
    assert "--posts must be at least 1" in refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_demo_json_end_to_end(tmp_path_factory: pytest.TempPathFactory) -> None:
    from devtools.testing import build_tiny_checkpoint

    env: dict[str, str] = {}
    if not (REPO / "models" / "default_checkpoint" / "manifest.json").is_file():
        # No trained checkpoint in this checkout yet: the demo's plumbing runs on a tiny one.
        env["POSTGUARD_MODEL_PATH"] = str(build_tiny_checkpoint(tmp_path_factory.mktemp("tiny")))
    result = _run("--posts", "30", "--json", env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout)
    assert summary["posts"] == 30
    assert summary["decided"] + summary["dead_lettered"] == 30
    assert summary["dead_lettered"] >= 4
    assert sum(summary["actions"].values()) == summary["decided"]
    assert set(summary["dlq_reasons"]) >= {"invalid_json", "schema_violation", "image_base64_invalid"}
    assert summary["posts_per_s"] > 0
    assert "[demo]" in result.stderr  # progress goes to stderr, stdout is only the JSON
