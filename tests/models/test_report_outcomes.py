"""Per-post outcomes beside a report (models/report_outcomes.py): round trip, fingerprint, errors."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_target_intervals import outcomes

from models.report_outcomes import (
    OutcomesError,
    load_outcomes,
    outcomes_path,
    posts_fingerprint,
    save_outcomes,
)
from models.target_intervals import VariantOutcomes


def assert_same(a: VariantOutcomes, b: VariantOutcomes) -> None:
    for field in fields(VariantOutcomes):
        left, right = getattr(a, field.name), getattr(b, field.name)
        if left is None or right is None:
            assert left is right, field.name
        elif isinstance(left, tuple):
            assert all(np.array_equal(x, y) for x, y in zip(left, right, strict=True)), field.name
        elif isinstance(left, dict):
            assert left.keys() == right.keys(), field.name
            for key in left:
                pair = isinstance(left[key], tuple)
                got, want = (right[key], left[key]) if pair else ((right[key],), (left[key],))
                assert all(np.array_equal(x, y) for x, y in zip(want, got, strict=True)), (field.name, key)
        else:
            assert np.array_equal(left, right) and left.dtype.kind == right.dtype.kind, field.name


def test_outcomes_round_trip_every_variant_and_the_fingerprint(tmp_path: Path) -> None:
    saved = {"concat": outcomes(), "attention": outcomes(image_flagged=np.zeros(150, dtype=bool))}
    path = outcomes_path(tmp_path / "report.json")
    assert path.name == "report.outcomes.npz"
    save_outcomes(path, saved, "abc123")
    loaded, fingerprint = load_outcomes(path)
    assert fingerprint == "abc123"
    assert loaded.keys() == saved.keys()
    for name in saved:
        assert_same(saved[name], loaded[name])
    assert loaded["concat"].functionalities.dtype.kind == "U"  # strings, not pickled objects


def test_outcomes_written_before_the_misspelling_check_load_without_it(tmp_path: Path) -> None:
    path = tmp_path / "old.outcomes.npz"
    save_outcomes(path, {"concat": VariantOutcomes(**{**outcomes().__dict__, "misspelt": None})}, "f")
    loaded, _ = load_outcomes(path)
    assert loaded["concat"].misspelt is None


def test_the_fingerprint_changes_with_any_post_and_with_the_set_it_is_in() -> None:
    base = posts_fingerprint({"a": ["x", "y"], "b": ["z"]})
    assert base == posts_fingerprint({"b": iter(["z"]), "a": ("x", "y")})  # order of sets does not matter
    assert base != posts_fingerprint({"a": ["x", "y2"], "b": ["z"]})
    assert base != posts_fingerprint({"a": ["x"], "b": ["y", "z"]})
    assert base != posts_fingerprint({"a": ["xy"], "b": ["z"]})


def test_missing_or_foreign_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(OutcomesError, match="no per-post outcomes"):
        load_outcomes(tmp_path / "none.outcomes.npz")
    garbage = tmp_path / "garbage.outcomes.npz"
    garbage.write_text("not numpy")
    with pytest.raises(OutcomesError, match="not an outcomes file"):
        load_outcomes(garbage)
    other = tmp_path / "other.outcomes.npz"
    np.savez(other, format=np.array(99), fingerprint=np.array("f"))
    with pytest.raises(OutcomesError, match="format 1"):
        load_outcomes(other)
    partial = tmp_path / "partial.outcomes.npz"
    arrays: dict[str, Any] = {
        "format": np.array(1),
        "fingerprint": np.array("f"),
        "concat|coco_flagged": np.zeros(3),
    }
    np.savez(partial, **arrays)
    with pytest.raises(OutcomesError, match="incomplete outcomes"):
        load_outcomes(partial)


def test_the_bundled_reports_outcomes_reproduce_its_targets() -> None:
    """models/eval/report.outcomes.npz is the bundled report's own: same posts, same numbers (so a
    retrain's report can be compared with it by paired intervals)."""
    import json

    from models.target_intervals import target_evidence

    report_path = Path(__file__).parents[2] / "models" / "eval" / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    loaded, fingerprint = load_outcomes(outcomes_path(report_path))
    assert fingerprint == report["posts_fingerprint"]
    assert report["checkpoint"]["variant"] in loaded
    evidence = target_evidence(loaded, report["checkpoint"]["variant"])
    assert evidence.keys() == {name for name, v in report["targets"].items() if "interval_95" in v}
    for name, item in evidence.items():
        assert item.point() == pytest.approx(report["targets"][name]["measured"], abs=1e-9), name
