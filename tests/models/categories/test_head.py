from __future__ import annotations

import numpy as np

from models.categories.head import REVIEW_BENIGN_FPR, CategoryHead, FitReport, benign_holdout_mask, fit_head


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _clusters(seed: int = 0) -> dict[str, np.ndarray]:
    """Positives around one direction, hard negatives near them, benign posts elsewhere (dim 16)."""
    rng = np.random.default_rng(seed)
    axis = np.eye(16)
    return {
        "positives": _unit(axis[0] * 3 + axis[1] + rng.normal(0, 0.4, (40, 16))),
        "negatives": _unit(axis[0] * -1 + axis[1] * 3 + rng.normal(0, 0.4, (40, 16))),
        "benign": _unit(axis[2] * 3 + rng.normal(0, 0.6, (300, 16))),
        "benign_holdout": _unit(axis[2] * 3 + rng.normal(0, 0.6, (200, 16))),
    }


def _fit(data: dict[str, np.ndarray]) -> tuple[CategoryHead, FitReport]:
    return fit_head(
        "fruit",
        positives=data["positives"],
        negatives=data["negatives"],
        benign=data["benign"],
        benign_holdout=data["benign_holdout"],
    )


def test_a_separable_category_is_learned_with_precision_first_thresholds() -> None:
    data = _clusters()
    head, report = _fit(data)
    assert report.cv_auroc > 0.95
    assert 0.05 <= head.review <= head.block <= 0.99
    assert report.benign_fpr_at_review <= REVIEW_BENIGN_FPR
    assert (head.score(data["benign_holdout"]) >= head.review).mean() <= REVIEW_BENIGN_FPR
    fresh = _clusters(seed=1)
    assert head.score(fresh["positives"]).mean() > 0.8 > head.score(fresh["negatives"]).mean()
    assert report.positives == 40 and report.negatives == 40 and report.benign == 300


def test_scores_are_probabilities_of_the_fitted_logistic_model() -> None:
    data = _clusters()
    head, _ = _fit(data)
    x = data["positives"][:3]
    expected = 1 / (1 + np.exp(-(x @ head.weight + head.bias)))
    np.testing.assert_allclose(head.score(x), expected, rtol=1e-5)


def test_the_benign_holdout_is_fixed_by_the_text() -> None:
    texts = [f"post number {i}" for i in range(1000)]
    mask = benign_holdout_mask(texts)
    assert 0.15 < mask.mean() < 0.25
    assert (benign_holdout_mask(list(reversed(texts))) == mask[::-1]).all()
