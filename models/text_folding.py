"""Undo two disguises before tokenising: look-alike letters and letter-spaced words.

People write "hаte" with a Cyrillic а, or "h a t e", to get past filters. The tokenizer would
see an unknown symbol or four one-letter words, so the text tower never sees the word. Both
are undone here, for every text the model reads (captions and image text, in training, in
evaluation and in the service):

- NFKC folds compatibility forms (full-width letters, mathematical bold/italic letters, ligatures)
  into plain letters;
- in a word that mixes Latin letters with Cyrillic or Greek look-alikes, the look-alikes become
  the Latin letters they imitate. A word written wholly in Cyrillic or Greek is left alone;
- a run of three or more single letters separated by single spaces ("h a t e") is joined (a
  leading "I" or "a" before four or more letters stays a word). Real text rarely has such runs
  (initials are written "J. R. R.", with dots).
"""

from __future__ import annotations

import re
import unicodedata

#: Cyrillic and Greek letters that look like a Latin letter in common fonts.
LOOKALIKES: dict[str, str] = {
    "а": "a", "в": "b", "с": "c", "е": "e", "һ": "h", "і": "i", "ј": "j", "к": "k", "м": "m",
    "н": "h", "о": "o", "р": "p", "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y",
    "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t",
    "υ": "u", "χ": "x", "Α": "A", "Β": "B", "Ε": "E", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Χ": "X", "Υ": "Y", "Ζ": "Z",
}  # fmt: skip
_TABLE = str.maketrans(LOOKALIKES)
_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[A-Za-z]")
_SPACED = re.compile(r"(?<!\S)(?:[^\W\d_] ){2,}[^\W\d_](?!\S)")


def _fold_word(match: re.Match[str]) -> str:
    word = match.group(0)
    if _LATIN.search(word) and any(ch in LOOKALIKES for ch in word):
        return word.translate(_TABLE)
    return word


def fold_disguises(text: str) -> str:
    """``text`` with compatibility forms, mixed-script look-alikes and letter-spacing undone."""
    text = unicodedata.normalize("NFKC", text)
    text = _WORD.sub(_fold_word, text)
    return _SPACED.sub(_join_run, text)


def _join_run(match: re.Match[str]) -> str:
    run = match.group(0)
    # "I h a t e" and "a t r a p": a leading one-letter word stays a word when four letters follow
    if run[0] in "IaA" and len(run) >= 9:
        return run[:2] + run[2:].replace(" ", "")
    return run.replace(" ", "")
