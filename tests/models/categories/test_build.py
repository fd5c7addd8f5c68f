"""The bundled categories' build: its measurements and report table (the data-reading steps need
../shared/data and run in ``python -m models.categories.build``)."""

from __future__ import annotations

import numpy as np
import pytest

from models.categories.build import format_tables, measure
from models.categories.examples import CategoryExample, first_of_each_text
from models.categories.lookalikes import Lookalike, lookalikes_flagged


def test_measure_counts_recall_false_positives_and_precision_at_the_threshold() -> None:
    scores = np.array([0.9, 0.8, 0.2, 0.7, 0.1, 0.05])
    labels = np.array([1, 1, 1, 0, 0, 0])
    row = measure(scores, labels, 0.5, {"hatexplain": np.array([0.6, 0.1, 0.1, 0.1])})
    assert row["n_positive"] == 3 and row["n_negative"] == 3
    assert row["recall_at_review"] == pytest.approx(2 / 3, abs=1e-4)
    assert row["hard_negative_fpr_at_review"] == pytest.approx(1 / 3, abs=1e-4)
    assert row["precision_at_review"] == pytest.approx(2 / 3, abs=1e-4)
    assert row["benign_fpr_at_review"] == {"hatexplain": 0.25}
    assert row["auroc"] == pytest.approx(8 / 9, abs=1e-4)  # 8 of 9 (positive, negative) pairs ordered


def test_unique_keeps_the_first_copy_of_a_text() -> None:
    examples = [CategoryExample("Win now", 1), CategoryExample("win now", 1), CategoryExample("hi", 0)]
    assert first_of_each_text(examples) == [examples[0], examples[2]]


def test_the_table_has_a_row_per_category_and_the_curve() -> None:
    held = measure(
        np.array([0.9, 0.1]),
        np.array([1, 0]),
        0.5,
        {s: np.array([0.1]) for s in ("hatexplain", "convabuse", "coco")},
    )
    report = {
        "categories": {
            "spam": {
                "review": 0.5,
                "fit": {"positives": 10, "negatives": 12},
                "held_out": held,
                "held_out_sets": {"heldout": held, "dataset_test": held},
                "in_images": {
                    "n": 2,
                    "auroc_image": 1.0,
                    "auroc_caption": 1.0,
                    "recall_at_review_image": 1.0,
                    "recall_at_review_caption": 1.0,
                    "fpr_at_review_image": 0.0,
                },
            }
        },
        "learning_curve": {str(n): {"auroc_mean": 0.9, "auroc_std": 0.01} for n in (20, 50, 200)},
    }
    lookalikes = lookalikes_flagged(
        [Lookalike("free cake at the library", "spam", "free", "promo_ok")], [{"spam": 0.9}], {"spam": 0.5}
    )
    report["lookalikes_flagged"] = {"heldout": lookalikes, "all": lookalikes}
    table = format_tables(report)
    assert "spam (1.0+1.0)" in table and "spam written in images (2 posts" in table
    assert "safe look-alikes, heldout (1 posts) sent to review in any category: 1 (100.0%)" in table
    assert "safe look-alikes, all (1 posts)" in table
    assert "20 → 0.900 ± 0.010" in table
