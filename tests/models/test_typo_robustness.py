"""The misspelling check's texts and report (models/typo_robustness.py), on hand-made verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from models.suite.misspellings import Misspellings
from models.typo_robustness import (
    CAUGHT_CHANGE,
    FLAGGED_CHANGE,
    check_sets,
    format_typo_report,
    misspelt_texts,
    paired_change_differences,
    typo_report,
)

KNOWN = Misspellings({"the": ("teh",), "people": ("peopel",)}, "test list")


def test_texts_the_list_cannot_misspell_are_counted_not_kept() -> None:
    pairs, left_out = misspelt_texts(
        {"a": [("the people", True), ("nothing known", False)], "b": [("the cat", False)]}, KNOWN, seed=1
    )
    assert [(p.set_name, p.harmful) for p in pairs] == [("a", True), ("b", False)]
    assert all(p.misspelt != p.text for p in pairs)
    assert left_out == {"a": 1, "b": 0}
    assert misspelt_texts({"a": [("the people", True)]}, KNOWN, seed=1)[0] == pairs[:1]  # seeded


def test_report_counts_caught_flagged_and_flips_per_set_and_pooled() -> None:
    texts = [("the people", True)] * 4 + [("the cat", False)] * 6
    pairs, left_out = misspelt_texts({"hx": texts[:5], "coco": texts[5:]}, KNOWN, seed=0)
    clean = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    misspelt = np.array([1, 0, 1, 0, 1, 0, 0, 0, 0, 1], dtype=bool)
    report = typo_report(pairs, clean, misspelt, left_out=left_out, source="test list", seed=3)
    pooled = report["all"]
    assert pooled["texts"] == 10 and pooled["harmful"] == 4
    assert pooled["harmful_caught"]["as_written"] == 0.75 and pooled["harmful_caught"]["misspelt"] == 0.5
    assert pooled["benign_flagged"]["as_written"] == 0.0
    assert pooled["benign_flagged"]["misspelt"] == pytest.approx(2 / 6)
    assert pooled["verdicts_flipped"] == pytest.approx(0.3)
    low, high = pooled["benign_flagged"]["change_interval_95"]
    assert 0 <= low <= 2 / 6 <= high
    assert report["by_set"]["coco"]["harmful_caught"] is None  # no harmful text in it
    assert report["by_set"]["hx"]["benign_flagged"]["misspelt"] == 1.0
    assert [e["set"] for e in report["newly_flagged_examples"]] == ["hx", "coco"]
    assert len(report["newly_missed_examples"]) == 1
    table = format_typo_report(report)
    assert "test list" in table and "0.750 -> 0.500" in table


def test_report_refuses_verdicts_that_do_not_match_the_texts() -> None:
    pairs, left_out = misspelt_texts({"a": [("the people", True)]}, KNOWN, seed=0)
    with pytest.raises(ValueError, match="1 texts but 2"):
        typo_report(pairs, np.zeros(2, bool), np.zeros(1, bool), left_out=left_out, source="x", seed=0)


def test_paired_change_differences_cancel_what_both_checkpoints_share() -> None:
    harmful = np.arange(200) < 100
    written = np.r_[np.arange(100) < 70, np.arange(100) < 5]
    # before: a misspelling loses 20 of the 70 caught and flags 10 more benign texts
    before_misspelt = np.r_[np.arange(100) < 50, np.arange(100) < 15]
    # after: the same texts, the misspelling changes nothing
    differences = paired_change_differences(
        (harmful, written, before_misspelt), (harmful, written, written.copy()), seed=0
    )
    caught_low, caught_high = differences[CAUGHT_CHANGE]
    flagged_low, flagged_high = differences[FLAGGED_CHANGE]
    assert 0 < caught_low <= 0.2 <= caught_high  # the catch's fall is gone: +20 points
    assert flagged_low <= -0.1 <= flagged_high < 0  # the extra flags are gone: -10 points
    same = paired_change_differences(
        (harmful, written, before_misspelt), (harmful, written, before_misspelt), seed=0
    )
    assert same[CAUGHT_CHANGE] == (0.0, 0.0) and same[FLAGGED_CHANGE] == (0.0, 0.0)
    with pytest.raises(ValueError, match="same texts"):
        paired_change_differences((harmful, written, written), (~harmful, written, written), seed=0)


def test_check_sets_take_texts_with_a_known_toxic_label_and_benign_captions() -> None:
    from models.data.sources import BENIGN, FULL_MASK, HATE, TextExample

    unknown = (0.0, 0.0, 0.0)
    test = [
        TextExample("hate text", HATE, FULL_MASK, "hatexplain", "test", "hatespeech"),
        TextExample("kind text", BENIGN, FULL_MASK, "convabuse", "test", "normal"),
        TextExample("unsure text", HATE, unknown, "toxigen", "test", "x"),
        TextExample("meme text", HATE, FULL_MASK, "harmeme", "test", "harmful"),
    ]
    sets = check_sets(test, ["a dog on a beach"])
    assert sets == {
        "hatexplain": [("hate text", True)],
        "convabuse": [("kind text", False)],
        "toxigen_held_out_group": [],
        "coco_captions": [("a dog on a beach", False)],
    }
