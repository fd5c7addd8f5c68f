"""``postguard categories`` as a user runs it (a subprocess; the tiny checkpoint keeps it fast)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.testing import build_tiny_checkpoint
from models.categories.bundle import BundleError, load_bundle
from models.inference import DEFAULT_CATEGORIES, Moderator

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POSTGUARD_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "categories", *args],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


def _examples(path: Path, positives: int = 24) -> Path:
    lines = [{"text": f"win a free phone now, text {i} to claim", "label": 1} for i in range(positives)]
    lines += [{"text": f"see you at practice on day {i}", "label": 0} for i in range(20)]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    return path


def test_the_taxonomy_lists_every_category_with_its_mapping() -> None:
    result = _run("--help")
    assert result.returncode == 0
    listing = _run("list", "--json")
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in map(json.loads, listing.stdout.splitlines())}
    assert list(rows) == ["hate", "offensive", "toxic", *load_bundle(DEFAULT_CATEGORIES).names]
    assert rows["self_harm"]["from"] == "examples" and "self-harm/intent" in rows["self_harm"]["openai"]
    assert rows["hate"]["policy"] is not None and rows["hate"]["from"] == "checkpoint"
    assert rows["sexual"]["azure"] == ["Sexual"] and rows["violence"]["cv_auroc"] > 0.5
    table = _run()
    assert table.returncode == 0 and "self_harm" in table.stdout and "OpenAI" in table.stdout


def test_add_extends_a_new_bundle_and_the_service_settings_read_it(tiny_model: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    env = {"POSTGUARD_MODEL_PATH": str(tiny_model), "POSTGUARD_CATEGORIES_PATH": str(bundle)}
    added = _run("add", "phone_scam", "--examples", str(_examples(tmp_path / "e.jsonl")), "--empty", env=env)
    assert added.returncode == 0, added.stderr
    assert "[categories.phone_scam]\nreview = " in added.stdout
    assert "embedding 44 examples" in added.stderr
    assert load_bundle(bundle).names == ("phone_scam",)
    listing = _run("list", "--json", env=env)
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert rows[-1]["name"] == "phone_scam" and rows[-1]["policy"] is None  # not in the policy yet
    removed = _run("remove", "phone_scam", env=env)
    assert removed.returncode == 0 and load_bundle(bundle).names == ()


def test_user_errors_exit_2_with_a_message(tiny_model: Path, tmp_path: Path) -> None:
    env = {"POSTGUARD_MODEL_PATH": str(tiny_model)}
    examples = _examples(tmp_path / "e.jsonl")
    no_bundle = _run("add", "phone_scam", "--examples", str(examples), env=env)
    assert no_bundle.returncode == 2 and "bundled categories are read-only" in no_bundle.stderr
    bundled = _run(
        "add", "phone_scam", "--examples", str(examples), "--bundle", str(DEFAULT_CATEGORIES), env=env
    )
    assert bundled.returncode == 2 and "read-only" in bundled.stderr
    bundle = ["--bundle", str(tmp_path / "b")]
    few = _run("add", "phone_scam", "--examples", str(_examples(tmp_path / "few.jsonl", 5)), *bundle, env=env)
    assert few.returncode == 2 and "5 positive examples" in few.stderr
    clash = _run("add", "hate", "--examples", str(examples), *bundle, env=env)
    assert clash.returncode == 2 and "already scored by the checkpoint" in clash.stderr
    missing = _run("add", "phone_scam", "--examples", str(tmp_path / "nope.jsonl"), *bundle, env=env)
    assert missing.returncode == 2 and "examples file not found" in missing.stderr


def test_refit_moves_a_bundle_onto_a_retrained_checkpoint(tiny_model: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    env = {"POSTGUARD_MODEL_PATH": str(tiny_model), "POSTGUARD_CATEGORIES_PATH": str(bundle)}
    added = _run("add", "phone_scam", "--examples", str(_examples(tmp_path / "e.jsonl")), "--empty", env=env)
    assert added.returncode == 0, added.stderr
    before = load_bundle(bundle)
    retrained = build_tiny_checkpoint(tmp_path / "retrained", seed=1)  # other tower weights
    env["POSTGUARD_MODEL_PATH"] = str(retrained)
    refused = _run("add", "other_scam", "--examples", str(_examples(tmp_path / "o.jsonl")), env=env)
    assert refused.returncode == 2 and "postguard categories refit" in refused.stderr
    refit = _run("refit", env=env)
    assert refit.returncode == 0, refit.stderr
    assert "refitting 'phone_scam'" in refit.stderr and "[categories.phone_scam]\nreview = " in refit.stdout
    after = load_bundle(bundle)
    assert after.names == ("phone_scam",) and after.encoder_fingerprint != before.encoder_fingerprint
    assert after.version != before.version
    assert Moderator.load(retrained, categories=bundle).labels[-1] == "phone_scam"
    with pytest.raises(BundleError, match="categories refit"):
        Moderator.load(tiny_model, categories=bundle)


def test_a_new_bundle_on_another_checkpoint_starts_with_the_bundled_categories_refit(
    tiny_model: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    env = {"POSTGUARD_MODEL_PATH": str(tiny_model), "POSTGUARD_CATEGORIES_PATH": str(bundle)}
    added = _run("add", "phone_scam", "--examples", str(_examples(tmp_path / "e.jsonl")), env=env)
    assert added.returncode == 0, added.stderr
    assert "refitting them" in added.stderr
    assert load_bundle(bundle).names == tuple(sorted((*load_bundle(DEFAULT_CATEGORIES).names, "phone_scam")))
    assert Moderator.load(tiny_model, categories=bundle).labels[-5:] == load_bundle(bundle).names


def test_refit_into_a_new_directory_starts_from_the_bundled_categories(
    tiny_model: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "refit"
    refit = _run("refit", "--bundle", str(bundle), env={"POSTGUARD_MODEL_PATH": str(tiny_model)})
    assert refit.returncode == 0, refit.stderr
    assert "a copy of the bundled categories" in refit.stderr
    assert load_bundle(bundle).names == load_bundle(DEFAULT_CATEGORIES).names
    assert Moderator.load(tiny_model, categories=bundle).labels[3:] == load_bundle(bundle).names
