"""The frequency-ranked vocabulary the OCR repair reads image text with (``ocr_vocabulary.txt``).

RapidOCR's recogniser glues English words together ("youpeopleare vermin"), drops and doubles
letters; :mod:`models.ocr_spelling` reads such text back as the cheapest sequence of words, the
classic word-segmentation recipe. This module holds what it costs a word by: a vocabulary built
from the training texts, saved with the checkpoint, ranked from most to least frequent, and each
word's Zipf cost.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


class WordSegmenter:
    """A vocabulary ordered from most to least frequent, with each word's Zipf cost (the segmenter
    of :mod:`models.ocr_spelling` reads with it)."""

    def __init__(self, words: Iterable[str]) -> None:
        ordered = [w for w in dict.fromkeys(w.strip().lower() for w in words) if w]
        self.words = ordered
        scale = math.log(max(len(ordered), 2))
        # Zipf's law: a word's probability ~ 1 / (rank * log N); the cost is its negative log.
        self._cost = {word: math.log((rank + 1) * scale) for rank, word in enumerate(ordered)}

    @classmethod
    def from_texts(cls, texts: Iterable[str], *, size: int = 40_000, min_count: int = 2) -> WordSegmenter:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(_WORD.findall(text.lower()))
        # Single letters other than 'a' and 'i' are mostly noise; keep them out of the vocabulary.
        ranked = [w for w, c in counts.most_common() if c >= min_count and (len(w) > 1 or w in ("a", "i"))]
        return cls(ranked[:size])

    def widened(self, general: Iterable[str]) -> WordSegmenter:
        """This vocabulary followed by the words of ``general`` (ranked most frequent first) that it
        lacks. Its own words keep their ranks: they are what posts say, and a word the training
        texts never use is rarer in posts than any they do, whatever its rank in books."""
        return WordSegmenter([*self.words, *general])

    def save(self, path: Path) -> None:
        path.write_text("\n".join(self.words) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> WordSegmenter:
        return cls(path.read_text(encoding="utf-8").splitlines())

    def __contains__(self, word: str) -> bool:
        return word in self._cost

    def cost(self, word: str) -> float | None:
        """The word's Zipf cost (lower = more frequent); None for a word outside the vocabulary."""
        return self._cost.get(word)
