"""Metric helpers used for threshold tuning and evaluation (models/metrics.py).

Named test_classification_metrics.py, not test_metrics.py: tests/service/observability/test_metrics.py exists and
test modules are imported by basename (the test folders are not packages).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.metrics import (
    auroc,
    best_f1_threshold,
    best_three_class_threshold,
    false_positive_rate_at,
    macro_f1_at,
    precision_at,
    prevalence_weights,
    recall_at,
    recall_at_negative_rate,
    three_class,
    three_class_cut,
    three_class_report,
    threshold_for_fpr,
)


def test_auroc() -> None:
    assert math.isnan(auroc(np.array([1, 1, 1]), np.array([0.1, 0.5, 0.9])))
    assert math.isnan(auroc(np.array([0, 0]), np.array([0.1, 0.5])))
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auroc(np.array([0, 0, 1, 1]), np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert auroc(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.5, 0.8])) == 0.75


def test_auroc_is_sklearns_to_float_precision() -> None:
    """The rank formula is sklearn's value, with ties (rounded scores) and float labels too."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    for size in (2, 9, 500):
        labels = rng.integers(0, 2, size)
        labels[:2] = (0, 1)
        scores = np.round(rng.random(size), 2)
        expected = roc_auc_score(labels, scores)
        assert auroc(labels, scores) == pytest.approx(expected, abs=1e-12)
        assert auroc(labels.astype(np.float32), scores) == pytest.approx(expected, abs=1e-12)


def test_auroc_refuses_labels_other_than_0_and_1() -> None:
    with pytest.raises(ValueError, match="labels of 0 and 1"):
        auroc(np.array([0, 1, 2]), np.array([0.1, 0.5, 0.9]))


def test_best_f1_threshold_separates_a_separable_set() -> None:
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.05, 0.2, 0.31, 0.62, 0.9])
    threshold = best_f1_threshold(labels, scores)
    assert 0.31 < threshold <= 0.62
    assert macro_f1_at(labels, scores, threshold) == 1.0


def test_best_f1_threshold_stays_on_its_grid() -> None:
    labels = np.array([0, 1])
    assert 0.05 <= best_f1_threshold(labels, np.array([0.0, 0.01])) <= 0.95
    assert best_f1_threshold(labels, np.array([0.98, 0.99])) == 0.05  # everything positive is best


def test_rates_at_a_threshold() -> None:
    labels = np.array([0, 0, 1, 1])
    scores = np.array([0.1, 0.7, 0.4, 0.9])
    assert recall_at(labels, scores, 0.5) == 0.5
    assert false_positive_rate_at(labels, scores, 0.5) == 0.5
    assert math.isnan(recall_at(np.array([0, 0]), np.array([0.1, 0.9]), 0.5))
    assert math.isnan(false_positive_rate_at(np.array([1, 1]), np.array([0.1, 0.9]), 0.5))
    assert macro_f1_at(labels, scores, 0.5) == pytest.approx(0.5)


def test_three_class_mapping() -> None:
    hate = np.array([0.9, 0.9, 0.2, 0.5, 0.1])
    offensive = np.array([0.1, 0.1, 0.8, 0.5, 0.9])
    toxic = np.array([0.2, 0.8, 0.8, 0.8, 0.49])
    # below the toxic threshold: normal whatever hate/offensive say; else the larger of the two (hate on ties)
    assert three_class(hate, offensive, toxic, 0.5).tolist() == [0, 1, 2, 1, 0]


