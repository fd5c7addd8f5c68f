"""The policy-coverage targets are read from the reports that measured them, for the bundle shipped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.categories.bundle import save_category
from models.categories.examples import CategoryExample
from models.categories.head import CategoryHead
from models.category_targets import category_targets


def _bundle(directory: Path) -> str:
    head = CategoryHead("spam", np.zeros(4, dtype=np.float32), 0.0, 0.5, 0.9)
    return save_category(directory, head, [CategoryExample("x", 1)], encoder_fingerprint="tower-a")


def _held(auroc: float, fpr: float = 0.004) -> dict[str, Any]:
    return {"auroc": auroc, "benign_fpr_at_review": {"hatexplain": fpr, "convabuse": 0.0, "coco": 0.0}}


def _reports(directory: Path, version: str, *, violence_auroc: float = 0.93) -> tuple[Path, Path]:
    categories = {
        name: {"held_out": _held(0.95), "held_out_sets": {"heldout": _held(0.95)}}
        for name in ("self_harm", "sexual")
    }
    categories["violence"] = {
        "held_out": _held(violence_auroc, 0.03),
        "held_out_sets": {"heldout": _held(violence_auroc)},
    }
    categories["spam"] = {"held_out_sets": {"dataset_test": _held(0.985)}, "in_images": {"auroc_image": 0.95}}
    category_report = directory / "categories.json"
    category_report.write_text(json.dumps({"bundle_version": version, "categories": categories}))
    nsfw_report = directory / "nsfw.json"
    nsfw_report.write_text(
        json.dumps({"sets": {"coco": {"flagged_at_review": 0.0}, "ood": {"flagged_at_review": 0.01}}})
    )
    return category_report, nsfw_report


def test_each_target_is_checked_against_what_was_measured(tmp_path: Path) -> None:
    version = _bundle(tmp_path / "bundle")
    categories, nsfw = _reports(tmp_path, version, violence_auroc=0.88)
    targets = category_targets(
        tmp_path / "bundle", encoder_fingerprint="tower-a", categories_report=categories, nsfw_report=nsfw
    )
    met = {name: verdict["met"] for name, verdict in targets.items()}
    assert met == {
        "spam_held_out_auroc": True,
        "spam_in_images_auroc": True,
        "text_categories_worst_held_out_auroc": False,  # violence 0.88
        "text_categories_worst_benign_fpr": False,  # violence flags 3 % of HateXplain
        "nsfw_worst_benign_image_set_flag_rate": False,  # 1 % of the ood set
    }
    assert targets["text_categories_worst_held_out_auroc"]["measured"] == pytest.approx(0.88)
    assert targets["spam_held_out_auroc"]["source"] == "categories.json"


def test_a_report_of_another_bundle_or_tower_is_not_measured_with_the_reason(tmp_path: Path) -> None:
    version = _bundle(tmp_path / "bundle")
    categories, nsfw = _reports(tmp_path, "categories-0000000000")
    stale = category_targets(tmp_path / "bundle", categories_report=categories, nsfw_report=nsfw)
    assert stale["spam_held_out_auroc"]["met"] is None and stale["spam_held_out_auroc"]["measured"] is None
    assert f"the bundle is {version}" in stale["spam_held_out_auroc"]["note"]
    assert stale["nsfw_worst_benign_image_set_flag_rate"]["met"] is False  # open_nsfw does not depend on it
    categories, nsfw = _reports(tmp_path, version)
    other = category_targets(
        tmp_path / "bundle", encoder_fingerprint="tower-b", categories_report=categories, nsfw_report=nsfw
    )
    assert (
        other["spam_in_images_auroc"]["met"] is None
        and "another text tower" in other["spam_in_images_auroc"]["note"]
    )
    missing = category_targets(
        tmp_path / "bundle", categories_report=tmp_path / "none.json", nsfw_report=tmp_path / "none2.json"
    )
    assert all(verdict["met"] is None for verdict in missing.values())
    assert "python -m models.nsfw_check" in missing["nsfw_worst_benign_image_set_flag_rate"]["note"]


def test_the_committed_report_holds_the_shipped_bundles_targets() -> None:
    """models/eval/report.json's category targets are a fresh check of the shipped bundle's
    reports (refreshed with ``python -m models.evaluate --categories-only``)."""
    from models.categories.embedding import CategoryEmbedder
    from models.checkpoint import load_checkpoint
    from models.inference import DEFAULT_CATEGORIES, DEFAULT_CHECKPOINT

    report = json.loads((Path(__file__).parents[2] / "models" / "eval" / "report.json").read_text())
    model, processor, _ = load_checkpoint(DEFAULT_CHECKPOINT)
    fresh = category_targets(
        DEFAULT_CATEGORIES, encoder_fingerprint=CategoryEmbedder.for_checkpoint(model, processor).fingerprint
    )
    assert fresh == report["category_targets"]
    assert all(verdict["met"] is not None for verdict in fresh.values())  # measured, not stale
