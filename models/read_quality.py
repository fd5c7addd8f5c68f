"""How well image text is read: OCR's read, after the repair, against the text the image shows.

The evaluation renders every meme itself, so it knows each image's text. Word error rate (word
edits — substitutions, insertions, deletions — per word of the shown text) and the share of
images read exactly measure the OCR path on its own, apart from what the classifier makes of
the read: a reading change that helps only the classifier's scores on one suite would show no
gain here. Words are compared in lower case, letters, digits and apostrophes only, so
punctuation and spacing inside a line do not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """``text``'s words as the comparison sees them."""
    return _WORD.findall(text.lower())


def word_edits(read: list[str], shown: list[str]) -> int:
    """The fewest word substitutions, insertions and deletions that turn ``read`` into ``shown``."""
    previous = list(range(len(shown) + 1))
    for i, read_word in enumerate(read, 1):
        current = [i]
        for j, shown_word in enumerate(shown, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (read_word != shown_word))
            )
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class ReadQuality:
    """Reads of a set of images against the text each shows."""

    images: int
    word_error_rate: float
    read_exactly: float

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]]) -> ReadQuality:
        """From (read, shown text) pairs; images that show no words are left out."""
        images = exact = edits = shown_words = 0
        for read, shown in pairs:
            truth = words(shown)
            if not truth:
                continue
            distance = word_edits(words(read), truth)
            images += 1
            exact += distance == 0
            edits += distance
            shown_words += len(truth)
        return cls(
            images=images,
            word_error_rate=edits / shown_words if shown_words else float("nan"),
            read_exactly=exact / images if images else float("nan"),
        )

    def as_dict(self) -> dict[str, float | int]:
        return {
            "images": self.images,
            "word_error_rate": self.word_error_rate,
            "read_exactly": self.read_exactly,
        }
