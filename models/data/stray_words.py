"""Stray words for training: text that stands beside a post's words without changing what it says.

A real read of a meme holds more than the meme's words: a brand on a bottle in the photo, a shop
sign, a jersey number, a number plate, a handle, an app's watermark. A hateful sentence with
"80" or "memes daily" beside it is still hateful, and a benign one still benign; a text tower
fine-tuned only on clean sentences learns neither, and one stray word can move its sentence
embedding to where benign posts are (docs/training/stray_text_experiment.md).

:func:`random_stray` draws one stray of a random kind, mostly made up on the spot so that no
fixed list is memorised: pronounceable pseudo-words in sign case, numbers, years, prices, codes,
handles, plus a few everyday sign and watermark words written for training. The evaluation has
its own list (``models/suite/strays.py``); :func:`random_stray` never returns one of its words.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from ..suite.strays import STRAYS as EVALUATION_STRAYS

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "tr", "st", "gr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
_CODAS = ("", "", "", "n", "r", "s", "x", "l")

#: Everyday words of signs, labels and meme apps, written for training (none is the
#: evaluation's); neutral on purpose: a stray is never harm and never reassurance.
SIGN_WORDS: tuple[str, ...] = (
    "PARKING",
    "MENU",
    "CAFE",
    "HOTEL",
    "BAKERY",
    "TAXI",
    "PHARMACY",
    "CLOSED",
    "ENTRANCE",
    "PUSH",
    "PULL",
    "TICKETS",
    "GARAGE",
    "LAUNDRY",
    "Fresh Daily",
    "Since 1987",
    "Platform 2",
    "Gate B",
    "made with memeforge",
    "imgzone.net",
    "shared from pixlr",
    "#tbt",
)

#: Lower-cased words of the evaluation's strays: never drawn here.
_EVALUATION_WORDS = frozenset(w for s in EVALUATION_STRAYS for w in re.findall(r"[a-z0-9]+", s.lower()))


#: Made-up words must not spell a slur or a loaded word by chance ("ki" + "ke").
_LOADED_PARTS = (
    "kike", "nig", "fag", "spic", "coon", "chink", "gook", "tard", "slut", "whor", "cunt", "dyke",
    "paki", "rape", "kill", "nazi", "jew", "gay", "dead", "die", "hate", "sex", "porn",
)  # fmt: skip


def _pseudo_word(rng: random.Random) -> str:
    syllables = rng.randint(2, 3)
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))


def _sign_case(word: str, rng: random.Random) -> str:
    return rng.choice((word.upper(), word.capitalize(), word))


def _brand(rng: random.Random) -> str:
    return _sign_case(_pseudo_word(rng), rng)


def _two_words(rng: random.Random) -> str:
    return f"{_brand(rng)} {_brand(rng)}"


def _number(rng: random.Random) -> str:
    return str(rng.choice((rng.randint(0, 99), rng.randint(100, 9999))))


def _year(rng: random.Random) -> str:
    return str(rng.randint(1950, 2030))


def _price(rng: random.Random) -> str:
    return rng.choice(("$", "£", "€", "")) + f"{rng.randint(1, 99)}.{rng.randint(0, 99):02d}"


def _code(rng: random.Random) -> str:
    letters = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(1, 3)))
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(2, 6)))
    return rng.choice((f"{letters}{digits}", f"{letters}-{digits}", f"{digits}{letters}"))


def _handle(rng: random.Random) -> str:
    parts = [_pseudo_word(rng) for _ in range(rng.randint(1, 2))]
    tail = rng.choice(("", "", str(rng.randint(1, 999)), "_official", "_tv"))
    return "@" + rng.choice(("_", ".", "")).join(parts) + tail


def _sign_word(rng: random.Random) -> str:
    return rng.choice(SIGN_WORDS)


_KINDS: tuple[tuple[Callable[[random.Random], str], float], ...] = (
    (_brand, 3.0),
    (_two_words, 1.0),
    (_number, 2.0),
    (_year, 0.7),
    (_price, 0.7),
    (_code, 1.5),
    (_handle, 1.5),
    (_sign_word, 1.5),
)
_MAKERS = [maker for maker, _ in _KINDS]
_WEIGHTS = [weight for _, weight in _KINDS]


def random_stray(rng: random.Random) -> str:
    """One stray of a random kind, never containing a word of the evaluation's strays nor, by
    chance, a loaded word."""
    while True:
        stray = rng.choices(_MAKERS, _WEIGHTS)[0](rng)
        lowered = stray.lower()
        if set(re.findall(r"[a-z0-9]+", lowered)) & _EVALUATION_WORDS:
            continue
        if not any(part in lowered for part in _LOADED_PARTS):
            return stray


def with_strays(text: str, rng: random.Random) -> str:
    """``text`` with one stray (three times in four) or two, each after it, before it or between
    two of its words, as strays land in an OCR read of a picture."""
    words = text.split()
    for _ in range(1 if rng.random() < 0.75 else 2):
        stray = random_stray(rng)
        where = rng.random()
        if where < 0.6:
            words = [*words, stray]
        elif where < 0.85 or len(words) < 2:
            words = [stray, *words]
        else:
            cut = rng.randint(1, len(words) - 1)
            words = [*words[:cut], stray, *words[cut:]]
    return " ".join(words)
