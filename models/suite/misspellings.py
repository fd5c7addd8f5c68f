"""Real misspellings for the evaluation: how people actually get words wrong.

A platform's posts are full of slips ("teh", "becuase", "peopel"), and a slip changes nothing a
post means. ``python -m models.evaluate`` scores test texts again with one word misspelt the way
people misspell it (``models/typo_robustness.py``): a harmful text must still be caught, a benign
one still left alone.

The misspellings come from Wikipedia's "Lists of common misspellings" as the `codespell` package
ships them (``codespell_lib/data/dictionary.txt``, CC BY-SA 3.0; codespell's code is GPL-2.0 and is
never imported: only its data file is read, at evaluation time, and nothing of it is
redistributed). Training never uses this list: its typo augmentation draws synthetic keyboard
slips of its own (``models/data/typos.py``), so a gain measured here has to carry over from
synthetic slips to real ones.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata, resources

from ..errors import ModelError
from ..typed_spelling import in_case_of

#: The package and file the misspellings are read from.
PACKAGE = "codespell"
DICTIONARY = "dictionary.txt"

_WORD = re.compile(r"\b[^\W\d_]+\b")


class MisspellingsUnavailableError(ModelError):
    """The misspellings list (the `codespell` package's data) is not installed."""

    code = "misspellings_unavailable"


@dataclass(frozen=True)
class Misspellings:
    """Each correctly spelt word (lower case) with the misspellings people write for it."""

    by_word: Mapping[str, tuple[str, ...]]
    source: str

    @classmethod
    def load(cls) -> Misspellings:
        """Read the list from the installed `codespell` package; a clear error when it is absent."""
        try:
            version = metadata.version(PACKAGE)
            text = (resources.files("codespell_lib") / "data" / DICTIONARY).read_text(encoding="utf-8")
        except (metadata.PackageNotFoundError, ModuleNotFoundError, FileNotFoundError) as error:
            raise MisspellingsUnavailableError(
                f"the evaluation's misspellings come from the {PACKAGE!r} package's {DICTIONARY}, "
                f"which is not installed ({error}); run `make setup` or `pip install {PACKAGE}`"
            ) from error
        return cls(parse_dictionary(text), f"{PACKAGE} {version} {DICTIONARY}")

    def misspell(self, text: str, rng: random.Random) -> str | None:
        """``text`` with one word (chosen at random among those the list knows) replaced by one of
        its misspellings, in the word's case; None when the list knows none of its words."""
        spans = [
            m.span()
            for m in _WORD.finditer(text)
            if m.group(0).lower() in self.by_word and not _is_placeholder(text, *m.span())
        ]
        if not spans:
            return None
        start, end = spans[rng.randrange(len(spans))]
        word = text[start:end]
        choices = self.by_word[word.lower()]
        return text[:start] + in_case_of(word, choices[rng.randrange(len(choices))]) + text[end:]


def parse_dictionary(text: str) -> dict[str, tuple[str, ...]]:
    """``wrong->right`` lines to ``{right: (wrong, ...)}``, keeping only plain lower-case words with
    one correction (a line with several, "abou->about, abound", is a guess, not a known slip)."""
    by_word: dict[str, list[str]] = defaultdict(list)
    for line in text.splitlines():
        wrong, arrow, right = line.partition("->")
        right = right.strip()
        if not arrow or "," in right:
            continue
        wrong = wrong.strip()
        if wrong.isalpha() and wrong.islower() and right.isalpha() and right.islower() and wrong != right:
            by_word[right].append(wrong)
    return {word: tuple(sorted(wrongs)) for word, wrongs in by_word.items()}


def _is_placeholder(text: str, start: int, end: int) -> bool:
    # A dataset's stand-in for a name or number ("<user>", "<number>" in HateXplain), not a word
    # anyone typed.
    return text[start - 1 : start] == "<" and text[end : end + 1] == ">"
