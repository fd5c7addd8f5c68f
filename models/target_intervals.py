"""95 % bootstrap intervals for the report's issue-17 targets (``models.evaluate``'s ``targets``).

Each target's statistic is recomputed from per-post outcomes, resampling posts: paired where a
target compares two views of the same posts (a meme as an image and its text as a caption, the
fused head against the baselines on the same mixed posts, a suite case as text and as image), and
within each functionality for the worst-functionality target. The statistic on all posts must be
the measured value; :func:`target_intervals` checks that, so the two definitions cannot drift.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .metrics import auroc
from .sampling_intervals import bootstrap_interval, wilson_interval

Statistic = Callable[[np.ndarray], float]


@dataclass(frozen=True)
class VariantOutcomes:
    """Per-post results of one variant behind the targets (kept out of the JSON report)."""

    hatexplain_toxic: tuple[np.ndarray, np.ndarray]  # (labels, toxic scores)
    hatexplain_classes: tuple[np.ndarray, np.ndarray]  # (truth, predicted): 0 normal, 1 hate, 2 offensive
    mixed_toxic: tuple[np.ndarray, np.ndarray]  # (labels, toxic scores)
    toxic_flagged: Mapping[str, tuple[np.ndarray, np.ndarray]]  # meme set -> (labels, flagged)
    coco_flagged: np.ndarray  # any category at the review thresholds
    ood_bland_caption_flagged: np.ndarray  # the bland-caption posts only
    functional_passed: Mapping[str, np.ndarray]  # "functional_text" / "functional_image", same cases
    functional_labels: np.ndarray  # "hateful", "non_hateful_offensive", "benign"
    functionalities: np.ndarray
    # the misspelling check (models/typo_robustness.py): (harmful, flagged as written, flagged
    # misspelt), one entry per text; None in outcomes written before the check existed
    misspelt: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _macro_f1(truth: np.ndarray, predicted: np.ndarray) -> float:
    """sklearn's macro-F1 over the classes present in either array (an empty class scores 0)."""
    scores = []
    for cls in np.union1d(truth, predicted):
        hits = float(((truth == cls) & (predicted == cls)).sum())
        total = float((truth == cls).sum() + (predicted == cls).sum())
        scores.append(2 * hits / total if total else 0.0)
    return float(np.mean(scores))


def _recall(labels: np.ndarray, flagged: np.ndarray, idx: np.ndarray) -> float:
    positives = labels[idx] == 1
    return float(flagged[idx][positives].mean()) if positives.any() else math.nan


def _rate(flags: np.ndarray, idx: np.ndarray) -> float:
    return float(flags[idx].mean())


def _gap(outcomes: VariantOutcomes, caption_set: str, image_set: str) -> Statistic:
    caption_labels, caption_flagged = outcomes.toxic_flagged[caption_set]
    image_labels, image_flagged = outcomes.toxic_flagged[image_set]
    return lambda idx: (
        100 * (_recall(caption_labels, caption_flagged, idx) - _recall(image_labels, image_flagged, idx))
    )


def _worst_functionality(outcomes: VariantOutcomes) -> Statistic:
    """The lowest accuracy of any functionality, text or image. Under resampling the minimum of
    64 noisy rates leans low, so this interval errs towards "could be missed"."""
    names = np.unique(outcomes.functionalities)

    def worst(idx: np.ndarray) -> float:
        drawn = outcomes.functionalities[idx]
        return min(
            float(passed[idx][drawn == name].mean())
            for passed in outcomes.functional_passed.values()
            for name in names
        )

    return worst


def _worse_of_text_and_image(outcomes: VariantOutcomes, hateful: bool) -> Statistic:
    def worse(idx: np.ndarray) -> float:
        chosen = (outcomes.functional_labels[idx] == "hateful") == hateful
        return min(float(passed[idx][chosen].mean()) for passed in outcomes.functional_passed.values())

    return worse


@dataclass(frozen=True)
class Resampled:
    """A statistic of item indices, bootstrapped (paired across the arrays it reads)."""

    statistic: Statistic
    size: int
    strata: np.ndarray | None = None

    def point(self) -> float:
        return self.statistic(np.arange(self.size))

    def interval(self, seed: int) -> tuple[float, float]:
        return bootstrap_interval(self.statistic, self.size, strata=self.strata, seed=seed)


@dataclass(frozen=True)
class Proportion:
    """A plain rate: the Wilson interval, which stays honest when no post was flagged."""

    flags: np.ndarray
    strata: None = None  # a plain rate is resampled whole (in paired differences)

    @property
    def size(self) -> int:
        return len(self.flags)

    def statistic(self, idx: np.ndarray) -> float:
        return _rate(self.flags, idx)

    def point(self) -> float:
        return float(self.flags.mean())

    def interval(self, seed: int) -> tuple[float, float]:
        return wilson_interval(int(self.flags.sum()), self.size)


