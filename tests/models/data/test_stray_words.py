"""Training strays (models/data/stray_words.py): varied, made up, never the evaluation's."""

from __future__ import annotations

import random
import re

from models.data.stray_words import random_stray, with_strays
from models.suite.strays import STRAYS


def test_strays_are_varied_and_never_share_a_word_with_the_evaluations() -> None:
    rng = random.Random(0)
    strays = [random_stray(rng) for _ in range(2000)]
    evaluation_words = {w for s in STRAYS for w in re.findall(r"[a-z0-9]+", s.lower())}
    assert not {w for s in strays for w in re.findall(r"[a-z0-9]+", s.lower())} & evaluation_words
    assert len(set(strays)) > 1500  # mostly made up on the spot, not a list to memorise
    kinds = {
        "handle": any(s.startswith("@") for s in strays),
        "number": any(s.isdigit() for s in strays),
        "code": any(re.fullmatch(r"[A-Z]+-?\d+|\d+[A-Z]+", s) for s in strays),
        "word": any(s.isalpha() and s.isupper() for s in strays),
    }
    assert all(kinds.values()), kinds


def test_made_up_words_never_spell_a_loaded_word() -> None:
    rng = random.Random(1)
    strays = " ".join(random_stray(rng) for _ in range(5000)).lower()
    for loaded in ("kike", "nig", "fag", "rape", "kill", "hate"):
        assert loaded not in strays


def test_with_strays_keeps_every_word_in_order() -> None:
    rng = random.Random(2)
    text = "they should all be thrown out"
    positions = set()
    for _ in range(300):
        made = with_strays(text, rng).split()
        remaining = iter(made)
        assert all(word in remaining for word in text.split())  # a subsequence, in order
        assert 1 <= len(made) - len(text.split())
        positions.add(
            "after" if made[:6] == text.split() else "before" if made[-6:] == text.split() else "between"
        )
    assert positions == {"after", "before", "between"}
