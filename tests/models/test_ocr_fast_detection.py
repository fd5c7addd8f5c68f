"""OCR with detection capped at 640 px and no angle classifier reads memes as well (real OCR: slow)."""

from __future__ import annotations

import difflib

import pytest

from models.data.memes import MemeSpec, render_meme
from models.ocr import OcrEngine

TEXT = "you people are not welcome here go back where you came from"


@pytest.mark.slow
def test_fast_detection_reads_a_meme() -> None:
    meme = render_meme(MemeSpec(TEXT, "color:40,90,200", "outlined_top_bottom", 0, 34, 4.0, 75, 512, 512))
    read = OcrEngine(detection_max_side=640, angle_classifier=False).read(meme)
    squeeze = "".join(read.lower().split())
    ratio = difflib.SequenceMatcher(None, squeeze, "".join(TEXT.split())).ratio()
    assert ratio >= 0.9, f"OCR read {read!r} (similarity {ratio:.2f})"
