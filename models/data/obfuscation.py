"""Seeded character-level perturbations: the spellings people use to slip words past a filter.

Two users, so nothing here knows about either: the functional test suite (:mod:`models.suite`)
builds its obfuscated-hate cases with :func:`obfuscate`, and training augmentation can perturb any
corpus text the same way. Every function takes plain text (or one word) and a ``random.Random``;
the same seed always gives the same output, so a suite or an augmented epoch can be rebuilt
exactly.

Each word-level function changes its input whenever that is possible at all (a word needs two
different adjacent letters to swap, a letter in the leet or look-alike tables, ...). A
perturbation that silently returned its input would make an "obfuscated" case identical to its
clean source and inflate the score measured on it.

Kinds (``KINDS``), as :func:`obfuscate` names them:

- ``swap``: two adjacent letters swapped (``hate`` -> ``htae``)
- ``delete``: one letter dropped (``hate`` -> ``hte``)
- ``add``: one letter doubled or tripled (``hate`` -> ``haate``)
- ``no_space``: the word glued to its neighbour (``you scum`` -> ``youscum``)
- ``add_space``: spaces between the letters (``hate`` -> ``h a t e``)
- ``leet``: digits and symbols for letters (``hate`` -> ``h47e``)
- ``homoglyph``: Cyrillic/Greek look-alikes for Latin letters (``hate`` -> ``hаte`` with a Cyrillic а)
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence

KINDS: tuple[str, ...] = ("swap", "delete", "add", "no_space", "add_space", "leet", "homoglyph")

#: Leetspeak substitutions, keyed by lower-case letter (upper-case letters use the same table).
LEET: dict[str, tuple[str, ...]] = {
    "a": ("4", "@"),
    "e": ("3",),
    "i": ("1",),
    "o": ("0",),
    "s": ("5", "$"),
    "t": ("7",),
}

#: Latin letter -> code points from other scripts that render (nearly) identically in common fonts.
HOMOGLYPHS: dict[str, tuple[str, ...]] = {
    "a": ("\N{CYRILLIC SMALL LETTER A}",),
    "c": ("\N{CYRILLIC SMALL LETTER ES}",),
    "e": ("\N{CYRILLIC SMALL LETTER IE}",),
    "i": ("\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}",),
    "j": ("\N{CYRILLIC SMALL LETTER JE}",),
    "o": ("\N{CYRILLIC SMALL LETTER O}", "\N{GREEK SMALL LETTER OMICRON}"),
    "p": ("\N{CYRILLIC SMALL LETTER ER}", "\N{GREEK SMALL LETTER RHO}"),
    "s": ("\N{CYRILLIC SMALL LETTER DZE}",),
    "v": ("\N{GREEK SMALL LETTER NU}",),
    "x": ("\N{CYRILLIC SMALL LETTER HA}", "\N{GREEK SMALL LETTER CHI}"),
    "y": ("\N{CYRILLIC SMALL LETTER U}",),
    "A": ("\N{CYRILLIC CAPITAL LETTER A}", "\N{GREEK CAPITAL LETTER ALPHA}"),
    "B": ("\N{CYRILLIC CAPITAL LETTER VE}", "\N{GREEK CAPITAL LETTER BETA}"),
    "C": ("\N{CYRILLIC CAPITAL LETTER ES}",),
    "E": ("\N{CYRILLIC CAPITAL LETTER IE}", "\N{GREEK CAPITAL LETTER EPSILON}"),
    "H": ("\N{CYRILLIC CAPITAL LETTER EN}", "\N{GREEK CAPITAL LETTER ETA}"),
    "I": ("\N{CYRILLIC CAPITAL LETTER BYELORUSSIAN-UKRAINIAN I}", "\N{GREEK CAPITAL LETTER IOTA}"),
    "J": ("\N{CYRILLIC CAPITAL LETTER JE}",),
    "K": ("\N{CYRILLIC CAPITAL LETTER KA}", "\N{GREEK CAPITAL LETTER KAPPA}"),
    "M": ("\N{CYRILLIC CAPITAL LETTER EM}", "\N{GREEK CAPITAL LETTER MU}"),
    "N": ("\N{GREEK CAPITAL LETTER NU}",),
    "O": ("\N{CYRILLIC CAPITAL LETTER O}", "\N{GREEK CAPITAL LETTER OMICRON}"),
    "P": ("\N{CYRILLIC CAPITAL LETTER ER}", "\N{GREEK CAPITAL LETTER RHO}"),
    "S": ("\N{CYRILLIC CAPITAL LETTER DZE}",),
    "T": ("\N{CYRILLIC CAPITAL LETTER TE}", "\N{GREEK CAPITAL LETTER TAU}"),
    "X": ("\N{CYRILLIC CAPITAL LETTER HA}", "\N{GREEK CAPITAL LETTER CHI}"),
    "Y": ("\N{GREEK CAPITAL LETTER UPSILON}",),
    "Z": ("\N{GREEK CAPITAL LETTER ZETA}",),
}

# A word = a run of letters, apostrophes inside allowed ("can't", "they're"); digits and "_" are not letters.
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
_TOKEN = re.compile(r"\S+")


def swap_adjacent(word: str, rng: random.Random) -> str:
    """Swap two adjacent, different letters, keeping the first letter in place when possible.

    Keeping the first letter is how people actually typo-dodge: the word stays readable
    (``vermin`` -> ``vemrin``), which is what makes the case a fair test.
    """
    spots = [
        i
        for i in range(len(word) - 1)
        if word[i].isalpha() and word[i + 1].isalpha() and word[i] != word[i + 1]
    ]
    if not spots:
        return word
    inner = [i for i in spots if i >= 1]
    i = rng.choice(inner or spots)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def delete_char(word: str, rng: random.Random) -> str:
    """Drop one letter (never the first, when the word has others), e.g. ``parasites`` -> ``parsites``."""
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    if len(letters) < 2:
        return word
    i = rng.choice(letters[1:])
    return word[:i] + word[i + 1 :]


def add_char(word: str, rng: random.Random) -> str:
    """Repeat one letter once or twice more, e.g. ``scum`` -> ``scuuum`` (stretched-out spelling).

    Not the first letter when there are others: "FFaggots" reads as a stuck key, not a disguise.
    """
    letters = [i for i, ch in enumerate(word) if ch.isalpha()]
    if not letters:
        return word
    i = rng.choice(letters[1:] or letters)
    return word[: i + 1] + word[i] * rng.randint(1, 2) + word[i + 1 :]


def remove_spaces(text: str, rng: random.Random | None = None) -> str:
    """Glue words together: all of them without ``rng``, else one random run of two or more words.

    The suite glues a keyword to its neighbour through :func:`obfuscate`; augmentation can pass an
    ``rng`` to glue a random stretch of any text.
    """
    tokens = text.split()
    if rng is None or len(tokens) < 2:
        return "".join(tokens)
    start = rng.randrange(len(tokens) - 1)
    stop = rng.randint(start + 2, len(tokens))
    return " ".join([*tokens[:start], "".join(tokens[start:stop]), *tokens[stop:]])


def add_spaces(word: str) -> str:
    """Put a space between every character (``hate`` -> ``h a t e``), defeating whole-word matching."""
    return " ".join(ch for ch in word if not ch.isspace())


def _substitute(word: str, rng: random.Random, table: dict[str, tuple[str, ...]], rate: float) -> str:
    """Replace each letter found in ``table`` with probability ``rate``, and always at least one."""
    spots = [i for i, ch in enumerate(word) if (ch if ch in table else ch.lower()) in table]
    if not spots:
        return word
    chosen = [i for i in spots if rng.random() < rate] or [rng.choice(spots)]
    chars = list(word)
    for i in chosen:
        key = chars[i] if chars[i] in table else chars[i].lower()
        chars[i] = rng.choice(table[key])
    return "".join(chars)


def leetspeak(word: str, rng: random.Random) -> str:
    """Swap some letters for digits/symbols (a->4/@, e->3, i->1, o->0, s->5/$, t->7), at least one."""
    return _substitute(word, rng, LEET, rate=0.5)


def homoglyphs(word: str, rng: random.Random) -> str:
    """Swap some Latin letters for Cyrillic/Greek look-alikes, at least one.

    The text looks unchanged to a reader but no longer matches a Latin-script word list or
    tokenizes like the original, which is exactly the evasion a model must survive.
    """
    return _substitute(word, rng, HOMOGLYPHS, rate=0.5)


_WORD_KINDS: dict[str, Callable[[str, random.Random], str]] = {
    "swap": swap_adjacent,
    "delete": delete_char,
    "add": add_char,
    "add_space": lambda word, _rng: add_spaces(word),
    "leet": leetspeak,
    "homoglyph": homoglyphs,
}


def _target_spans(text: str, targets: Sequence[str] | None) -> list[tuple[int, int]]:
    """Where the salient words are: every whole-word occurrence of a target, else the longest word."""
    spans: list[tuple[int, int]] = []
    for target in targets or ():
        if target.strip():
            pattern = r"(?<!\w)" + re.escape(target.strip()) + r"(?!\w)"
            spans.extend(m.span() for m in re.finditer(pattern, text, flags=re.IGNORECASE))
    if not spans:
        words = [m.span() for m in _WORD.finditer(text)]
        if not words:
            return []
        spans = [max(words, key=lambda span: span[1] - span[0])]  # max() keeps the first of equals
    return _merge(spans)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort spans and fuse overlapping ones, so no character is perturbed twice."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _with_neighbour(text: str, span: tuple[int, int]) -> tuple[int, int]:
    """Widen ``span`` to the previous whitespace-separated token (the next one when it is first).

    The previous one, because a trailing comma or full stop would otherwise end up glued in the
    middle (``parasites,honestly``), which reads as a typo rather than as a disguised word.
    """
    tokens = [m.span() for m in _TOKEN.finditer(text)]
    inside = [i for i, (s, e) in enumerate(tokens) if s < span[1] and e > span[0]]
    if not inside:
        return span
    first, last = inside[0], inside[-1]
    if first > 0:
        first -= 1
    elif last + 1 < len(tokens):
        last += 1
    return (min(span[0], tokens[first][0]), max(span[1], tokens[last][1]))


def obfuscate(text: str, kind: str, rng: random.Random, targets: Sequence[str] | None = None) -> str:
    """Apply one obfuscation ``kind`` (see ``KINDS``) to the salient word(s) of ``text``.

    The salient words are every whole-word, case-insensitive occurrence of the strings in
    ``targets`` (a slur, the hateful keyword of a template); without targets, or when none
    occurs, the longest word. Only those words change, the way a poster disguises the one word a
    filter would catch and leaves the rest readable. ``no_space`` glues the word to its neighbour
    instead, since removing spaces inside a single word does nothing.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown obfuscation kind {kind!r}; expected one of {KINDS}")
    spans = _target_spans(text, targets)
    if kind == "no_space":
        spans = _merge([_with_neighbour(text, span) for span in spans])
    perturb = _WORD_KINDS.get(kind)

    def one_word(match: re.Match[str]) -> str:
        assert perturb is not None
        return perturb(match.group(0), rng)

    out = text
    for start, end in reversed(spans):  # right to left: earlier offsets stay valid
        chunk = out[start:end]
        new = remove_spaces(chunk) if perturb is None else _WORD.sub(one_word, chunk)
        out = out[:start] + new + out[end:]
    return out


def obfuscate_random(
    text: str, rng: random.Random, targets: Sequence[str] | None = None, kinds: Sequence[str] = KINDS
) -> tuple[str, str]:
    """Pick a kind from ``kinds`` with ``rng`` and apply it: the one-call form for training augmentation.

    Returns ``(kind, obfuscated_text)`` so a caller can log or stratify by kind.
    """
    kind = rng.choice(list(kinds))
    return kind, obfuscate(text, kind, rng, targets)
