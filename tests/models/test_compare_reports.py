"""models.compare_reports: what moved between two evaluation reports, and refusals of reports
that do not measure the same posts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from test_target_intervals import outcomes

from models.compare_reports import (
    ReportError,
    check_comparable,
    functionality_rows,
    load_report,
    main,
    metric_rows,
    target_rows,
)
from models.report_outcomes import outcomes_path, save_outcomes
from models.target_intervals import VariantOutcomes


def _category(auroc: float, recall: float = 0.5) -> dict[str, float]:
    return {"auroc": auroc, "recall": recall}


def _functional(accuracy: float, leet: float) -> dict[str, Any]:
    return {
        "accuracy": accuracy,
        "hateful_caught": accuracy - 0.1,
        "non_hateful_left_alone": 0.9,
        "by_functionality": {
            "obf_leet": {"accuracy": leet, "n": 90, "label": "hateful"},
            "negated_hate": {"accuracy": 0.8, "n": 247, "label": "benign"},
        },
    }


def _report(version: str, toxic_auroc: float, ood_rate: float, leet: float) -> dict[str, Any]:
    row = {
        "hatexplain": {
            "toxic": _category(toxic_auroc),
            "hate": _category(0.88),
            "three_class_macro_f1": 0.66,
        },
        "memes_image_only": {"toxic": _category(0.8, 0.45)},
        "memes_as_captions": {"toxic": _category(0.8, 0.40)},
        "memes_held_out": {"toxic": _category(0.8, 0.40)},
        "memes_held_out_as_captions": {"toxic": _category(0.8, 0.37)},
        "mixed": {"toxic": _category(0.81)},
        "harmeme": {"toxic": _category(0.71)},
        "coco_benign": {"any_category_false_positive_rate": 0.008},
        "ood_benign": {"bland_caption_flag_rate": ood_rate},
        "toxigen_held_out_group": {"toxic": _category(0.8)},
        # ConvAbuse left out: a report without a set shows "-" rather than failing.
        "functional_text": _functional(0.85, leet),
        "functional_image": _functional(0.77, leet - 0.1),
        "misspellings": {
            "all": {
                "harmful_caught": {"change": -0.05 if version == "old" else -0.01},
                "benign_flagged": {"change": 0.0625},
            }
        },
    }
    return {
        "checkpoint": {"version": version, "variant": "concat"},
        "datasets": {"hatexplain": 1922},
        "seed": 2026,
        "quick": False,
        "rows": {"concat": row},
        "targets": {
            "hatexplain_toxic_auroc": {
                "measured": toxic_auroc,
                "target": 0.86,
                "higher_is_better": True,
                "met": toxic_auroc >= 0.86,
            },
            "ood_benign_bland_caption_flag_rate": {
                "measured": ood_rate,
                "target": 0.01,
                "higher_is_better": False,
                "met": ood_rate <= 0.01,
            },
        },
    }


BEFORE = _report("old", toxic_auroc=0.852, ood_rate=0.021, leet=0.5)
AFTER = _report("new", toxic_auroc=0.867, ood_rate=0.005, leet=0.7)


def test_targets_show_direction_and_verdicts() -> None:
    rows = {r[0]: r for r in target_rows(BEFORE, AFTER)}
    assert rows["hatexplain_toxic_auroc"] == [
        "hatexplain_toxic_auroc", "0.852", "0.867", "+0.015 better", "0.86", "missed", "met"
    ]  # fmt: skip
    # A lower flag rate is the better one.
    assert rows["ood_benign_bland_caption_flag_rate"][3] == "-0.016 better"
    assert rows["ood_benign_bland_caption_flag_rate"][5:] == ["missed", "met"]


def test_a_verdict_its_own_interval_could_flip_is_marked_not_settled() -> None:
    after = copy.deepcopy(AFTER)
    after["targets"]["hatexplain_toxic_auroc"] |= {"interval_95": [0.851, 0.883], "settled": False}
    after["targets"]["ood_benign_bland_caption_flag_rate"] |= {"interval_95": [0.0, 0.009], "settled": True}
    rows = {r[0]: r for r in target_rows(BEFORE, after)}
    assert rows["hatexplain_toxic_auroc"][1:3] == ["0.852", "0.867 [0.851, 0.883]"]
    assert rows["hatexplain_toxic_auroc"][5:] == ["missed", "met (not settled)"]
    assert rows["ood_benign_bland_caption_flag_rate"][5:] == ["missed", "met"]


def test_metrics_mark_regressions_and_missing_sets() -> None:
    worse = copy.deepcopy(AFTER)
    worse["rows"]["concat"]["coco_benign"]["any_category_false_positive_rate"] = 0.02
    rows = {r[0]: r for r in metric_rows(BEFORE, worse)}
    assert rows["COCO benign FPR"][1:] == ["0.008", "0.020", "+0.012 worse"]
    assert rows["HateXplain toxic AUROC"][3] == "+0.015 better"
    assert rows["HateXplain hate AUROC"][3] == "="
    assert rows["ConvAbuse toxic AUROC"][1:] == ["-", "-", ""]
    assert rows["image text read, mixed posts: word error rate"][1:] == ["-", "-", ""]  # older reports


def test_a_lower_word_error_rate_of_image_text_reads_is_better() -> None:
    before, after = copy.deepcopy(BEFORE), copy.deepcopy(AFTER)
    before["rows"]["concat"]["image_text_reads"] = {"memes_image_only": {"word_error_rate": 0.128}}
    after["rows"]["concat"]["image_text_reads"] = {"memes_image_only": {"word_error_rate": 0.076}}
    rows = {r[0]: r for r in metric_rows(before, after)}
    assert rows["image text read, image-only memes: word error rate"][1:] == [
        "0.128",
        "0.076",
        "-0.052 better",
    ]


def test_functionality_rows_pair_text_and_image() -> None:
    rows = {r[0]: r for r in functionality_rows(BEFORE, AFTER)}
    assert rows["obf_leet"] == ["obf_leet", "hateful", "90", "0.500", "0.700", "0.400", "0.600"]


def test_reports_of_different_evaluations_are_refused() -> None:
    quick = copy.deepcopy(AFTER)
    quick["quick"] = True
    with pytest.raises(ReportError, match="quick"):
        check_comparable(BEFORE, quick)
    other_data = copy.deepcopy(AFTER)
    other_data["datasets"] = {"hatexplain": 100}
    with pytest.raises(ReportError, match=r"test sets differ in size \(hatexplain\)"):
        check_comparable(BEFORE, other_data)
    nothing_shared = copy.deepcopy(AFTER)
    nothing_shared["datasets"] = {"convabuse": 555}
    with pytest.raises(ReportError, match="no set in common"):
        check_comparable(BEFORE, nothing_shared)


def test_a_set_added_to_the_evaluation_later_does_not_block_the_comparison() -> None:
    newer = copy.deepcopy(AFTER)
    newer["datasets"]["supportive_statements"] = 1463
    check_comparable(BEFORE, newer)  # the shared sets match: comparable
    rows = {r[0]: r for r in metric_rows(BEFORE, newer)}
    assert rows["supportive statements sent to review"][1] == "-"


def test_load_report_names_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such report"):
        load_report(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(ReportError, match="not JSON"):
        load_report(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text('{"rows": {}}', encoding="utf-8")
    with pytest.raises(ReportError, match="not a models.evaluate report"):
        load_report(tmp_path / "other.json")


def test_cli_prints_markdown_and_exits_2_on_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    before.write_text(json.dumps(BEFORE), encoding="utf-8")
    after.write_text(json.dumps(AFTER), encoding="utf-8")
    assert main([str(before), str(after), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "before: old (concat)   after: new (concat)" in out
    assert "| obf_leet | hateful | 90 | 0.500 | 0.700 | 0.400 | 0.600 |" in out
    assert main([str(before), str(tmp_path / "nope.json")]) == 2
    assert "no such report" in capsys.readouterr().err


def test_the_bundled_report_loads() -> None:
    report = load_report(Path(__file__).parents[2] / "models" / "eval" / "report.json")
    rows = metric_rows(report, report)
    # Every metric's path exists in a real report (a wrong key would show "-" and go unnoticed).
    assert all(row[1] != "-" and row[3] == "=" for row in rows), rows


def _with_outcomes(
    tmp_path: Path, name: str, report: dict[str, Any], result: VariantOutcomes, fingerprint: str
) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**report, "posts_fingerprint": fingerprint}), encoding="utf-8")
    save_outcomes(outcomes_path(path), {"concat": result}, fingerprint)
    return path


def test_changes_get_paired_intervals_when_both_reports_scored_the_same_posts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before_outcomes = outcomes()
    labels, scores = before_outcomes.hatexplain_toxic
    # the later checkpoint ranks the same HateXplain posts much better
    after_outcomes = VariantOutcomes(
        **{**before_outcomes.__dict__, "hatexplain_toxic": (labels, scores + labels)}
    )
    before = _with_outcomes(tmp_path, "before", BEFORE, before_outcomes, "same-posts")
    after = _with_outcomes(tmp_path, "after", AFTER, after_outcomes, "same-posts")
    assert main([str(before), str(after)]) == 0
    out = capsys.readouterr().out
    assert "changes with paired 95 % intervals" in out
    auroc_line = next(line for line in out.splitlines() if line.startswith("hatexplain_toxic_auroc"))
    assert "better [+" in auroc_line and "beyond noise" in auroc_line
    ood_line = next(
        line for line in out.splitlines() if line.startswith("ood_benign_bland_caption_flag_rate")
    )
    assert "[+0.000, +0.000]" in ood_line and "beyond noise" not in ood_line  # the same flags both times
    # the misspelling check's changes are paired too (the same misspelling outcomes both times)
    misspelt_line = next(line for line in out.splitlines() if line.startswith("misspelt: benign flagged"))
    assert "[+0.000, +0.000]" in misspelt_line


def test_without_matching_outcomes_the_comparison_says_why_there_are_no_paired_intervals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _with_outcomes(tmp_path, "before", BEFORE, outcomes(), "posts-1")
    after = _with_outcomes(tmp_path, "after", AFTER, outcomes(), "posts-2")
    assert main([str(before), str(after)]) == 0
    assert "the two reports scored different posts" in capsys.readouterr().out
    outcomes_path(after).unlink()
    assert main([str(before), str(after)]) == 0
    assert "no per-post outcomes" in capsys.readouterr().out
    # outcomes left beside a report by another evaluation are not taken for its own
    after = _with_outcomes(tmp_path, "after", AFTER, outcomes(), "posts-1")
    after.write_text(json.dumps({**AFTER, "posts_fingerprint": "posts-3"}), encoding="utf-8")
    assert main([str(before), str(after)]) == 0
    assert "is not the outcomes of" in capsys.readouterr().out
