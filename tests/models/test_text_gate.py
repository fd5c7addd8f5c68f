"""The cheap text-likelihood test that decides which images go through OCR."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.data.memes import MemeSpec, render_meme
from models.text_gate import DEFAULT_THRESHOLD, TextGate, text_likelihood


def _meme(style: str, background: str = "color:40,90,200", size: int = 30) -> Image.Image:
    spec = MemeSpec(
        text="nobody wants your kind here go away now",
        background=background,
        style=style,
        font=0,
        font_size=size,
        noise=0.0,
        jpeg_quality=75,
    )
    return render_meme(spec)


def _photo_like(seed: int) -> Image.Image:
    """Smooth colour gradients with mild noise: edges, but no strokes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:480, 0:640]
    pixels = np.stack([(x * 0.3 + y * 0.1) % 255, (y * 0.4) % 255, np.full_like(x, 120)], axis=-1)
    pixels = pixels + rng.normal(0, 5, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("style", ["outlined_top_bottom", "outlined_center", "caption_bar", "card"])
def test_memes_are_sent_to_ocr(style: str) -> None:
    image = _meme(style)
    assert text_likelihood(image) >= DEFAULT_THRESHOLD
    assert TextGate().likely_has_text(image)


def test_plain_images_are_skipped() -> None:
    assert text_likelihood(Image.new("RGB", (512, 512), (200, 220, 255))) == 0.0
    assert not TextGate().likely_has_text(_photo_like(0))


def test_threshold_zero_sends_everything_to_ocr() -> None:
    assert TextGate(0.0).likely_has_text(Image.new("RGB", (64, 64)))


def test_tiny_images_score_zero() -> None:
    assert text_likelihood(Image.new("RGB", (1, 1))) == 0.0


def test_threshold_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        TextGate(1.5)
