"""RapidOCR + spacing repair on a clearly rendered meme (the real OCR models: slow)."""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any

import pytest
from PIL import Image

from devtools.testing import build_tiny_model
from models.data.memes import MemeSpec, render_meme
from models.ocr import OcrEngine, without_edge_marks
from models.preprocessing import ModerationProcessor
from models.segmentation import WordSegmenter

TEXT = "you people are not welcome here go back where you came from"
VOCABULARY = "the you a to of and people are not is here go back where came from welcome in it".split()


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine()


def clear_meme(text: str, **changes: Any) -> Image.Image:
    """Large outlined text on a flat background, no noise: what OCR should read without fail."""
    spec = MemeSpec(
        text=text,
        background="color:40,90,200",
        style="outlined_center",
        font=0,
        font_size=44,
        noise=0.0,
        jpeg_quality=0,
        width=640,
        height=400,
    )
    return render_meme(replace(spec, **changes))


@pytest.mark.slow
def test_ocr_reads_a_clear_meme(engine: OcrEngine) -> None:
    meme = clear_meme(TEXT)
    _, processor = build_tiny_model()
    processor = ModerationProcessor(
        processor.config, processor.tokenizer, ocr=engine, segmenter=WordSegmenter(VOCABULARY)
    )
    read = processor.read_image_text(meme)
    ratio = difflib.SequenceMatcher(None, read.lower(), TEXT).ratio()
    assert ratio >= 0.9, f"OCR read {read!r} (similarity {ratio:.2f})"
    # RapidOCR tends to glue words ("arenot", "youcame"); after repair the words are words again
    words = read.lower().split()
    recall = sum(word in words for word in TEXT.split()) / len(TEXT.split())
    assert recall >= 0.9, f"OCR read {read!r}: only {recall:.0%} of the words survived"


@pytest.mark.slow
def test_ocr_of_a_blank_image_is_empty(engine: OcrEngine) -> None:
    assert engine.read(Image.new("RGB", (300, 200), (240, 240, 240))) == ""


@pytest.mark.slow
def test_big_images_are_read_at_a_bounded_size(engine: OcrEngine) -> None:
    meme = render_meme(
        MemeSpec(
            text="stay home",
            background="color:255,255,255",
            style="card",
            font=0,
            font_size=200,
            noise=0.0,
            jpeg_quality=0,
            width=2400,
            height=1200,
        )
    )
    assert "stay" in OcrEngine(max_side=960).read(meme).lower()


def test_image_text_is_read_row_by_row_and_noise_rows_are_left_out() -> None:
    _, processor = build_tiny_model()
    processor = ModerationProcessor(
        processor.config, processor.tokenizer, segmenter=WordSegmenter(VOCABULARY)
    )
    # OcrEngine.read gives one row per line: a sticker read as a row of its own is left out, and
    # the message's rows are read as one text
    assert processor.clean_image_text("you people\nZULIA\nare not welcome") == "you people are not welcome"


SERVICE_OCR = {
    "detection_max_side": 640,
    "angle_classifier": False,
    "simplified_graphs": True,
    "recognition_batch": 1,
}


@pytest.mark.slow
@pytest.mark.parametrize("settings", [{}, SERVICE_OCR], ids=["evaluation", "service"])
def test_a_watermark_at_the_edge_is_left_out(settings: dict[str, object]) -> None:
    # watermark 1 is "@funnypage", small and faint in the bottom-left corner
    meme = clear_meme("nothing fills me with more joy than sunny mornings", font_size=40, watermark=1)
    read = OcrEngine(**settings).read(meme).lower()  # type: ignore[arg-type]
    assert "sunny" in read and "mornings" in read, read
    assert "funny" not in read, read
    kept = OcrEngine(drop_edge_marks=False, **settings).read(meme).lower()  # type: ignore[arg-type]
    assert "funny" in kept, kept  # the mark is there to be read: the filter is what drops it


def test_edge_marks_are_small_lines_in_the_top_or_bottom_band() -> None:
    height = 400  # bands: the top and bottom 32 px (8 %)
    message = (150.0, 40.0, 40.0, "the message")
    credit = (385.0, 6.0, 12.0, "@page")  # small, in the bottom band
    header = (4.0, 6.0, 14.0, "@sam_r 3h")  # small, in the top band
    small_middle = (200.0, 40.0, 12.0, "small print in the middle")  # small, not at an edge
    edge_text = (360.0, 40.0, 38.0, "bottom text")  # at the edge, as tall as the message
    lines = [message, credit, header, small_middle, edge_text]
    assert without_edge_marks(lines, height) == [message, small_middle, edge_text]
    # a read that is all small type (a screenshot) or one line loses nothing
    assert without_edge_marks([credit, header], height) == [credit, header]
    assert without_edge_marks([credit], height) == [credit]
