"""A category head: logistic regression on frozen sentence embeddings, fit from examples.

Few examples, so the model is deliberately small (one weight per embedding dimension): it cannot
memorise wording, only directions in the embedding space that the pretrained tower already has.
Negatives come from two places: the user's own (hard negatives that share words or topics with
the category) and ordinary benign posts, which teach what most traffic looks like.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

#: Regularisation strengths tried by cross-validation (larger C = weaker regularisation).
C_GRID: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0, 30.0)
#: Share of held-back benign posts allowed to reach the review threshold.
REVIEW_BENIGN_FPR = 0.005
#: Share of the user's negatives (scored out of fold) allowed to reach the block threshold.
BLOCK_NEGATIVE_FPR = 0.01
THRESHOLD_GRID = np.round(np.arange(0.05, 0.991, 0.01), 2)
FOLDS = 5


@dataclass(frozen=True)
class CategoryHead:
    """``score(x) = sigmoid(x · weight + bias)`` on unit-length embeddings, with tuned thresholds."""

    name: str
    weight: np.ndarray  # (dim,)
    bias: float
    review: float
    block: float
    card: dict[str, Any] = field(default_factory=dict)

    def score(self, features: np.ndarray) -> np.ndarray:
        """(n,) probabilities from (n, dim) embeddings."""
        logits = features @ self.weight + self.bias
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50.0, 50.0)))


@dataclass(frozen=True)
class FitReport:
    """What fitting measured (cross-validated on the training examples, and on held-back benign posts)."""

    c: float
    cv_auroc: float
    cv_recall_at_review: float
    cv_negative_fpr_at_review: float
    benign_fpr_at_review: float
    positives: int
    negatives: int
    benign: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def benign_holdout_mask(texts: Sequence[str], share: float = 0.2) -> np.ndarray:
    """A fixed fifth of the benign posts, chosen by a salted text hash: never fit, used to set
    thresholds. (Salted: the shipped sample was itself drawn by an unsalted hash of the text, and
    the same hash would pick a skewed share of it.)"""
    return np.array(
        [
            int.from_bytes(hashlib.sha256(b"benign-holdout:" + t.encode()).digest()[:4], "big") / 2**32
            < share
            for t in texts
        ]
    )


def _weights(kinds: np.ndarray) -> np.ndarray:
    """Sample weights: positives one half of the total, negatives the other half, split evenly
    between the user's negatives and benign posts when there are both."""
    weights = np.zeros(len(kinds))
    counts = {k: int((kinds == k).sum()) for k in ("positive", "negative", "benign")}
    weights[kinds == "positive"] = 0.5 / max(counts["positive"], 1)
    if counts["negative"] and counts["benign"]:
        weights[kinds == "negative"] = 0.25 / counts["negative"]
        weights[kinds == "benign"] = 0.25 / counts["benign"]
    else:
        for kind in ("negative", "benign"):
            if counts[kind]:
                weights[kinds == kind] = 0.5 / counts[kind]
    return weights * len(kinds)


def _fit(features: np.ndarray, labels: np.ndarray, weights: np.ndarray, c: float) -> LogisticRegression:
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit(features, labels, sample_weight=weights)
    return model


def _probabilities(model: LogisticRegression, features: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict_proba(features)[:, 1])


def _out_of_fold(
    features: np.ndarray, labels: np.ndarray, kinds: np.ndarray, c: float, seed: int
) -> np.ndarray:
    scores = np.zeros(len(labels))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    for train, test in folds.split(features, labels):
        model = _fit(features[train], labels[train], _weights(kinds[train]), c)
        scores[test] = _probabilities(model, features[test])
    return scores


def _lowest_threshold(scores: np.ndarray, max_rate: float) -> float:
    """The smallest grid threshold that at most ``max_rate`` of ``scores`` reach (0.99 if none)."""
    for threshold in THRESHOLD_GRID:
        if not len(scores) or float((scores >= threshold).mean()) <= max_rate:
            return float(threshold)
    return float(THRESHOLD_GRID[-1])


def fit_head(
    name: str,
    *,
    positives: np.ndarray,
    negatives: np.ndarray,
    benign: np.ndarray,
    benign_holdout: np.ndarray,
    seed: int = 0,
) -> tuple[CategoryHead, FitReport]:
    """Fit a head on embeddings of the user's positives and negatives and benign posts.

    ``benign_holdout`` rows are never fit: the review threshold is the lowest at which at most
    :data:`REVIEW_BENIGN_FPR` of them are flagged (precision first), the block threshold the lowest
    at which at most :data:`BLOCK_NEGATIVE_FPR` of the user's negatives (scored out of fold) and
    none of the held-back benign posts are. ``C`` is chosen by cross-validated AUROC.
    """
    if len(positives) < FOLDS or len(negatives) + len(benign) < FOLDS:
        raise ValueError(f"need at least {FOLDS} positives and {FOLDS} negatives, got {len(positives)}")
    features = np.vstack([positives, negatives, benign]).astype(np.float64)
    labels = np.concatenate([np.ones(len(positives)), np.zeros(len(negatives) + len(benign))])
    kinds = np.array(["positive"] * len(positives) + ["negative"] * len(negatives) + ["benign"] * len(benign))
    best: tuple[float, float, np.ndarray] | None = None
    for c in C_GRID:
        scores = _out_of_fold(features, labels, kinds, c, seed)
        auroc = float(roc_auc_score(labels, scores))
        if best is None or auroc > best[1] + 1e-4:
            best = (c, auroc, scores)
    assert best is not None
    c, cv_auroc, cv_scores = best
    model = _fit(features, labels, _weights(kinds), c)
    held_back = _probabilities(model, benign_holdout.astype(np.float64))
    review = _lowest_threshold(held_back, REVIEW_BENIGN_FPR)
    negative_scores = cv_scores[kinds == "negative"]
    block = max(
        review, _lowest_threshold(negative_scores, BLOCK_NEGATIVE_FPR), _lowest_threshold(held_back, 0.0)
    )
    positive_scores = cv_scores[kinds == "positive"]
    report = FitReport(
        c=c,
        cv_auroc=round(cv_auroc, 4),
        cv_recall_at_review=round(float((positive_scores >= review).mean()), 4),
        cv_negative_fpr_at_review=round(float((negative_scores >= review).mean()), 4)
        if len(negative_scores)
        else 0.0,
        benign_fpr_at_review=round(float((held_back >= review).mean()), 4),
        positives=len(positives),
        negatives=len(negatives),
        benign=len(benign),
    )
    head = CategoryHead(
        name=name,
        weight=model.coef_[0].astype(np.float32),
        bias=float(model.intercept_[0]),
        review=review,
        block=block,
    )
    return head, report
