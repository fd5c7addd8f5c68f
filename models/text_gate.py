"""A cheap "does this image hold text?" test, so OCR (~0.3 s an image) runs only where it can pay.

Rendered text — outlined meme lettering, a caption bar, a card — is a band of rows crossed by many
sharp, high-contrast vertical strokes. Photos have edges too, but rarely that many strong
transitions packed into one band of rows. The score is the densest band's share of strong
horizontal transitions on a 256 px greyscale copy (about 3 ms an image, no model).

Measured on rendered memes against COCO photos (docs/performance.md): the default threshold keeps
every meme of the benchmark set (recall 1.0) while skipping OCR on most plain photos. A missed
meme loses its image text, so the threshold leans towards recall; set it to 0 to OCR every image.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

#: Longest side of the copy the score is computed on: enough for 12 px meme text on a 512 px image.
GATE_SIDE = 256
#: A greyscale step between neighbouring pixels at least this large counts as a stroke edge (0-255).
EDGE_STEP = 60
#: Rows in the band that is searched for text (about one line of meme text at GATE_SIDE).
BAND_ROWS = 8
#: Default threshold on :func:`text_likelihood`: memes scored >= 0.148, COCO photos 95 % <= 0.09.
DEFAULT_THRESHOLD = 0.11


def text_likelihood(image: Image.Image) -> float:
    """Share of strong horizontal transitions in the densest band of rows, in [0, 1]."""
    grey = image.convert("L")
    if max(grey.size) > GATE_SIDE:
        grey.thumbnail((GATE_SIDE, GATE_SIDE), Image.Resampling.BILINEAR)
    pixels = np.asarray(grey, dtype=np.int16)  # (height, width)
    if pixels.shape[0] < 2 or pixels.shape[1] < 2:
        return 0.0
    strong = np.abs(np.diff(pixels, axis=1)) > EDGE_STEP  # (height, width - 1)
    row_density = strong.mean(axis=1)  # (height,)
    rows = min(BAND_ROWS, row_density.shape[0])
    band = np.convolve(row_density, np.ones(rows) / rows, mode="valid")
    return float(band.max())


class TextGate:
    """Says whether an image is worth OCR; ``threshold`` 0 sends every image to OCR."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self.threshold = threshold

    def likely_has_text(self, image: Image.Image) -> bool:
        return self.threshold <= 0.0 or text_likelihood(image) >= self.threshold
