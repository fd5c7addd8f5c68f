"""The general English word list that widens the OCR repair's vocabulary."""

from __future__ import annotations

import pytest

from models import english_words as module
from models.english_words import EnglishWordsUnavailable, english_words, parse_dictionary
from models.ocr_spelling import OcrSpelling
from models.segmentation import WordSegmenter


def test_parse_ranks_by_count_and_keeps_words_of_three_letters_or_more() -> None:
    lines = ["the 900", "strangle 5", "cf 700", "Romani 12", "x-ray 40", "can't 300", "broken", "area ten"]
    assert parse_dictionary(lines) == ["the", "can't", "romani", "strangle"]
    assert parse_dictionary(lines, min_length=2) == ["the", "cf", "can't", "romani", "strangle"]


def test_ties_keep_the_files_order_and_duplicates_count_once() -> None:
    assert parse_dictionary(["bbb 5", "aaa 5", "BBB 4"]) == ["bbb", "aaa"]


def test_the_installed_list_holds_words_the_training_tweets_lack() -> None:
    words = english_words()
    assert len(words) > 80_000 and words[0] == "the"
    assert {"romani", "strangle", "sterilised", "vermin"} <= set(words)
    assert all(len(word.replace("'", "")) >= 3 for word in words)


def test_a_missing_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "PACKAGE", "no_such_word_package")
    with pytest.raises(EnglishWordsUnavailable, match="pip install no_such_word_package"):
        english_words()


def test_a_widened_vocabulary_reads_a_word_the_training_texts_never_used() -> None:
    training = WordSegmenter("i a the are they roman go back to where you from".split())
    assert OcrSpelling(training).repair("they are Romani") == "they are roman i"
    widened = training.widened(english_words())
    assert OcrSpelling(widened).repair("they are Romani") == "they are Romani"
    assert OcrSpelling(widened).repair("gobackto whereyoucamefrom") == "go back to where you came from"
