"""Synthetic benign images for training: gradient backgrounds and text-free plain images."""

from __future__ import annotations

import numpy as np

from models.data.memes import MemeSpec, random_spec, render_meme
from models.data.multimodal import benign_plain_images
from models.data.sources import BENIGN


def test_a_gradient_background_runs_from_the_top_colour_to_the_bottom_colour() -> None:
    spec = MemeSpec(
        text="",
        background="gradient:200,0,0:0,0,200",
        style="card",
        font=0,
        font_size=30,
        noise=0.0,
        jpeg_quality=0,
        width=64,
        height=50,
    )
    pixels = np.asarray(render_meme(spec)).astype(int)
    assert pixels.shape == (50, 64, 3)
    assert pixels[0, 0].tolist() == [200, 0, 0] and pixels[-1, -1].tolist() == [0, 0, 200]
    assert (pixels[:, 0] == pixels[:, -1]).all()  # vertical: every row is one colour
    assert 0 < pixels[25, 0, 0] < 200  # and it changes down the image


def test_gradients_appear_only_when_asked_for() -> None:
    rng = np.random.default_rng(0)
    with_gradients = [random_spec("some words", rng, [], gradients=True).background for _ in range(40)]
    assert any(b.startswith("gradient:") for b in with_gradients)
    assert any(b.startswith("color:") for b in with_gradients)
    rng = np.random.default_rng(0)
    assert not any(random_spec("some words", rng, []).background.startswith("gradient:") for _ in range(40))


def test_benign_plain_images_are_text_free_benign_and_reproducible() -> None:
    posts = benign_plain_images(40, split="train", seed=3, caption_pool=["a dog on a sofa"])
    assert len(posts) == 40
    assert all(p.image is not None and p.image.text == "" for p in posts)
    assert all(p.targets == BENIGN and p.kind == "benign_plain_image" for p in posts)
    backgrounds = {p.image.background.split(":")[0] for p in posts if p.image is not None}
    assert backgrounds == {"gradient", "color"}
    captions = [p.caption for p in posts]
    assert "a dog on a sofa" in captions and None in captions
    again = benign_plain_images(40, split="train", seed=3, caption_pool=["a dog on a sofa"])
    assert [p.image for p in again] == [p.image for p in posts]
