"""Real misspellings for the evaluation (models/suite/misspellings.py)."""

from __future__ import annotations

import random

import pytest

from models.data.typos import SLIPS
from models.suite import misspellings as module
from models.suite.misspellings import Misspellings, MisspellingsUnavailableError, parse_dictionary


def test_parse_keeps_plain_words_with_one_correction() -> None:
    parsed = parse_dictionary(
        "teh->the\nthier->their\nabou->about, abound\nAmercia->America\n1nd->1st\nhte->the\nnotes\n"
    )
    assert parsed == {"the": ("hte", "teh"), "their": ("thier",)}


def test_misspell_replaces_one_known_word_in_its_case() -> None:
    known = Misspellings({"the": ("teh",), "people": ("peopel",)}, "test")
    assert known.misspell("THE END", random.Random(0)) == "TEH END"
    assert known.misspell("The end", random.Random(0)) == "Teh end"
    made = {known.misspell("the people here", random.Random(seed)) for seed in range(30)}
    assert made == {"teh people here", "the peopel here"}  # one word, either of the known ones
    assert known.misspell("nothing known here", random.Random(0)) is None
    # whole words only: "then" and "theme" are not "the"
    assert known.misspell("then theme", random.Random(0)) is None
    # a dataset's placeholder is not a word anyone typed
    assert known.misspell("<the> said hi", random.Random(0)) is None


def test_installed_list_is_large_and_real() -> None:
    loaded = Misspellings.load()
    assert loaded.source.startswith("codespell ")
    assert len(loaded.by_word) > 10_000
    assert "teh" in loaded.by_word["the"] and "becuase" in loaded.by_word["because"]


def test_installed_list_is_not_the_training_generator() -> None:
    """About half the real misspellings are one synthetic slip from their word; the rest are
    phonetic spellings or several edits, which the training augmentation never makes, so the check
    measures more than the augmentation teaches."""
    loaded = Misspellings.load()
    rng = random.Random(0)
    reachable = total = 0
    for word in sorted(loaded.by_word)[::40]:
        synthetic = {slip(word, rng) for slip in SLIPS for _ in range(40)}
        total += len(loaded.by_word[word])
        reachable += sum(wrong in synthetic for wrong in loaded.by_word[word])
    assert total > 1000
    assert 0.3 < reachable / total < 0.6


def test_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(name: str) -> str:
        raise module.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(module.metadata, "version", absent)
    with pytest.raises(MisspellingsUnavailableError, match="make setup"):
        Misspellings.load()
