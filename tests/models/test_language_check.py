"""The language check's report (models/language_check.py): its table and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.language_check import format_report, main


def _report(ocr: bool) -> dict[str, object]:
    return {
        "english": {"hatexplain": {"n": 1000, "other": 2, "rate": 0.002, "examples": ["x"]}},
        "english_overall_rate": 0.002,
        "other_language_told": {"hostile": 1.0, "short": 0.0},
        "other_language_told_by_language": {"es": 1.0},
        "other_language_decisions": {
            "hostile": {"n": 30, "flagged_by_classifier": 0.1, "flagged_with_language_rule": 1.0},
            "short": {"n": 5, "flagged_by_classifier": 0.0, "flagged_with_language_rule": 0.0},
        },
        "ocr": {
            "english_suite_memes": {"n": 300, "other": 0, "rate": 0.0},
            "other_language_memes": {"hostile": 0.3, "short": 0.0},
            "other_language_memes_by_language": {"es": 0.4},
        }
        if ocr
        else {},
        "identifier_us_per_text": {"median": 150.0, "p99": 400.0},
    }


@pytest.mark.parametrize("ocr", [True, False])
def test_the_table_names_each_set_and_the_rule_effect(ocr: bool) -> None:
    table = format_report(_report(ocr))
    assert "hatexplain" in table and "2 /  1000" in table
    assert "flagged by the classifier alone 10%, with the language rule 100%" in table
    assert ("suite memes through OCR" in table) is ocr
    assert ("| 30%" in table) is ocr
    assert "150 us per text" in table


def test_a_missing_data_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--data-dir", str(tmp_path / "absent"), "--output", str(tmp_path / "out.json")])
    assert "is not a folder of the shared data" in capsys.readouterr().err
