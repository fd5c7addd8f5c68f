"""Feature-set helpers used by training (models/features.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import models.features as features_module
from models.data.memes import MemeSpec
from models.data.multimodal import MultimodalExample
from models.features import FeatureSet, OcrCache, as_caption_less_memes, encode_images, glue_words
from models.inference import Moderator
from models.ocr import READ_VERSION


def _set(n: int, present: tuple[bool, bool, bool], *, text_dim: int = 4, image_dim: int = 3) -> FeatureSet:
    return FeatureSet(
        caption=torch.arange(n * text_dim, dtype=torch.float32).reshape(n, text_dim) + 1,
        image_pixels=torch.full((n, image_dim), 7.0),
        image_text=torch.full((n, text_dim), 5.0),
        present=torch.tensor([present] * n, dtype=torch.bool),
        targets=torch.arange(n, dtype=torch.float32).unsqueeze(1),
        mask=torch.ones(n, 1),
        kinds=["text"] * n,
    )


def test_caption_less_memes_carry_the_text_in_the_image_text_slot() -> None:
    texts = _set(10, (True, False, False))
    memes = _set(4, (True, True, True))
    swapped = as_caption_less_memes(texts, memes, fraction=0.5, seed=3)

    assert len(swapped) == 5
    assert swapped.present.tolist() == [[False, True, True]] * 5
    assert torch.count_nonzero(swapped.caption) == 0
    assert torch.equal(swapped.image_pixels, torch.full((5, 3), 7.0))  # a meme's pixels
    # each row is one of the texts, with that text's label
    for row in range(5):
        source = int(swapped.targets[row, 0])
        assert torch.equal(swapped.image_text[row], texts.caption[source])
    assert len({int(t) for t in swapped.targets[:, 0]}) == 5  # five different texts
    assert swapped.kinds == ["caption_less"] * 5
    # reproducible
    again = as_caption_less_memes(texts, memes, fraction=0.5, seed=3)
    assert torch.equal(again.image_text, swapped.image_text)


def test_no_swap_without_a_fraction_or_without_memes_that_hold_text() -> None:
    texts = _set(10, (True, False, False))
    assert len(as_caption_less_memes(texts, _set(4, (True, True, True)), fraction=0.0, seed=1)) == 0
    photos_only = _set(4, (True, True, False))  # photos without text are no meme to borrow from
    assert len(as_caption_less_memes(texts, photos_only, fraction=0.5, seed=1)) == 0


def test_a_repeated_image_is_rendered_once_and_encoded_in_the_same_batches(
    tiny_moderator: Moderator, monkeypatch: pytest.MonkeyPatch
) -> None:
    renders: list[str] = []
    real_render = features_module.render_meme

    def counting_render(spec: MemeSpec) -> Image.Image:
        renders.append(spec.key())
        return real_render(spec)

    monkeypatch.setattr(features_module, "render_meme", counting_render)
    specs = [
        MemeSpec(text, f"color:{c},90,200", "outlined_top_bottom", 0, 30, 0.0, 0, 96, 96)
        for c, text in ((10, "first words here"), (120, "second one now"), (240, ""))
    ]
    # The same image under several captions, as the benign photo posts do; 2 posts a batch.
    layout = [0, 1, 0, 2, 0, 1, 2, 2]
    examples = [
        MultimodalExample(f"caption {i}", specs[s], (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "k", "train")
        for i, s in enumerate(layout)
    ]
    model, processor = tiny_moderator.model, tiny_moderator.processor
    batches: list[int] = []
    real_encode = model.encode_image

    def recording_encode(pixels: torch.Tensor) -> torch.Tensor:
        batches.append(int(pixels.shape[0]))
        return real_encode(pixels)

    monkeypatch.setattr(model, "encode_image", recording_encode)
    pixels, texts = encode_images(
        model, processor, examples, ocr="simulated", rng=np.random.default_rng(4), batch_size=2
    )
    assert sorted(renders) == sorted(spec.key() for spec in specs)  # three renders, not eight
    assert batches == [2, 2, 2, 2]  # the posts' own batches: the features do not depend on reuse
    images = [real_render(specs[s]) for s in layout]
    expected_pixels = torch.cat(
        [real_encode(processor.pixel_values(images[i : i + 2])) for i in range(0, 8, 2)]
    )
    assert torch.equal(pixels, expected_pixels)
    # Simulated OCR damage is drawn post by post, in post order.
    rng = np.random.default_rng(4)
    expected = [
        processor.clean_image_text(glue_words(specs[s].text, rng)) if specs[s].text else "" for s in layout
    ]
    assert texts == expected


def test_encode_images_refuses_posts_without_an_image(tiny_moderator: Moderator) -> None:
    example = MultimodalExample("text", None, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "text", "train")
    with pytest.raises(ValueError, match="all have an image"):
        encode_images(tiny_moderator.model, tiny_moderator.processor, [example], ocr="simulated")


def test_the_ocr_cache_round_trips_and_ignores_an_older_readers_file(tmp_path: Path) -> None:
    path = tmp_path / "ocr_cache.json"
    cache = OcrCache(path)
    cache.entries["spec-key"] = "i hate mondays"
    cache.save()
    assert OcrCache(path).entries == {"spec-key": "i hate mondays"}
    # a file of the reader before READ_VERSION (a bare mapping) holds reads the reader no longer gives
    path.write_text(json.dumps({"spec-key": "i hate mondays @funnypage"}), encoding="utf-8")
    assert OcrCache(path).entries == {}
    path.write_text(json.dumps({"read_version": READ_VERSION - 1, "entries": {"k": "v"}}), encoding="utf-8")
    assert OcrCache(path).entries == {}
