"""Which language a post's text is written in, to know when the classifier cannot judge it.

The classifier's text tower (all-MiniLM-L6-v2) and every training text are English: on other
languages its scores mean little (plain hate in Spanish scores hate 0.07), so a post in another
language would be allowed on scores that say nothing. The policy's ``[languages]`` rule
(service/moderation/policy.py) sends such posts to review instead; this module tells them apart.

The identifier is py3langid's bundled naive-Bayes model (a fork of langid.py, BSD-3-Clause; 142
languages; weights inside the wheel, so nothing is downloaded). A text is read as another
language only when the identifier can tell, measured on English test sets and on the project's
own posts in 15 other languages (``python -m models.language_check``):

- at least :data:`MIN_LETTERS` letters once links, @mentions, #hashtags, dataset placeholders
  (``<user>``) and digits are set aside ("lol", "trop drôle" cannot be told apart reliably);
  an ideograph, kana or hangul syllable counts as two letters (one carries about a word);
- the supported languages together get at most :data:`MAX_SUPPORTED_SHARE` of the probability,
  and the most likely language at least :data:`MIN_TOP_CONFIDENCE` (gibberish, names and
  romanised languages the model does not know spread their probability thin: unknown is not
  "another language").
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MAX_SUPPORTED_SHARE",
    "MIN_LETTERS",
    "MIN_TOP_CONFIDENCE",
    "LanguageIdentifier",
    "LanguageReading",
    "language_identifier",
]

#: Fewer letters than this (after :func:`letters_of`) and the text's language is not judged.
MIN_LETTERS = 12
#: Another language only if the supported languages get at most this share of the probability.
MAX_SUPPORTED_SHARE = 0.01
#: ... and the most likely language at least this much.
MIN_TOP_CONFIDENCE = 0.5

# Not language: links, @mentions, #hashtags, dataset placeholders (<user>, <number>), digits.
_NOT_LANGUAGE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+|<\w+>|[\d_]+")


@dataclass(frozen=True)
class LanguageReading:
    """What the identifier made of one text."""

    #: The most likely language (ISO 639-1 or 639-3 code, as py3langid names it).
    language: str
    #: Its probability (the identifier's probabilities are normalised over its 142 languages).
    confidence: float
    #: The probability of the supported languages together.
    supported_share: float
    #: Letters counted for the length rule (see :func:`letters_of`).
    letters: int
    #: True when the text is long enough and clearly in a language outside the supported ones.
    other: bool


def strip_non_language(text: str) -> str:
    """``text`` without links, @mentions, #hashtags, ``<placeholders>`` and digits."""
    return " ".join(_NOT_LANGUAGE.sub(" ", text).split())


def letters_of(text: str) -> int:
    """Letters in ``text``; an ideograph, kana or hangul syllable counts two (it carries about as
    much as a short word, so a 10-character Chinese sentence is as telling as a 20-letter one)."""
    count = 0
    for char in text:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        count += 2 if name.startswith(("CJK", "HIRAGANA", "KATAKANA", "HANGUL")) else 1
    return count


class LanguageIdentifier:
    """py3langid's model with the rule above; read-only after construction (thread-safe)."""

    def __init__(self) -> None:
        try:
            from py3langid.langid import MODEL_FILE
            from py3langid.langid import LanguageIdentifier as _Model
        except ImportError as error:  # pragma: no cover - a broken install, not a code path
            raise RuntimeError(
                "py3langid is not installed: it is a postguard dependency (pip install -e .)"
            ) from error
        # ~0.7 s and ~80 MB resident (measured): the model's arrays, decompressed from the wheel.
        self._model: Any = _Model.from_model_file(MODEL_FILE, norm_probs=True)
        self.languages: tuple[str, ...] = tuple(str(code) for code in self._model.nb_classes)

    def read(self, text: str, supported: Collection[str]) -> LanguageReading:
        """The language of ``text`` and whether it is another language than ``supported``."""
        cleaned = strip_non_language(text)
        letters = letters_of(cleaned)
        ranked = self._model.rank(cleaned) if cleaned else [("en", 1.0)]
        language, confidence = str(ranked[0][0]), float(ranked[0][1])
        supported_share = float(sum(p for code, p in ranked if code in supported))
        other = (
            letters >= MIN_LETTERS
            and supported_share <= MAX_SUPPORTED_SHARE
            and confidence >= MIN_TOP_CONFIDENCE
            and language not in supported
        )
        return LanguageReading(language, confidence, supported_share, letters, other)

    def first_other(self, texts: Sequence[str], supported: Collection[str]) -> LanguageReading | None:
        """The reading of the first of ``texts`` written in another language, or ``None``."""
        for text in texts:
            reading = self.read(text, supported)
            if reading.other:
                return reading
        return None


_lock = threading.Lock()
_identifier: LanguageIdentifier | None = None


def language_identifier() -> LanguageIdentifier:
    """The process's one identifier, loaded on first use (not at import: ~0.7 s)."""
    global _identifier
    with _lock:
        if _identifier is None:
            _identifier = LanguageIdentifier()
        return _identifier
