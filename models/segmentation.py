"""Restoring the spaces OCR drops ("youpeopleare vermin" -> "you people are vermin").

RapidOCR's recogniser often glues English words together, which turns them into meaningless
word pieces for the text tower. A frequency-ranked vocabulary (built from the training texts and
saved with the checkpoint) and a Viterbi split with Zipf costs — the classic word-segmentation
recipe — put the spaces back. Tokens that are already words are left alone.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
MAX_WORD_LENGTH = 20
#: A run of letters, with the apostrophes of contractions inside it ("i'mgoingto"): the vocabulary
#: holds "i'm", "don't", "there's", so a glued contraction splits like any other word. Splitting
#: only the letters after the apostrophe would read "i'mgoingto" as "i'mg oi ngto".
_RUN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")
#: Shorter runs are left alone: too few letters to tell two glued words from an unknown one.
MIN_RUN_LENGTH = 6


class WordSegmenter:
    """Splits glued-together words using a vocabulary ordered from most to least frequent."""

    def __init__(self, words: Iterable[str]) -> None:
        ordered = [w for w in dict.fromkeys(w.strip().lower() for w in words) if w]
        self.words = ordered
        scale = math.log(max(len(ordered), 2))
        # Zipf's law: a word's probability ~ 1 / (rank * log N); the cost is its negative log.
        self._cost = {word: math.log((rank + 1) * scale) for rank, word in enumerate(ordered)}
        self._unknown = math.log((len(ordered) + 1) * scale) * 3

    @classmethod
    def from_texts(cls, texts: Iterable[str], *, size: int = 40_000, min_count: int = 2) -> WordSegmenter:
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(_WORD.findall(text.lower()))
        # Single letters other than 'a' and 'i' are mostly noise; keep them out of the vocabulary.
        ranked = [w for w, c in counts.most_common() if c >= min_count and (len(w) > 1 or w in ("a", "i"))]
        return cls(ranked[:size])

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

    def split_word(self, token: str) -> list[str]:
        """Best split of one lower-case token into vocabulary words (the token itself if none is better)."""
        n = len(token)
        best = [0.0] + [math.inf] * n
        back = [0] * (n + 1)
        for end in range(1, n + 1):
            for start in range(max(0, end - MAX_WORD_LENGTH), end):
                piece = token[start:end]
                cost = best[start] + self._cost.get(piece, self._unknown * len(piece))
                if cost < best[end]:
                    best[end], back[end] = cost, start
        pieces, end = [], n
        while end > 0:
            pieces.append(token[back[end] : end])
            end = back[end]
        return pieces[::-1]

    def fix_spacing(self, text: str) -> str:
        """Re-insert missing spaces inside every alphabetic run that is not already a known word."""

        def repair(match: re.Match[str]) -> str:
            run = match.group(0)
            lower = run.lower()
            if len(run) < MIN_RUN_LENGTH or lower in self._cost:
                return run
            pieces = self.split_word(lower)
            return " ".join(pieces) if len(pieces) > 1 and all(p in self._cost for p in pieces) else run

        return " ".join(_RUN.sub(repair, token) for token in text.split())
