"""Look-alike letters and letter-spaced words are undone before tokenising (models/text_folding.py)."""

from __future__ import annotations

import pytest

from models.text_folding import fold_disguises


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("h\u0430te them", "hate them"),  # Cyrillic а inside a Latin word
        ("\uff48\uff41\uff54\uff45", "hate"),  # full-width letters
        ("you are s c u m", "you are scum"),
        ("I h a t e them", "I hate them"),
        ("J. R. R. Tolkien wrote it", "J. R. R. Tolkien wrote it"),
        ("Привет, как дела", "Привет, как дела"),  # a wholly Cyrillic text is left alone
        ("a b", "a b"),
        ("plain words stay", "plain words stay"),
    ],
)
def test_fold_disguises(text: str, expected: str) -> None:
    assert fold_disguises(text) == expected