Evidence = Resampled | Proportion


def target_evidence(outcomes: Mapping[str, VariantOutcomes], default: str) -> dict[str, Evidence]:
    """Target name -> how to recompute and resample it, for the targets the outcomes cover (the
    fusion gain only when both baselines were evaluated; a rate only where it has posts)."""
    own = outcomes[default]
    hx_labels, hx_scores = own.hatexplain_toxic
    truth, predicted = own.hatexplain_classes
    cases = len(own.functional_labels)
    evidence: dict[str, Evidence] = {
        "hatexplain_toxic_auroc": Resampled(
            lambda idx: auroc(hx_labels[idx], hx_scores[idx]), len(hx_labels)
        ),
        "hatexplain_3class_macro_f1": Resampled(
            lambda idx: _macro_f1(truth[idx], predicted[idx]), len(truth)
        ),
        "image_text_recall_gap_points": Resampled(
            _gap(own, "memes_as_captions", "memes_image_only"), len(own.toxic_flagged["memes_image_only"][0])
        ),
        "held_out_image_text_recall_gap_points": Resampled(
            _gap(own, "memes_held_out_as_captions", "memes_held_out"),
            len(own.toxic_flagged["memes_held_out"][0]),
        ),
        "coco_false_positive_rate": Proportion(own.coco_flagged),
        "ood_benign_bland_caption_flag_rate": Proportion(own.ood_bland_caption_flagged),
        "functional_text_accuracy": Proportion(own.functional_passed["functional_text"]),
        "functional_image_accuracy": Proportion(own.functional_passed["functional_image"]),
        "functional_worst_functionality_accuracy": Resampled(
            _worst_functionality(own), cases, own.functionalities
        ),
        "functional_hateful_caught": Resampled(_worse_of_text_and_image(own, hateful=True), cases),
        "functional_non_hateful_left_alone": Resampled(_worse_of_text_and_image(own, hateful=False), cases),
    }
    if "text_only" in outcomes and "image_only" in outcomes:
        mixed_labels, fused = own.mixed_toxic
        baselines = [outcomes[name].mixed_toxic[1] for name in ("text_only", "image_only")]

        def gain(idx: np.ndarray) -> float:
            best_alone = max(auroc(mixed_labels[idx], scores[idx]) for scores in baselines)
            return 100 * (auroc(mixed_labels[idx], fused[idx]) - best_alone)

        evidence["mixed_fusion_gain_auroc_points"] = Resampled(gain, len(mixed_labels))
    return {name: item for name, item in evidence.items() if item.size > 0}


def target_intervals(
    outcomes: Mapping[str, VariantOutcomes],
    default: str,
    measured: Mapping[str, float],
    *,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """Target name -> 95 % interval. ``measured`` is each target's value in the report: the
    statistic on every post must reproduce it, or the interval would describe another number."""
    intervals = {}
    for offset, (name, evidence) in enumerate(target_evidence(outcomes, default).items()):
        whole = evidence.point()
        if not (
            math.isclose(whole, measured[name], abs_tol=1e-9)
            or (math.isnan(whole) and math.isnan(measured[name]))
        ):
            raise ValueError(
                f"{name}: recomputed from the posts it is {whole}, the report says {measured[name]}"
            )
        intervals[name] = evidence.interval(seed + offset)
    return intervals


def _difference(before: Evidence, after: Evidence) -> Statistic:
    return lambda idx: after.statistic(idx) - before.statistic(idx)


def paired_difference_intervals(
    before: Mapping[str, VariantOutcomes],
    before_default: str,
    after: Mapping[str, VariantOutcomes],
    after_default: str,
    *,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """Target name -> 95 % interval of (after − before), for the targets both outcomes cover.

    Each resample draws the same posts for both checkpoints, so what the two share (a hard post is
    hard for both) cancels. Valid only for outcomes of the very same posts: the caller checks the
    posts' fingerprints (models/report_outcomes.py); differing set sizes are refused here."""
    old, new = target_evidence(before, before_default), target_evidence(after, after_default)
    intervals = {}
    for offset, name in enumerate(name for name in new if name in old):
        earlier, later = old[name], new[name]
        if earlier.size != later.size:
            raise ValueError(f"{name}: {earlier.size} posts before, {later.size} after; not the same posts")
        intervals[name] = bootstrap_interval(
            _difference(earlier, later),
            later.size,
            strata=later.strata,
            seed=seed + offset,
        )
    return intervals


def settled(interval: tuple[float, float], target: float, higher_is_better: bool) -> bool | None:
    """Whether the whole interval gives the same verdict (None when it is undefined): when it
    does not, another draw of test posts of the same kind could flip met into missed or back."""
    low, high = interval
    if math.isnan(low) or math.isnan(high):
        return None
    if higher_is_better:
        return bool(low >= target or high < target)
    return bool(high <= target or low > target)
