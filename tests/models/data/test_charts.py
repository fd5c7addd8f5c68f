"""Procedural charts (models/data/charts.py): the out-of-distribution set's benign pictures with text."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from models.data.charts import KINDS, TOPICS, chart_background, render_chart
from models.data.memes import MemeSpec, is_plain_background, random_spec, render_meme


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_draws_a_deterministic_varied_chart(kind: str) -> None:
    first = np.asarray(render_chart(chart_background(kind, 5), 448, 320))
    assert first.shape == (320, 448, 3)
    assert (first == np.asarray(render_chart(chart_background(kind, 5), 448, 320))).all()
    assert (first != np.asarray(render_chart(chart_background(kind, 6), 448, 320))).any()
    # a light page with dark type on it (title, ticks) and coloured marks
    assert np.median(first) > 200
    assert (first.sum(axis=-1) < 150).sum() > 200
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 20


def test_bad_chart_backgrounds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown chart kind"):
        chart_background("radar", 1)
    for bad in ("chart:radar:1", "chart:bar", "chart:bar:x", "art:bar:1"):
        with pytest.raises(ValueError, match="not a chart background"):
            render_chart(bad, 10, 10)


def test_a_meme_spec_renders_a_chart_as_a_plain_background() -> None:
    background = chart_background("pie", 3)
    spec = MemeSpec(
        text="", background=background, style="card", font=0, font_size=30, noise=0.0, jpeg_quality=0
    )
    assert is_plain_background(background)
    assert (np.asarray(render_meme(spec)) == np.asarray(render_chart(background, 512, 512))).all()


def test_training_layouts_never_draw_a_chart() -> None:
    rng = np.random.default_rng(0)
    for layouts in ("classic", "train"):
        specs = [random_spec(f"some words {i}", rng, [], layouts=layouts) for i in range(300)]
        assert not any(s.background.startswith("chart:") for s in specs)


def test_ocr_reads_a_charts_title() -> None:
    """The point of charts in the set: benign words OCR reads off the image (the real OCR: slow)."""
    from models.ocr import OcrEngine

    image: Image.Image = render_chart(chart_background("bar", 11), 576, 448)
    read = OcrEngine().read(image).lower()
    # the raw read may run a bold title's words together (the word segmenter splits them later)
    squeezed = "".join(read.split())
    titles = [title for title, _ in TOPICS if "".join(title.lower().split()) in squeezed]
    assert titles, f"no chart title in the OCR read: {read!r}"
