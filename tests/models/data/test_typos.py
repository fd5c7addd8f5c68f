"""Synthetic keyboard slips for training (models/data/typos.py)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from models.data.typos import SLIPS, neighbour_key, with_typos


@pytest.mark.parametrize("slip", SLIPS, ids=lambda f: f.__name__)
def test_every_slip_changes_a_word_and_keeps_its_first_letter(
    slip: Callable[[str, random.Random], str],
) -> None:
    rng = random.Random(0)
    for word in ("horses", "skateboard", "people", "Because"):
        made = slip(word, rng)
        assert made != word and made[0] == word[0]
        assert abs(len(made) - len(word)) <= 2


def test_neighbour_key_hits_a_key_beside_the_intended_one_and_keeps_case() -> None:
    rng = random.Random(1)
    made = neighbour_key("BEACH", rng)
    (position,) = [i for i, (a, b) in enumerate(zip("BEACH", made, strict=True)) if a != b]
    rows = ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")
    row = next(r for r in rows if "BEACH"[position] in r)
    assert made[position] in row and abs(row.index(made[position]) - row.index("BEACH"[position])) == 1


def test_with_typos_changes_the_requested_number_of_words_only() -> None:
    text = "Two people ride horses on the beach at dawn"
    for seed in range(20):
        rng = random.Random(seed)
        for words in (1, 2):
            made = with_typos(text, rng, words=words)
            changed = [a for a, b in zip(text.split(), made.split(), strict=True) if a != b]
            assert len(changed) == words
            assert all(len(word) >= 3 for word in changed)  # "on", "at" are never slipped


def test_with_typos_leaves_a_text_without_long_words_alone() -> None:
    assert with_typos("on it 42", random.Random(0)) == "on it 42"
    assert with_typos("a b c", random.Random(0), words=2) == "a b c"
