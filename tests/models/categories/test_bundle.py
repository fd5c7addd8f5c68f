from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.categories.bundle import (
    BundleError,
    bundle_examples,
    check_name,
    copy_bundle,
    load_bundle,
    remove_category,
    save_category,
)
from models.categories.examples import CategoryExample
from models.categories.head import CategoryHead

DIM = 8


def _head(name: str, scale: float = 1.0) -> CategoryHead:
    weight = np.arange(DIM, dtype=np.float32) * scale
    return CategoryHead(name, weight, -0.5, 0.6, 0.9, {"description": f"{name} posts"})


EXAMPLES = [CategoryExample("a spam post", 1), CategoryExample("a normal post", 0)]


def test_save_then_load_round_trips_heads_thresholds_and_examples(tmp_path: Path) -> None:
    save_category(tmp_path, _head("spam"), EXAMPLES, encoder_fingerprint="f1")
    version = save_category(tmp_path, _head("crypto_scam", 2.0), EXAMPLES, encoder_fingerprint="f1")
    bundle = load_bundle(tmp_path, encoder_fingerprint="f1", dim=DIM)
    assert bundle.names == ("crypto_scam", "spam") and bundle.version == version
    assert version.startswith("categories-") and len(version) == len("categories-") + 10
    spam = bundle.heads[1]
    np.testing.assert_array_equal(spam.weight, _head("spam").weight)
    assert (spam.bias, spam.review, spam.block) == (-0.5, 0.6, 0.9)
    assert spam.card["description"] == "spam posts"
    assert bundle_examples(tmp_path, "spam") == EXAMPLES
    features = np.ones((2, DIM), dtype=np.float32)
    np.testing.assert_allclose(bundle.score(features)[:, 1], spam.score(features), rtol=1e-6)


def test_the_version_follows_the_content(tmp_path: Path) -> None:
    first = save_category(tmp_path / "a", _head("spam"), EXAMPLES, encoder_fingerprint="f1")
    again = save_category(tmp_path / "b", _head("spam"), EXAMPLES, encoder_fingerprint="f1")
    changed = save_category(tmp_path / "b", _head("spam", 3.0), EXAMPLES, encoder_fingerprint="f1")
    assert first == again != changed


def test_a_damaged_or_missing_file_is_refused(tmp_path: Path) -> None:
    save_category(tmp_path, _head("spam"), EXAMPLES, encoder_fingerprint="f1")
    card = tmp_path / "spam" / "card.json"
    data = json.loads(card.read_text())
    data["review"] = 0.01
    card.write_text(json.dumps(data))
    with pytest.raises(BundleError, match="damaged"):
        load_bundle(tmp_path)
    card.unlink()
    with pytest.raises(BundleError, match="missing"):
        load_bundle(tmp_path)


def test_heads_fit_on_another_tower_are_refused(tmp_path: Path) -> None:
    save_category(tmp_path, _head("spam"), EXAMPLES, encoder_fingerprint="f1")
    with pytest.raises(BundleError, match="fit on another text tower"):
        load_bundle(tmp_path, encoder_fingerprint="f2")
    with pytest.raises(BundleError, match="another text tower"):
        save_category(tmp_path, _head("more"), EXAMPLES, encoder_fingerprint="f2")
    with pytest.raises(BundleError, match=r"\(8,\) weights, the text tower gives \(4,\)"):
        load_bundle(tmp_path, encoder_fingerprint="f1", dim=4)


def test_remove_and_copy(tmp_path: Path) -> None:
    source = tmp_path / "source"
    save_category(source, _head("spam"), EXAMPLES, encoder_fingerprint="f1")
    save_category(source, _head("scam"), EXAMPLES, encoder_fingerprint="f1")
    copy_bundle(source, tmp_path / "copy")
    remove_category(tmp_path / "copy", "scam")
    assert load_bundle(tmp_path / "copy").names == ("spam",)
    assert load_bundle(source).names == ("scam", "spam")
    with pytest.raises(BundleError, match="has no category 'nope'"):
        remove_category(source, "nope")
    with pytest.raises(BundleError, match="not empty"):
        copy_bundle(source, tmp_path / "copy")


def test_not_a_bundle(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "absent")
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_bundle(tmp_path)


@pytest.mark.parametrize("name", ["Spam", "1spam", "s", "spam-scam", "x" * 41])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(BundleError, match="must be 2-40 characters"):
        check_name(name)


def test_a_checkpoint_category_cannot_be_redefined() -> None:
    with pytest.raises(BundleError, match="already scored by the checkpoint"):
        check_name("hate", reserved=("hate", "offensive"))
