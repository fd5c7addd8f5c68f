"""A general English word list, ranked by frequency, that widens the OCR repair's vocabulary.

The repair (models/ocr_spelling.py) reads image text with a vocabulary of words. Built from the
training texts alone, it cut a word those tweets never use into pieces that are words ("Romani"
-> "roman i") or edited it into a training word one letter away ("strangle" -> "strange"), and
the text tower saw the pieces. This list fills the gaps: the 82,765 words of SymSpell's English frequency dictionary, shipped in the ``symspellpy``
package (MIT; built by intersecting Google Books Ngram counts, CC BY 3.0, with the SCOWL word
lists), read from the installed package: nothing is downloaded. Training merges it behind the
training words (:meth:`models.segmentation.WordSegmenter.widened`) and saves the result in the
checkpoint, so the service never needs the package.
"""

from __future__ import annotations

import re
from importlib import resources

#: The package and the file inside it.
PACKAGE = "symspellpy"
DICTIONARY_FILE = "frequency_dictionary_en_82_765.txt"
#: Shorter words are left out: the list's one- and two-letter entries are mostly abbreviations
#: ("cf", "mw"), and each would let the repair cut a longer token into more pieces.
MIN_LENGTH = 3

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


class EnglishWordsUnavailable(RuntimeError):
    """The word list's package is not installed."""


def parse_dictionary(lines: list[str], *, min_length: int = MIN_LENGTH) -> list[str]:
    """Words of a ``word count`` file, most frequent first, lowercase letters (an apostrophe
    inside) of at least ``min_length`` letters; ties keep the file's order."""
    counted: list[tuple[int, int, str]] = []
    for position, line in enumerate(lines):
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            continue
        word = parts[0].lower()
        if _WORD.fullmatch(word) and len(word.replace("'", "")) >= min_length:
            counted.append((-int(parts[1]), position, word))
    return list(dict.fromkeys(word for _, _, word in sorted(counted)))


def english_words(*, min_length: int = MIN_LENGTH) -> list[str]:
    """The installed list's words, most frequent first (see :func:`parse_dictionary`)."""
    try:
        source = resources.files(PACKAGE) / DICTIONARY_FILE
        text = source.read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as error:
        raise EnglishWordsUnavailable(
            f"the English word list ({DICTIONARY_FILE}) comes from the {PACKAGE} package, which is "
            f"not installed here: pip install {PACKAGE} (postguard's own dependencies include it)"
        ) from error
    return parse_dictionary(text.splitlines(), min_length=min_length)
