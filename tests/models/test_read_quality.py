"""Read quality: OCR's repaired read against the text the image shows."""

from __future__ import annotations

import math

from models.read_quality import ReadQuality, word_edits, words


def test_words_ignore_case_and_punctuation() -> None:
    assert words("They're NOT welcome, here!") == ["they're", "not", "welcome", "here"]


def test_word_edits_count_substitutions_insertions_and_deletions() -> None:
    shown = "they are roman i people".split()
    assert word_edits("they are roman i people".split(), shown) == 0
    assert word_edits("they are romani people".split(), shown) == 2  # one substituted, one missing
    assert word_edits("STOP they are roman i people".split(), shown) == 1  # one inserted
    assert word_edits([], shown) == 5 and word_edits(shown, []) == 5


def test_read_quality_over_a_set() -> None:
    quality = ReadQuality.of(
        [
            ("romani people are lazy", "Romani people are lazy."),  # exact
            ("roman i people are lazy", "Romani people are lazy"),  # 2 edits of 4 words
            ("anything", ""),  # shows no words: left out
        ]
    )
    assert quality.images == 2 and quality.read_exactly == 0.5
    assert quality.word_error_rate == 2 / 8
    assert quality.as_dict() == {"images": 2, "word_error_rate": 0.25, "read_exactly": 0.5}


def test_an_empty_set_has_no_rates() -> None:
    quality = ReadQuality.of([])
    assert quality.images == 0 and math.isnan(quality.word_error_rate) and math.isnan(quality.read_exactly)
