"""Seeded keyboard slips: the misspellings people make without meaning to.

Obfuscation (:mod:`models.data.obfuscation`) disguises the one word a filter would catch, on
purpose. A typo lands on any word, by accident: a neighbouring key hit instead, two letters
swapped, one dropped or doubled. Harmful and benign texts get them alike, and a typo never
changes what a text means, so typo'd copies with unchanged labels are meant to teach the heads
that a misspelling is no sign of harm (a benign caption with one slip can read like a disguised
slur: docs/model_card.md, "Typos"). Measured with 4,000 texts and not adopted: it did not take
the damage of real misspellings away beyond noise (docs/training/typo_experiment.md).

The evaluation does not use this module: it measures typos with real people's misspellings
(:mod:`models.suite.misspellings`, Wikipedia's list of common misspellings), so a gain here has to
carry over from synthetic slips to real ones.
"""

from __future__ import annotations

import random
import re

from .obfuscation import add_char, delete_char, swap_adjacent

#: Rows of a US QWERTY keyboard; a slip hits a key beside the intended one in the same row.
_KEY_ROWS: tuple[str, ...] = ("qwertyuiop", "asdfghjkl", "zxcvbnm")

#: Words a slip can land on: letters only, three or more (a slip in "a" or "to" changes the word).
_SLIPPABLE = re.compile(r"\b[^\W\d_]{3,}\b")


def _neighbour_key(letter: str, rng: random.Random) -> str:
    lower = letter.lower()
    for row in _KEY_ROWS:
        index = row.find(lower)
        if index >= 0:
            choices = [row[i] for i in (index - 1, index + 1) if 0 <= i < len(row)]
            hit = rng.choice(choices)
            return hit.upper() if letter.isupper() else hit
    return letter


def neighbour_key(word: str, rng: random.Random) -> str:
    """One letter (never the first: people rarely slip on it) replaced by a key beside it."""
    positions = [i for i in range(1, len(word)) if word[i].lower() in "".join(_KEY_ROWS)]
    if not positions:
        return word
    i = rng.choice(positions)
    return word[:i] + _neighbour_key(word[i], rng) + word[i + 1 :]


#: The four slips, as functions of one word; each changes a word of 3+ letters.
SLIPS = (neighbour_key, swap_adjacent, delete_char, add_char)


def with_typos(text: str, rng: random.Random, *, words: int = 1) -> str:
    """``text`` with ``words`` of its 3+-letter words (distinct, chosen at random) each given one
    random slip; unchanged when it has no such word."""
    spans = [match.span() for match in _SLIPPABLE.finditer(text)]
    chosen = sorted(rng.sample(spans, min(words, len(spans))), reverse=True)
    out = text
    for start, end in chosen:  # right to left: earlier offsets stay valid
        slip = SLIPS[rng.randrange(len(SLIPS))]
        out = out[:start] + slip(out[start:end], rng) + out[end:]
    return out
