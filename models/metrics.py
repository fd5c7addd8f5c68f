"""Classification metrics used by training (threshold tuning) and evaluation."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import f1_score


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of 0/1 ``labels``; NaN when only one class is present.

    Computed from average ranks (the Mann-Whitney U), which is sklearn's ``roc_auc_score`` to
    float precision, ties included, without its per-call input checks: the evaluation's bootstrap
    intervals call this a thousand times per target (models/target_intervals.py)."""
    positives = labels == 1
    count = int(positives.sum())
    if count in (0, len(labels)):
        return math.nan
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("auroc needs labels of 0 and 1 only")
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - count * (count + 1) / 2) / (count * (len(labels) - count)))


def macro_f1_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    """Binary macro-F1 (mean of the F1 of the positive and the negative class) at a threshold."""
    return float(f1_score(labels, scores >= threshold, average="macro", zero_division=0))


def recall_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    positives = labels == 1
    return float((scores[positives] >= threshold).mean()) if positives.any() else math.nan


def false_positive_rate_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    negatives = labels == 0
    return float((scores[negatives] >= threshold).mean()) if negatives.any() else math.nan


def recall_at_negative_rate(positives: np.ndarray, negatives: np.ndarray, negative_rate: float) -> float:
    """Share of ``positives`` scoring at or above the threshold that ``negative_rate`` of the
    ``negatives`` reach (their (1 - rate) quantile): recall at an equal false-positive rate, so two
    models compare by ranking alone, whatever thresholds their own tuning chose."""
    if not len(positives) or not len(negatives) or not 0.0 < negative_rate < 1.0:
        raise ValueError("need positives, negatives and a negative rate strictly between 0 and 1")
    threshold = float(np.quantile(negatives, 1.0 - negative_rate, method="higher"))
    return float((positives >= threshold).mean())


#: Thresholds tried when tuning: 0.05, 0.06, ..., 0.95.
TUNING_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def _best_on_grid(quality: Callable[[float], float]) -> float:
    """The grid threshold with the highest ``quality`` (the lowest one on ties)."""
    best, best_quality = 0.5, -1.0
    for threshold in TUNING_GRID:
        value = quality(float(threshold))
        if value > best_quality:
            best, best_quality = float(threshold), value
    return best


def prevalence_weights(labels: np.ndarray, positive_share: float | None) -> np.ndarray | None:
    """Sample weights that make positives ``positive_share`` of the weighted total (``None``: as is).

    Tuning data is harm-rich; a platform's traffic is mostly benign. Weighting the negatives up
    makes F1 and precision what they would be at the platform's share of harm."""
    if positive_share is None:
        return None
    if not 0.0 < positive_share < 1.0:
        raise ValueError(f"positive_share must be in (0, 1), got {positive_share}")
    positives = float((labels == 1).sum())
    negatives = float((labels == 0).sum())
    if positives == 0 or negatives == 0:
        return None
    negative_weight = positives * (1 - positive_share) / (positive_share * negatives)
    return np.where(labels == 1, 1.0, negative_weight)


def best_f1_threshold(
    labels: np.ndarray, scores: np.ndarray, *, positive_share: float | None = None
) -> float:
    """The threshold (on a 0.05..0.95 grid) that maximises the positive-class F1 on tuning data,
    with negatives reweighted to a positive share of ``positive_share`` when given."""
    weights = prevalence_weights(labels, positive_share)
    return _best_on_grid(
        lambda t: float(f1_score(labels, scores >= t, sample_weight=weights, zero_division=0))
    )


def precision_at(
    labels: np.ndarray, scores: np.ndarray, threshold: float, *, positive_share: float | None = None
) -> float:
    """Share of flagged items that are positive (at ``positive_share`` prevalence when given)."""
    weights = prevalence_weights(labels, positive_share)
    weights = np.ones(len(labels)) if weights is None else weights
    flagged = scores >= threshold
    total = float(weights[flagged].sum())
    return float(weights[flagged & (labels == 1)].sum() / total) if total > 0 else math.nan


def three_class(
    hate: np.ndarray, offensive: np.ndarray, toxic: np.ndarray, toxic_threshold: float
) -> np.ndarray:
    """HateXplain's classes from the multi-label scores: 0 normal, 1 hatespeech, 2 offensive."""
    harmful = toxic >= toxic_threshold
    return np.where(~harmful, 0, np.where(hate >= offensive, 1, 2))


#: HateXplain's classes, in the order :func:`three_class` numbers them.
THREE_CLASSES: tuple[str, str, str] = ("normal", "hatespeech", "offensive")


def three_class_truth(source_labels: Sequence[str]) -> np.ndarray:
    """HateXplain's labels (``normal``, ``hatespeech``, ``offensive``) numbered as :func:`three_class`
    numbers its predictions."""
    return np.array([THREE_CLASSES.index(label) for label in source_labels])


def three_class_columns(
    scores: np.ndarray, labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The hate, offensive and toxic columns of a score matrix whose columns are ``labels``: what
    :func:`three_class` reads."""
    hate, offensive, toxic = (scores[:, list(labels).index(name)] for name in ("hate", "offensive", "toxic"))
    return hate, offensive, toxic


def three_class_cut(training: Mapping[str, Any], thresholds: Mapping[str, float]) -> float:
    """The toxic cut a checkpoint's 3-class metric is read at: the one training tuned for it
    (``three_class_toxic_threshold`` in the checkpoint's training record), else the toxic review
    threshold (checkpoints trained before that record existed)."""
    return float(training.get("three_class_toxic_threshold") or thresholds.get("toxic", 0.5))


def three_class_report(
    source_labels: Sequence[str],
    scores: np.ndarray,
    labels: Sequence[str],
    toxic_threshold: float,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """HateXplain's 3-class decision from the scores (columns named by ``labels``): (truth,
    prediction, report), where the report holds the macro-F1 and each class's F1 (the macro-F1
    alone hides which class limits it)."""
    truth = three_class_truth(source_labels)
    pred = three_class(*three_class_columns(scores, labels), toxic_threshold)
    per_class = f1_score(truth, pred, labels=list(range(len(THREE_CLASSES))), average=None, zero_division=0)
    report = {
        "three_class_macro_f1": float(per_class.mean()),
        "three_class_f1_by_class": {
            name: float(f1) for name, f1 in zip(THREE_CLASSES, per_class, strict=True)
        },
    }
    return truth, pred, report


def threshold_for_fpr(benign_scores: np.ndarray, max_fpr: float) -> float:
    """The smallest threshold on the 0.05..0.99 grid at which at most ``max_fpr`` of the benign
    scores reach it (0.99 if none does)."""
    grid = np.round(np.arange(0.05, 0.991, 0.01), 2)
    for threshold in grid:
        if float((benign_scores >= threshold).mean()) <= max_fpr:
            return float(threshold)
    return float(grid[-1])


def best_three_class_threshold(
    truth: np.ndarray, hate: np.ndarray, offensive: np.ndarray, toxic: np.ndarray
) -> float:
    """The toxic cut (0.05..0.95 grid) that maximises 3-class macro-F1 on tuning data."""
    return _best_on_grid(
        lambda t: float(f1_score(truth, three_class(hate, offensive, toxic, t), average="macro"))
    )