def test_three_class_report_gives_each_class_its_f1_beside_the_macro_f1() -> None:
    labels = ["normal", "hatespeech", "offensive", "offensive", "normal"]
    hate = np.array([0.1, 0.9, 0.9, 0.2, 0.1])
    offensive = np.array([0.1, 0.1, 0.1, 0.8, 0.1])
    toxic = np.array([0.1, 0.9, 0.9, 0.9, 0.1])
    # the columns in the checkpoint's label order, not the order three_class reads them in
    columns = ["toxic", "offensive", "spam", "hate"]
    scores = np.stack([toxic, offensive, np.zeros_like(toxic), hate], axis=1)
    truth, pred, report = three_class_report(labels, scores, columns, 0.5)
    assert truth.tolist() == [0, 1, 2, 2, 0]
    assert pred.tolist() == [0, 1, 1, 2, 0]  # the third post, offensive, read as hate
    by_class = report["three_class_f1_by_class"]
    assert by_class["normal"] == 1.0
    assert by_class["hatespeech"] == pytest.approx(2 / 3)  # precision 1/2, recall 1
    assert by_class["offensive"] == pytest.approx(2 / 3)  # precision 1, recall 1/2
    assert report["three_class_macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    with pytest.raises(ValueError):
        three_class_report(["undecided"], scores[:1], columns, 0.5)


def test_three_class_cut_is_the_tuned_one_else_the_toxic_review_threshold() -> None:
    assert three_class_cut({"three_class_toxic_threshold": 0.59}, {"toxic": 0.97}) == 0.59
    assert three_class_cut({}, {"toxic": 0.97}) == 0.97  # a checkpoint from before the tuned cut
    assert three_class_cut({"three_class_toxic_threshold": None}, {}) == 0.5


def test_threshold_for_fpr_is_the_lowest_grid_point_within_budget() -> None:
    benign = np.linspace(0.0, 0.6, 101)  # 101 benign scores from 0 to 0.6
    # at most 10 % may reach it: 0.546 is the 91st score, the first grid point above it is 0.55
    assert threshold_for_fpr(benign, 0.10) == pytest.approx(0.55)
    assert threshold_for_fpr(benign, 0.0) == pytest.approx(0.61)
    assert threshold_for_fpr(np.array([0.995, 0.999]), 0.0) == pytest.approx(0.99)  # capped at the grid's top
    assert threshold_for_fpr(np.array([0.01, 0.02]), 0.0) == pytest.approx(0.05)


def test_three_class_threshold_separates_normal_from_harmful() -> None:
    # normal posts score toxic <= 0.3, harmful ones >= 0.7; hate vs offensive by their own scores
    truth = np.array([0, 0, 0, 1, 1, 2, 2])
    toxic = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.75, 0.9])
    hate = np.array([0.1, 0.1, 0.1, 0.9, 0.8, 0.2, 0.3])
    offensive = np.array([0.1, 0.1, 0.1, 0.2, 0.3, 0.9, 0.8])
    cut = best_three_class_threshold(truth, hate, offensive, toxic)
    assert 0.3 < cut <= 0.7
    assert (three_class(hate, offensive, toxic, cut) == truth).all()


def test_prevalence_weights_make_positives_the_given_share() -> None:
    labels = np.array([1, 1, 0, 0, 0, 0])
    weights = prevalence_weights(labels, 0.1)
    assert weights is not None
    assert math.isclose(weights[labels == 1].sum() / weights.sum(), 0.1)
    assert prevalence_weights(labels, None) is None
    assert prevalence_weights(np.array([1, 1]), 0.1) is None
    with pytest.raises(ValueError, match="positive_share"):
        prevalence_weights(labels, 1.0)


def test_precision_at_a_realistic_share_is_lower_than_on_balanced_data() -> None:
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.75, 0.1, 0.1, 0.1])
    assert precision_at(labels, scores, 0.5) == 0.75
    # 3 true positives (weight 1 each) against one false positive weighted 4 * 0.9 / (0.1 * 4) = 9
    assert math.isclose(precision_at(labels, scores, 0.5, positive_share=0.1), 3 / 12)
    assert math.isnan(precision_at(labels, scores, 0.99))


def test_f1_threshold_rises_when_tuned_for_mostly_benign_traffic() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([1] * 500 + [0] * 500)
    scores = np.clip(np.where(labels == 1, rng.normal(0.65, 0.15, 1000), rng.normal(0.35, 0.15, 1000)), 0, 1)
    balanced = best_f1_threshold(labels, scores)
    realistic = best_f1_threshold(labels, scores, positive_share=0.1)
    assert realistic > balanced + 0.05


def test_recall_at_negative_rate_compares_rankings_not_thresholds() -> None:
    negatives = np.arange(100) / 100.0  # 0.00 .. 0.99
    positives = np.array([0.5, 0.93, 0.96, 0.99])
    # 5 % of the negatives reach 0.95: two of the four positives do too
    assert recall_at_negative_rate(positives, negatives, 0.05) == 0.5
    # shifting every score leaves the ranking, and so the recall, unchanged
    assert recall_at_negative_rate(positives * 0.5, negatives * 0.5, 0.05) == 0.5
    assert recall_at_negative_rate(positives, negatives, 0.5) == 1.0
    with pytest.raises(ValueError, match="strictly between"):
        recall_at_negative_rate(positives, negatives, 0.0)
