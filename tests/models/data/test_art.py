"""Procedural benign images (models/data/art.py) and the layouts added to the meme generator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.data.art import FAMILIES, HELD_OUT_FAMILIES, TRAIN_FAMILIES, art_background, render_art
from models.data.memes import (
    EXTRA_TRAIN_STYLES,
    FONT_CHOICES,
    HELD_OUT_STYLES,
    MemeSpec,
    packaged_font,
    random_spec,
    render_meme,
)


def test_train_and_held_out_families_are_disjoint_and_complete() -> None:
    assert not set(TRAIN_FAMILIES) & set(HELD_OUT_FAMILIES)
    assert set(TRAIN_FAMILIES) | set(HELD_OUT_FAMILIES) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_draws_a_deterministic_varied_picture(family: str) -> None:
    first = np.asarray(render_art(art_background(family, 5), 96, 80))
    assert first.shape == (80, 96, 3)
    assert (first == np.asarray(render_art(art_background(family, 5), 96, 80))).all()
    assert (first != np.asarray(render_art(art_background(family, 6), 96, 80))).any()
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 1


def test_bad_art_backgrounds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown art family"):
        art_background("cubism", 1)
    with pytest.raises(ValueError, match="not an art background"):
        render_art("art:cubism:1", 10, 10)


def test_catalogues_keep_training_and_held_out_fonts_and_layouts_apart() -> None:
    assert not set(FONT_CHOICES["train"]) & set(FONT_CHOICES["held_out"])
    rng = np.random.default_rng(0)
    train = [random_spec(f"some words here {i}", rng, [], layouts="train") for i in range(80)]
    held = [random_spec(f"some words here {i}", rng, [], layouts="held_out") for i in range(80)]
    assert {s.style for s in train} & set(EXTRA_TRAIN_STYLES) and not {s.style for s in train} & set(
        HELD_OUT_STYLES
    )
    assert {s.style for s in held} & set(HELD_OUT_STYLES) and not {s.style for s in held} & set(
        EXTRA_TRAIN_STYLES
    )
    assert {s.font for s in held} <= set(FONT_CHOICES["held_out"])
    with pytest.raises(ValueError, match="layouts must be one of"):
        random_spec("x", rng, [], layouts="fancy")


def test_classic_catalogue_draws_what_it_always_drew() -> None:
    # the benchmark's post mix depends on it: same random draws, no new fields set
    rng = np.random.default_rng(11)
    specs = [random_spec("a text", rng, []) for _ in range(30)]
    assert all(s.watermark == -1 and s.sticker == -1 and s.font < 5 for s in specs)


def test_packaged_fonts_are_installed() -> None:
    assert all(packaged_font(i) for i in range(6))


@pytest.mark.parametrize("style", [*EXTRA_TRAIN_STYLES, *HELD_OUT_STYLES, "document"])
def test_new_layouts_draw_text_with_decorations(style: str) -> None:
    spec = MemeSpec(
        text="the quick brown fox jumps over the lazy dog again and again",
        background="art:blobs:3",
        style=style,
        font=8,
        font_size=30,
        noise=0.0,
        jpeg_quality=0,
        width=320,
        height=256,
    )
    image = render_meme(spec)
    assert image.mode == "RGB" and image.width == 320
    decorated = render_meme(dataclasses.replace(spec, watermark=0, sticker=1))
    assert decorated.size == image.size and decorated.tobytes() != image.tobytes()
    assert render_meme(spec).tobytes() == image.tobytes()
