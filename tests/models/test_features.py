"""Feature-set helpers used by training (models/features.py)."""

from __future__ import annotations

import torch

from models.features import FeatureSet, as_caption_less_memes


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
