"""OCR spacing repair: glued words split back, everything else left as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.segmentation import WordSegmenter

VOCABULARY = (
    "the you a i to people are not welcome here go back where came from therapist rapist is "
    "i'm going hurt there's reason shouldn't be m mg oi ng ngto"
).split()


@pytest.fixture
def segmenter() -> WordSegmenter:
    return WordSegmenter(VOCABULARY)


@pytest.mark.parametrize(
    ("glued", "repaired"),
    [
        ("youpeopleare vermin", "you people are vermin"),
        ("gobackto where youcamefrom", "go back to where you came from"),
        ("notwelcomehere", "not welcome here"),
        # A contraction is one word: "mgoingto" split alone, after the apostrophe, gave
        # "I'mg oi ngto" (every piece of that is in this vocabulary, as in the real one).
        ("I'mgoingto hurt", "i'm going to hurt"),
        ("There'sa reason", "there's a reason"),
        ("shouldn'tbe here", "shouldn't be here"),
    ],
)
def test_glued_words_are_split_back(segmenter: WordSegmenter, glued: str, repaired: str) -> None:
    assert segmenter.fix_spacing(glued) == repaired


def test_known_words_are_left_alone(segmenter: WordSegmenter) -> None:
    # "therapist" could be read as "the rapist"; a word in the vocabulary is never split
    assert segmenter.fix_spacing("the therapist is here") == "the therapist is here"
    assert segmenter.fix_spacing("People") == "People"


def test_unknown_and_short_runs_are_left_alone(segmenter: WordSegmenter) -> None:
    assert segmenter.fix_spacing("xyzqwerty") == "xyzqwerty"  # no split into known words
    assert segmenter.fix_spacing("notwelcomezz") == "notwelcomezz"  # a split would leave an unknown piece
    assert segmenter.fix_spacing("goback") == "go back"  # six letters: the shortest repaired run
    assert segmenter.fix_spacing("gohim") == "gohim"  # five letters: left alone


def test_punctuation_placeholders_and_digits_are_preserved(segmenter: WordSegmenter) -> None:
    assert segmenter.fix_spacing("<user> youpeople... <url>") == "<user> you people... <url>"
    assert segmenter.fix_spacing("notwelcome! (gobackhere) 2024") == "not welcome! (go back here) 2024"
    assert segmenter.fix_spacing("#notwelcome @youpeople") == "#not welcome @you people"


def test_whitespace_is_normalised(segmenter: WordSegmenter) -> None:
    assert segmenter.fix_spacing("  you\n\tpeople  ") == "you people"
    assert segmenter.fix_spacing("") == ""


def test_frequent_words_win_over_rare_ones() -> None:
    """Zipf costs: with 'a' frequent and 'an' rare, 'anapple' is ambiguous; frequency decides."""
    assert WordSegmenter(["a", "napple", "apple", "an"]).split_word("anapple") == ["a", "napple"]
    assert WordSegmenter(["an", "apple", "a", "napple"]).split_word("anapple") == ["an", "apple"]


def test_from_texts_ranks_by_frequency_and_drops_noise() -> None:
    texts = ["the cat and the dog", "the cat sat", "x marks the spot", "a cat b", "x b"]
    segmenter = WordSegmenter.from_texts(texts, min_count=2)
    assert segmenter.words[:2] == ["the", "cat"]
    assert "x" not in segmenter.words and "b" not in segmenter.words  # single letters other than a/i
    assert "dog" not in segmenter.words  # seen once
    assert WordSegmenter.from_texts(texts, min_count=1, size=3).words == ["the", "cat", "and"]


def test_save_load_round_trip(segmenter: WordSegmenter, tmp_path: Path) -> None:
    path = tmp_path / "ocr_vocabulary.txt"
    segmenter.save(path)
    loaded = WordSegmenter.load(path)
    assert loaded.words == segmenter.words
    for text in ("youpeopleare vermin", "the therapist is here", "gobackto where youcamefrom"):
        assert loaded.fix_spacing(text) == segmenter.fix_spacing(text)


def test_known_contractions_and_possessives_are_left_alone(segmenter: WordSegmenter) -> None:
    assert segmenter.fix_spacing("There's people's") == "There's people's"
    assert segmenter.fix_spacing("'quoted' rock'n'roll") == "'quoted' rock'n'roll"
