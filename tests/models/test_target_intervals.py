"""Intervals of the report's targets (models/target_intervals.py) on hand-made per-post outcomes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from models.evaluate import check_targets, with_intervals
from models.target_intervals import VariantOutcomes, settled, target_evidence, target_intervals

RNG = np.random.default_rng(0)


def outcomes(
    *, image_flagged: np.ndarray | None = None, mixed_scores: np.ndarray | None = None
) -> VariantOutcomes:
    hx_labels = np.r_[np.ones(300), np.zeros(300)]
    meme_labels = np.r_[np.ones(100), np.zeros(50)]
    caption_flagged = np.r_[np.arange(100) < 60, np.zeros(50, dtype=bool)]
    functionalities = np.array(["slur"] * 100 + ["negated_hate"] * 100)
    return VariantOutcomes(
        hatexplain_toxic=(hx_labels, hx_labels * 0.3 + RNG.random(600)),
        hatexplain_classes=(np.tile([0, 1, 2], 200), np.tile([0, 1, 1], 200)),
        mixed_toxic=(
            np.r_[np.ones(50), np.zeros(50)],
            RNG.random(100) if mixed_scores is None else mixed_scores,
        ),
        toxic_flagged={
            name: (
                meme_labels,
                caption_flagged if image_flagged is None or "caption" in name else image_flagged,
            )
            for name in (
                "memes_image_only",
                "memes_as_captions",
                "memes_held_out",
                "memes_held_out_as_captions",
            )
        },
        coco_flagged=np.r_[np.ones(2, dtype=bool), np.zeros(123, dtype=bool)],
        ood_bland_caption_flagged=np.zeros(420, dtype=bool),
        functional_passed={
            "functional_text": np.r_[np.ones(100, dtype=bool), np.arange(100) % 2 == 0],
            "functional_image": np.ones(200, dtype=bool),
        },
        functional_labels=np.array(["hateful"] * 100 + ["non_hateful_offensive"] * 100),
        functionalities=functionalities,
        misspelt=(np.arange(80) < 30, np.arange(80) < 20, np.arange(80) < 25),
    )


def measured(result: VariantOutcomes, **variants: VariantOutcomes) -> dict[str, float]:
    return {name: e.point() for name, e in target_evidence({"concat": result, **variants}, "concat").items()}


def test_each_target_is_recomputed_from_the_posts() -> None:
    values = measured(outcomes())
    assert values["hatexplain_3class_macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert values["image_text_recall_gap_points"] == pytest.approx(0.0)
    assert values["coco_false_positive_rate"] == pytest.approx(2 / 125)
    assert values["functional_worst_functionality_accuracy"] == pytest.approx(0.5)
    assert values["functional_hateful_caught"] == pytest.approx(1.0)
    assert values["functional_non_hateful_left_alone"] == pytest.approx(0.5)
    assert "mixed_fusion_gain_auroc_points" not in values  # needs both baselines


def test_a_gap_between_two_views_of_the_same_posts_is_resampled_in_pairs() -> None:
    # the image view catches exactly what the caption view catches: no draw can open a gap
    result = outcomes()
    interval = target_intervals({"concat": result}, "concat", measured(result), seed=1)
    assert interval["image_text_recall_gap_points"] == (0.0, 0.0)
    # one view catching 20 fewer of 100 hateful memes: about 20 ± 8 points
    image = np.r_[np.arange(100) < 40, np.zeros(50, dtype=bool)]
    result = outcomes(image_flagged=image)
    low, high = target_intervals({"concat": result}, "concat", measured(result), seed=1)[
        "image_text_recall_gap_points"
    ]
    assert 10 < low < 20 < high < 30


def test_rates_get_wilson_intervals_that_stay_open_when_nothing_was_flagged() -> None:
    result = outcomes()
    intervals = target_intervals({"concat": result}, "concat", measured(result), seed=1)
    low, high = intervals["ood_benign_bland_caption_flag_rate"]
    assert low == 0.0 and 0.008 < high < 0.01  # 0 of 420: up to 0.9 %, under the 1 % target
    assert intervals["coco_false_positive_rate"][0] < 2 / 125 < intervals["coco_false_positive_rate"][1]


def test_the_fusion_gain_is_paired_across_the_baselines_on_the_same_posts() -> None:
    labels = np.r_[np.ones(50), np.zeros(50)]
    fused = labels * 0.5 + RNG.random(100)
    result = outcomes(mixed_scores=fused)
    text_only = outcomes(mixed_scores=RNG.random(100))
    image_only = outcomes(mixed_scores=RNG.random(100))
    variants = {"concat": result, "text_only": text_only, "image_only": image_only}
    values = measured(result, text_only=text_only, image_only=image_only)
    low, high = target_intervals(variants, "concat", values, seed=2)["mixed_fusion_gain_auroc_points"]
    assert low < values["mixed_fusion_gain_auroc_points"] < high


def test_an_interval_for_a_number_the_report_does_not_hold_is_refused() -> None:
    result = outcomes()
    values = measured(result) | {"hatexplain_3class_macro_f1": 0.9}
    with pytest.raises(
        ValueError, match="hatexplain_3class_macro_f1: recomputed from the posts it is 0.5555"
    ):
        target_intervals({"concat": result}, "concat", values, seed=1)


@pytest.mark.parametrize(
    ("interval", "target", "higher_is_better", "expected"),
    [
        ((0.64, 0.676), 0.66, True, False),  # missed or met, depending on the draw
        ((0.661, 0.70), 0.66, True, True),
        ((0.60, 0.65), 0.66, True, True),
        ((0.0, 0.009), 0.01, False, True),
        ((0.0, 0.04), 0.02, False, False),
        ((math.nan, math.nan), 0.5, True, None),
    ],
)
def test_settled_means_the_whole_interval_gives_one_verdict(
    interval: tuple[float, float], target: float, higher_is_better: bool, expected: bool | None
) -> None:
    assert settled(interval, target, higher_is_better) is expected


def test_report_verdicts_carry_their_interval_and_whether_it_settles_them() -> None:
    report = json.loads((Path(__file__).parents[2] / "models" / "eval" / "report.json").read_text())
    default = report["checkpoint"]["variant"]
    targets = check_targets(report["rows"], default)
    result = outcomes()
    for name, value in measured(result).items():  # the hand-made posts stand in for the report's
        targets[name]["measured"] = value
    verdicts = with_intervals(targets, {default: result}, default, seed=3)
    f1 = verdicts["hatexplain_3class_macro_f1"]
    assert f1["interval_95"][0] < f1["measured"] < f1["interval_95"][1]
    assert f1["settled"] is settled(tuple(f1["interval_95"]), 0.66, True)
    assert "interval_95" not in verdicts["mixed_fusion_gain_auroc_points"]


def test_the_fast_macro_f1_equals_sklearns() -> None:
    from sklearn.metrics import f1_score

    from models.target_intervals import _macro_f1

    truth, predicted = RNG.integers(0, 3, 500), RNG.integers(0, 2, 500)  # one class never predicted
    assert _macro_f1(truth, predicted) == pytest.approx(
        f1_score(truth, predicted, average="macro"), abs=1e-12
    )


def test_paired_changes_cancel_what_both_checkpoints_share() -> None:
    from models.target_intervals import paired_difference_intervals

    before = outcomes()
    same = paired_difference_intervals(
        {"concat": before}, "concat", {"attention": before}, "attention", seed=3
    )
    assert same["functional_text_accuracy"] == (0.0, 0.0)
    assert same["image_text_recall_gap_points"] == (0.0, 0.0)
    # the later checkpoint also passes 10 of the 50 text cases the earlier one failed: +5 points
    passed = before.functional_passed["functional_text"].copy()
    passed[np.flatnonzero(~passed)[:10]] = True
    after = VariantOutcomes(
        **{**before.__dict__, "functional_passed": {**before.functional_passed, "functional_text": passed}}
    )
    low, high = paired_difference_intervals(
        {"concat": before}, "concat", {"concat": after}, "concat", seed=3
    )["functional_text_accuracy"]
    assert 0 < low < 0.05 < high < 0.1  # beyond noise: no draw loses the ten
    # the two reports' own intervals overlap: only the pairing shows the change is real
    own_before = target_intervals({"concat": before}, "concat", measured(before), seed=3)[
        "functional_text_accuracy"
    ]
    own_after = target_intervals({"concat": after}, "concat", measured(after), seed=3)[
        "functional_text_accuracy"
    ]
    assert own_after[0] < own_before[1]


def test_paired_changes_refuse_sets_of_different_sizes() -> None:
    from models.target_intervals import paired_difference_intervals

    before = outcomes()
    after = VariantOutcomes(**{**before.__dict__, "coco_flagged": np.zeros(99, dtype=bool)})
    with pytest.raises(ValueError, match="not the same posts"):
        paired_difference_intervals({"concat": before}, "concat", {"concat": after}, "concat", seed=0)
