"""Supportive statements about groups (models/suite/supportive.py): the evaluation set and what
the review thresholds do to it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.data.statements import BENIGN_CONTRASTS, SUPPORTIVE
from models.suite.identities import PROTECTED_GROUPS
from models.suite.supportive import SupportiveCase, read_templates, supportive_cases, supportive_report


def test_every_template_is_filled_with_every_protected_group() -> None:
    templates = read_templates()
    cases = supportive_cases()
    assert len(templates) >= 75
    assert len(cases) == len(templates) * len(PROTECTED_GROUPS)
    assert not any("{" in c.text for c in cases)
    assert {c.group for c in cases if c.template == 0} == {g.key for g in PROTECTED_GROUPS}


def test_no_evaluation_template_is_a_training_template() -> None:
    """Training's statements (another writer's) use ``{G}``; the same sentence with the
    placeholder renamed would be the same template."""
    written = [t for ts in BENIGN_CONTRASTS.values() for t in ts] + list(SUPPORTIVE)
    training = {t.replace("{G}", "{group}").casefold() for t in written}
    assert not training & {t.casefold() for t in read_templates()}


def test_a_template_without_the_placeholder_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "t.txt"
    path.write_text("# a comment\n{group} belong here.\n\nno placeholder here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"template 2 has no \{group\}: 'no placeholder here'"):
        read_templates(path)


def test_report_counts_hate_and_any_category_flags_and_the_worst_template() -> None:
    cases = [SupportiveCase(f"t{t} g{g}", t, f"g{g}") for t in range(2) for g in range(2)]
    labels = ("hate", "offensive", "toxic")
    thresholds = {"hate": 0.8, "offensive": 0.6, "toxic": 0.9}
    scores = np.array(
        [
            [0.9, 0.0, 0.0],  # template 0: hate
            [0.8, 0.0, 0.0],  # template 0: hate, exactly at the threshold
            [0.1, 0.7, 0.0],  # template 1: offensive only
            [0.1, 0.0, 0.0],  # template 1: nothing
        ]
    )
    report = supportive_report(cases, scores, labels, thresholds)
    assert report["cases"] == 4 and report["templates"] == 2
    assert report["hate_flagged_rate"] == 0.5
    assert report["any_flagged_rate"] == 0.75
    assert report["left_alone"] == 0.25
    assert report["mean_hate_score"] == pytest.approx(0.475)
    assert report["templates_mostly_flagged"] == 1
    assert report["worst_template"] == {"example": "t0 g0", "hate_flagged_rate": 1.0}
    with pytest.raises(ValueError, match=r"one score row per case \(4\), got 1"):
        supportive_report(cases, scores[:1], labels, thresholds)
