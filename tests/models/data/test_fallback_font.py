"""Glyph fallback in the meme generator (models/data/fallback_font.py): look-alike letters in a
Latin-only face are drawn as letters, not as empty boxes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from models.data.fallback_font import borrows_glyphs, draw_text
from models.data.memes import FONT_CHOICES, MemeSpec, _fallback_path, _font, font_path, render_meme
from models.ocr import OcrEngine

LATIN = "they are vermin"
#: the same words with a Cyrillic "е" and "і" (what the suite's homoglyph cases do)
LOOK_ALIKE = "thеy are vеrmіn"
HELD_OUT_FACE = FONT_CHOICES["held_out"][0]  # Lato Black: no Cyrillic


def _drawn(text: str, *, fallback: bool) -> np.ndarray:
    font = _font(HELD_OUT_FACE, 40)
    image = Image.new("L", (420, 70), 255)
    draw = ImageDraw.Draw(image)
    if fallback:
        draw_text(draw, (10, 10), text, font, fill=0)
    else:  # what Pillow alone draws: the face's empty box for a glyph it lacks
        draw.text((10, 10), text, font=font.primary, fill=0)
    return np.asarray(image, dtype=np.float32)


def _ink(image: np.ndarray) -> np.ndarray:
    """The glyph's ink cropped to its bounding box, on a fixed 24x32 grid (shape, not position)."""
    rows, cols = np.nonzero(image < 128)
    crop = image[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    return np.asarray(Image.fromarray(crop.astype(np.uint8)).resize((24, 32)), dtype=np.float32) < 128


def test_a_latin_only_face_borrows_cyrillic_look_alikes_and_nothing_else() -> None:
    fallback = _fallback_path()
    assert fallback, "DejaVu Sans Bold must be installed for glyph fallback"
    held_out = font_path(HELD_OUT_FACE)
    assert borrows_glyphs(held_out, fallback, LOOK_ALIKE)
    assert not borrows_glyphs(held_out, fallback, LATIN)
    assert not borrows_glyphs(fallback, fallback, LOOK_ALIKE)  # the fallback face covers them itself
    assert not borrows_glyphs(held_out, fallback, "lol \N{CJK UNIFIED IDEOGRAPH-5B57}")  # neither face has it


@pytest.mark.parametrize(("look_alike", "letter"), [("а", "a"), ("е", "e"), ("і", "i"), ("о", "o")])
def test_a_look_alike_is_drawn_like_the_letter_it_imitates(look_alike: str, letter: str) -> None:
    latin = _ink(_drawn(letter, fallback=True))
    with_fallback = _ink(_drawn(look_alike, fallback=True))
    # another face's design of the same letter: ~0.84-0.96 of the grid agrees; Lato's empty box
    # (a "?" in a frame, what Pillow alone draws) agrees on ~0.31-0.40
    assert (with_fallback == latin).mean() > 0.75
    assert (_ink(_drawn(look_alike, fallback=False)) == latin).mean() < 0.5


def test_latin_text_is_drawn_exactly_as_pillow_draws_it() -> None:
    assert np.array_equal(_drawn(LATIN, fallback=True), _drawn(LATIN, fallback=False))
    font = _font(HELD_OUT_FACE, 40)
    assert font.getlength(LATIN) == font.primary.getlength(LATIN)


def test_ocr_reads_look_alike_letters_in_a_held_out_meme() -> None:
    spec = MemeSpec(LOOK_ALIKE, "color:40,60,90", "chat_bubble", HELD_OUT_FACE, 44, 0.0, 0)
    read = "".join(OcrEngine().read(render_meme(spec)).lower().split())
    assert "vermin" in read, read


@pytest.mark.parametrize(
    ("text", "face", "changed"),
    [(LATIN, HELD_OUT_FACE, False), (LOOK_ALIKE, 0, False), (LOOK_ALIKE, HELD_OUT_FACE, True)],
)
def test_a_cache_key_changes_only_where_the_image_changed(text: str, face: int, changed: bool) -> None:
    spec = MemeSpec(text, "color:40,60,90", "card", face, 40, 0.0, 0)
    before = hashlib.sha256(repr(spec).encode()).hexdigest()[:24]  # the key before glyph fallback
    assert (spec.key() != before) is changed
