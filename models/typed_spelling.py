"""Correcting a typed word only when the correction is sure: how a checkpoint reads captions.

One accidental misspelling can turn a plain sentence into hate for the classifier ("it should be
cellebrated": hate 0.99; docs/training/typo_experiment.md). The OCR repair
(``models/ocr_spelling.py``) reads image text back, but it is built to undo disguise: read on typed
text it also rewrites slang and dataset spellings, and the external test sets lose. This reader
is narrower. A token is changed only when all of these hold:

- it is letters only, :data:`MIN_LENGTH` or more, and no word of the checkpoint's vocabulary (the
  training texts' words, slang and dataset spellings included, and general English);
- some general-English word is one edit from it (a letter dropped, added, changed, or two
  neighbours swapped);
- the commonest such word is at least :data:`DOMINANCE` times as common as the next one (by rank
  in the frequency list, Zipf's law: rank r ~ frequency 1/r), so "cellebrated" becomes
  "celebrated" while "baed" (bad? based? bead?) stays as typed.

Before that, a token where digits or symbols stand for letters (leetspeak: "h4te", "k1ll",
"$cum") is read as the word it spells when exactly one reading of its stand-ins is a word of the
vocabulary or of the ranked English list: it has :data:`MIN_LENGTH` or more characters, two or
more letters, at most :data:`~models.ocr_spelling.MAX_STAND_INS` stand-ins, nothing else, and
does not start with a digit ("10am" is a time, not "loam"; "4th", "1st" and "5g" are no words),
nor is it in capitals ending in a digit (a code: "H1N1" is not "HINI").
The stand-ins are the OCR repair's but "!" and "|", which typed text uses as punctuation.

A checkpoint that carries :data:`RANKED_WORDS_FILE` (its ``preprocessor.json`` names it under
``typed_text_spelling``) reads every caption this way before scoring it, in the service and in
evaluation alike (:meth:`models.preprocessing.ModerationProcessor.read_caption`); the ranked list
travels with the checkpoint, so a new release of the word list's package cannot change a
decision. ``python -m models.add_typed_spelling`` gives an existing checkpoint the reading;
``python -m models.text_eval --as-typed`` measures a checkpoint without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from .english_words import english_words
from .ocr_spelling import LETTER_STAND_INS, MAX_STAND_INS, MIN_LETTERS_WITH_STAND_INS, stand_in_readings
from .text_folding import fold_disguises

#: Shortest token corrected: shorter tokens are one edit from too many words.
MIN_LENGTH = 4
#: How many times commoner the best correction must be than the next.
DOMINANCE = 10.0
#: The general-English words a correction may produce, commonest first, in a checkpoint.
RANKED_WORDS_FILE = "typed_spelling_words.txt"

# A run of Latin letters with no other letter or digit (of any script) beside it, nor a symbol
# that stands for a letter or marks a name: "fіlthy" (a Cyrillic і), "backw@rd", "f*ck", "@jonh"
# and "#blessd" are not typed words to correct.
_TOKEN = re.compile(r"(?<![^\W_])(?<![@$#*])[A-Za-z]+(?![^\W_])(?![@$#*])")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: Digits and symbols typed for letters (see the module doc).
TYPED_STAND_INS: dict[str, tuple[str, ...]] = {
    ch: letters for ch, letters in LETTER_STAND_INS.items() if ch not in "!|"
}
# A run of letters, digits, "@" and "$" with at least one letter and one stand-in, and no letter
# or digit (of any script) beside it.
_STAND_IN_TOKEN = re.compile(r"(?<![^\W_])(?=[\w@$]*[A-Za-z])(?=[\w@$]*[0-9@$])[A-Za-z0-9@$]+(?![^\W_])")


def one_edit(word: str) -> set[str]:
    """Every string one deletion, insertion, substitution or adjacent swap from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    changes = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | changes | inserts) - {word}


class SureSpelling:
    """Corrects the tokens of a typed text whose correction is sure (see the module doc)."""

    def __init__(self, known: Iterable[str], ranked: Sequence[str]) -> None:
        """``known``: words never corrected (the checkpoint's vocabulary); ``ranked``: the words a
        correction may produce, commonest first (also never corrected)."""
        self.ranked = list(ranked)
        self._rank = {word: rank for rank, word in enumerate(self.ranked, start=1)}
        # Only the known words that are not ranked ones (the ranked are never corrected either):
        # the vocabulary is mostly English words, and a second set of them cost ~8 MB per process.
        self._known = frozenset(lowered for word in known if (lowered := word.lower()) not in self._rank)

    @classmethod
    def with_english_words(cls, known: Iterable[str]) -> SureSpelling:
        """Corrections into the installed general-English list (:mod:`models.english_words`), never
        of a word in ``known`` (a checkpoint's vocabulary)."""
        return cls(known, english_words())

    def save(self, path: Path) -> None:
        """The ranked words, one per line (the known words travel in the checkpoint's own vocabulary)."""
        path.write_text("\n".join(self.ranked) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path, known: Iterable[str]) -> SureSpelling:
        ranked = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return cls(known, ranked)

    def correction(self, token: str) -> str | None:
        """The sure correction of one lower-case token, or None."""
        if len(token) < MIN_LENGTH or token in self._rank or token in self._known:
            return None
        ranks = sorted((self._rank[w], w) for w in one_edit(token) if w in self._rank)
        if not ranks:
            return None
        if len(ranks) > 1 and ranks[0][0] * DOMINANCE > ranks[1][0]:
            return None
        return ranks[0][1]

    def spelt_word(self, token: str) -> str | None:
        """The one word a token's stand-ins spell ("h4te" -> "hate"), or None (see the module doc)."""
        lower = token.lower()
        stand_ins = sum(ch in TYPED_STAND_INS for ch in lower)
        letters = sum(ch in _LETTERS for ch in lower)
        if (
            len(lower) < MIN_LENGTH
            or letters < MIN_LETTERS_WITH_STAND_INS
            or not 0 < stand_ins <= MAX_STAND_INS
            or lower[0].isdigit()
            or letters + stand_ins != len(lower)
            or (token.upper() == token and token[-1].isdigit())  # a code: "H1N1", "MP3S1"
        ):
            return None
        # the token holds only letters and typed stand-ins, so the OCR repair's readings are its own
        words = {
            reading for reading in stand_in_readings(lower) if reading in self._rank or reading in self._known
        }
        return words.pop() if len(words) == 1 else None

    def read(self, text: str) -> str:
        """``text`` as a caption is read: look-alike letters and letter-spaced words undone first
        (:func:`fold_disguises`, as the tokenizer does), since a word with a Cyrillic letter in it
        ("tranniеs") is a disguise, not a typo; then the words that stand-ins spell ("h4te"); then
        the sure corrections."""
        return self.correct(self.undo_stand_ins(fold_disguises(text)))

    def undo_stand_ins(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(0)
            word = self.spelt_word(token)
            return token if word is None else in_case_of(token, word)

        return _STAND_IN_TOKEN.sub(replace, text)

    def correct(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            token = match.group(0)
            word = self.correction(token.lower())
            return token if word is None else in_case_of(token, word)

        return _TOKEN.sub(replace, text)


def in_case_of(word: str, spelling: str) -> str:
    """``spelling`` (lower case) in the case ``word`` is written in: all capitals, capitalised or
    as it is."""
    if word.isupper() and len(word) > 1:
        return spelling.upper()
    if word[:1].isupper():
        return spelling[:1].upper() + spelling[1:]
    return spelling
