"""OCR with detection capped (480-640 px), no angle classifier and one line per recognition call reads
memes as well (real OCR: slow)."""

from __future__ import annotations

import difflib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
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


@pytest.mark.slow
def test_the_detection_cap_is_the_size_detection_runs_at() -> None:
    # RapidOCR's own "max" limit silently becomes 960 px or more; the cap must be what runs.
    engine = OcrEngine(detection_max_side=640, angle_classifier=False)
    rapid = engine._load()
    shapes: list[tuple[int, ...]] = []
    infer = rapid.text_det.infer

    def spy(inputs: np.ndarray) -> object:
        shapes.append(inputs.shape)
        return infer(inputs)

    rapid.text_det.infer = spy
    meme = render_meme(MemeSpec(TEXT, "color:40,90,200", "outlined_top_bottom", 0, 40, 4.0, 90, 900, 700))
    read = engine.read(meme)
    assert shapes and max(shapes[0][2:]) <= 640, shapes
    squeeze = "".join(read.lower().split())
    assert difflib.SequenceMatcher(None, squeeze, "".join(TEXT.split())).ratio() >= 0.9, read


@pytest.mark.slow
def test_concurrent_reads_give_the_same_text_as_one_at_a_time() -> None:
    texts = [TEXT, "nothing to see here just a cat on a sofa enjoying the sun"]
    memes = [
        render_meme(MemeSpec(text, "color:40,90,200", "outlined_top_bottom", 0, 34, 4.0, 90, 512, 448))
        for text in texts
    ]
    engine = OcrEngine(detection_max_side=640, angle_classifier=False, threads=1)
    alone = [engine.read(meme) for meme in memes]
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(engine.read, memes * 3))
    assert together == alone * 3


@pytest.mark.slow
def test_the_recognition_batch_is_what_runs() -> None:
    engine = OcrEngine(detection_max_side=480, angle_classifier=False, recognition_batch=1)
    rapid = engine._load()
    batches: list[int] = []
    session = rapid.text_rec.recogniser.session

    class Spy:
        def __call__(self, inputs: np.ndarray) -> object:
            batches.append(inputs.shape[0])
            return session(inputs)

        def __getattr__(self, name: str) -> object:
            return getattr(session, name)

    rapid.text_rec.recogniser.session = Spy()
    meme = render_meme(MemeSpec(TEXT, "color:40,90,200", "outlined_top_bottom", 0, 34, 4.0, 90, 512, 448))
    read = engine.read(meme)
    assert len(batches) >= 2 and set(batches) == {1}, batches  # several lines, one per call
    squeeze = "".join(read.lower().split())
    assert difflib.SequenceMatcher(None, squeeze, "".join(TEXT.split())).ratio() >= 0.9, read
    with pytest.raises(ValueError, match="at least 1"):
        OcrEngine(recognition_batch=0)
