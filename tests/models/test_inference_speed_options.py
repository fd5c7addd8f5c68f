"""Moderator's speed options: the same scores as the plain path, less work."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from models.data.memes import MemeSpec, render_meme
from models.inference import InferenceOptions, Moderator
from models.types import ModerationResult, PostContent


class CountingOcr:
    """Stands in for RapidOCR: returns a fixed text and counts calls."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, image: Image.Image, spare: object = None) -> str:
        self.calls += 1
        return "text from the image"


def _meme() -> Image.Image:
    spec = MemeSpec("you people are vermin", "color:250,220,60", "card", 0, 34, 0.0, 0)
    return render_meme(spec)


def _posts() -> list[PostContent]:
    meme, blank = _meme(), Image.new("RGB", (300, 200), (10, 120, 30))
    return [
        PostContent(text="good morning everyone"),
        PostContent(text="look at this", image=meme),
        PostContent(image=blank),
        PostContent(text="good morning everyone", image=meme),  # a repost of both parts
        PostContent(text="given ocr", image=blank, ocr_text="known  text"),
        # longer than the tiny tower's 32 tokens: read in windows on both paths
        PostContent(text=" ".join(f"long caption word{i}" for i in range(30)), image=meme),
        PostContent(image=blank, ocr_text=" ".join(f"long image text{i}" for i in range(30))),
    ]


def _load(checkpoint: Path, options: InferenceOptions) -> tuple[Moderator, CountingOcr]:
    moderator = Moderator.load(checkpoint, options=options)
    ocr = CountingOcr()
    moderator.processor.ocr = ocr  # type: ignore[assignment]
    return moderator, ocr


def _scores(results: list[ModerationResult]) -> list[list[float]]:
    return [list(r.scores.values()) for r in results]


@pytest.mark.parametrize(
    "options",
    [
        InferenceOptions(cache_entries=64),
        InferenceOptions(cache_entries=64, overlap_ocr=True),
        InferenceOptions(ocr_gate_threshold=0.0),
        InferenceOptions(text_chunk=1),
        InferenceOptions(text_runtime="onnxruntime"),
        InferenceOptions(text_runtime="onnxruntime", text_chunk=2, cache_entries=64),
        InferenceOptions(image_chunk=1),
        InferenceOptions(image_chunk=2, cache_entries=64),
    ],
)
def test_fast_path_matches_the_plain_path(tiny_checkpoint: Path, options: InferenceOptions) -> None:
    plain, plain_ocr = _load(tiny_checkpoint, InferenceOptions())
    fast, _ = _load(tiny_checkpoint, options)
    expected, got = plain.score(_posts()), fast.score(_posts())
    assert [r.ocr_text for r in got] == [r.ocr_text for r in expected]
    assert [r.modalities_present for r in got] == [r.modalities_present for r in expected]
    for a, b in zip(_scores(expected), _scores(got), strict=True):
        assert a == pytest.approx(b, abs=1e-4)
    assert plain_ocr.calls == 4


@pytest.mark.parametrize("chunk", [1, 2, 4])
def test_images_are_encoded_a_chunk_at_a_time_with_the_same_scores(tiny_checkpoint: Path, chunk: int) -> None:
    # Seven distinct images (and one repeated), so chunks of every size come out uneven.
    colours = [(20 * i, 200 - 20 * i, 90) for i in range(7)]
    images = [Image.new("RGB", (160 + 10 * i, 120), colour) for i, colour in enumerate(colours)]
    posts = [PostContent(text=f"post {i}", image=image, ocr_text="") for i, image in enumerate(images)]
    posts.append(PostContent(image=images[0], ocr_text=""))
    plain, _ = _load(tiny_checkpoint, InferenceOptions())
    chunked, _ = _load(tiny_checkpoint, InferenceOptions(image_chunk=chunk))
    calls: list[int] = []
    encode_image = chunked.model.encode_image

    def counting_encode_image(pixel_values: torch.Tensor) -> torch.Tensor:
        calls.append(len(pixel_values))
        return encode_image(pixel_values)

    chunked.model.encode_image = counting_encode_image  # type: ignore[method-assign]
    expected, got = plain.score(posts), chunked.score(posts)
    for a, b in zip(_scores(expected), _scores(got), strict=True):
        assert a == pytest.approx(b, abs=1e-5)
    assert sum(calls) == len(images)  # each distinct image once
    assert max(calls) == min(chunk, len(images)) and len(calls) == -(-len(images) // chunk)


def test_image_chunk_must_be_positive() -> None:
    with pytest.raises(ValueError, match="image_chunk must be at least 1"):
        InferenceOptions(image_chunk=0)
    assert not InferenceOptions(image_chunk=2).plain


def test_cache_skips_repeated_work(tiny_checkpoint: Path) -> None:
    moderator, ocr = _load(tiny_checkpoint, InferenceOptions(cache_entries=64))
    first = moderator.score(_posts())
    assert ocr.calls == 2  # the reposted meme is read once, even inside one batch
    again = moderator.score(_posts())
    assert ocr.calls == 2
    for a, b in zip(_scores(again), _scores(first), strict=True):
        assert a == pytest.approx(b)
    assert moderator.text_cache.hits > 0 and moderator.image_cache.hits > 0
    moderator.clear_caches()
    moderator.score(_posts()[:2])
    assert ocr.calls == 3


def test_gate_skips_ocr_on_images_without_text(tiny_checkpoint: Path) -> None:
    moderator, ocr = _load(tiny_checkpoint, InferenceOptions(ocr_gate_threshold=0.11))
    results = moderator.score(_posts()[:3])
    assert ocr.calls == 1  # the meme, not the blank image
    assert results[1].ocr_text == "text from the image"
    assert results[2].ocr_text == ""
    assert "image_text" not in results[2].modalities_present


def test_quantized_text_tower_scores_close_to_float(tiny_checkpoint: Path) -> None:
    plain, _ = _load(tiny_checkpoint, InferenceOptions())
    quantized, _ = _load(tiny_checkpoint, InferenceOptions(quantize_text=True))
    for a, b in zip(_scores(plain.score(_posts())), _scores(quantized.score(_posts())), strict=True):
        assert a == pytest.approx(b, abs=0.05)


def test_fast_ocr_detection_replaces_the_engine_only_when_ocr_is_on(tiny_checkpoint: Path) -> None:
    moderator = Moderator.load(tiny_checkpoint, options=InferenceOptions(ocr_detection_max_side=640))
    assert moderator.processor.ocr is None  # the tiny checkpoint has OCR off: nothing to speed up
