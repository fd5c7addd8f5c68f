"""The OCR vocabulary: ranked by frequency, each word's Zipf cost, saved with the checkpoint."""

from __future__ import annotations

from pathlib import Path

from models.ocr_spelling import OcrSpelling
from models.segmentation import WordSegmenter

VOCABULARY = (
    "the you a i to people are not welcome here go back where came from therapist rapist is "
    "i'm going hurt there's reason shouldn't be m mg oi ng ngto"
).split()


def test_frequent_words_win_over_rare_ones() -> None:
    """Zipf costs: with 'a' frequent and 'an' rare, 'anapple' is ambiguous; frequency decides."""
    assert OcrSpelling(WordSegmenter(["a", "napple", "apple", "an"])).repair("anapple") == "a napple"
    assert OcrSpelling(WordSegmenter(["an", "apple", "a", "napple"])).repair("anapple") == "an apple"


def test_costs_rise_with_rank_and_unknown_words_have_none() -> None:
    vocabulary = WordSegmenter(VOCABULARY)
    costs = [cost for cost in map(vocabulary.cost, vocabulary.words) if cost is not None]
    assert len(costs) == len(vocabulary.words) and costs == sorted(costs) and "people" in vocabulary
    assert vocabulary.cost("vermin") is None and "vermin" not in vocabulary


def test_from_texts_ranks_by_frequency_and_drops_noise() -> None:
    texts = ["the cat and the dog", "the cat sat", "x marks the spot", "a cat b", "x b"]
    segmenter = WordSegmenter.from_texts(texts, min_count=2)
    assert segmenter.words[:2] == ["the", "cat"]
    assert "x" not in segmenter.words and "b" not in segmenter.words  # single letters other than a/i
    assert "dog" not in segmenter.words  # seen once
    assert WordSegmenter.from_texts(texts, min_count=1, size=3).words == ["the", "cat", "and"]


def test_save_load_round_trip(tmp_path: Path) -> None:
    vocabulary = WordSegmenter(VOCABULARY)
    path = tmp_path / "ocr_vocabulary.txt"
    vocabulary.save(path)
    loaded = WordSegmenter.load(path)
    assert loaded.words == vocabulary.words
    for text in ("youpeopleare vermin", "the therapist is here", "gobackto where youcamefrom"):
        assert OcrSpelling(loaded).repair(text) == OcrSpelling(vocabulary).repair(text)


def test_widened_keeps_its_own_ranks_and_appends_the_words_it_lacks() -> None:
    vocabulary = WordSegmenter(["the", "people", "are"])
    widened = vocabulary.widened(["the", "strangle", "are", "romani"])
    assert widened.words == ["the", "people", "are", "strangle", "romani"]
    costs = [cost for cost in map(widened.cost, widened.words) if cost is not None]
    assert len(costs) == 5 and costs == sorted(
        costs
    )  # an appended word is rarer than any of the vocabulary's own
    assert vocabulary.words == ["the", "people", "are"]  # the original is left as it was
