"""Stray words for the evaluation: what a real read of a meme holds besides the meme's words.

OCR reads everything legible in an image: a brand on a bottle in the photo, a road sign, a
number plate, a shop's opening hours, a handle, a watermark. A classifier must score a post by
what it says, whatever stray words stand beside it. ``python -m models.evaluate`` scores every
suite case again as a text post with one of these appended or prepended
(``functional_text_with_stray``): a hateful case must still be caught, and a benign one still
left alone.

Written for evaluation only, in our own words; training never uses this list (a training run
that learns to ignore strays must draw its own, or this becomes a measure of memorisation).
"""

from __future__ import annotations

import numpy as np

STRAYS: tuple[str, ...] = (
    "OPEN 24H",
    "EXIT",
    "No. 7",
    "1998",
    "42",
    "@weekend_giggles",
    "SALE",
    "KOVA",
    "Marlo's",
    "Route 9",
    "BRAVO",
    "Zentra",
    "Sports Bar",
    "FREE WIFI",
    "P-105",
    "Kiosk",
    "2019",
    "@just_vibes_daily",
    "repost",
    "via snapmeme",
)


def with_stray(text: str, rng: np.random.Generator) -> str:
    """``text`` with one stray from :data:`STRAYS`, after it (7 times in 10) or before it."""
    stray = STRAYS[int(rng.integers(len(STRAYS)))]
    return f"{text} {stray}" if rng.random() < 0.7 else f"{stray} {text}"
