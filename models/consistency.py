"""Consistency training of the text tower: a text and its damaged twin should embed alike.

Real reads of memes are not the clean sentences training sees: OCR glues two words ("talks tome"),
and a sticker, a handle or an app credit lands in the text ("... gets stabbed. julia"). One such
token can take a hate score from 1.00 to 0.00 (docs/model_card.md, "One stray word"), and adding
damaged texts with their labels to training moved that by about a point. This objective asks for
the invariance itself: for a share of the training batches, each text's damaged twin (the
training stray list of :mod:`models.data.stray_words`, never the evaluation one, or two
neighbouring words glued) is embedded too, and ``weight * (1 - cosine(embedding, twin))`` is
added to the loss, so the tower learns to put both in the same place.
"""

from __future__ import annotations

import random

import torch
from torch.nn import functional

from .data.stray_words import with_strays


def damaged(text: str, rng: random.Random) -> str:
    """``text`` as a damaged read: one or two stray words (half the time), else two neighbouring
    words glued together (a text of one word gets a stray)."""
    words = text.split()
    if len(words) < 2 or rng.random() < 0.5:
        return with_strays(text, rng)
    cut = rng.randrange(len(words) - 1)
    return " ".join([*words[:cut], words[cut] + words[cut + 1], *words[cut + 2 :]])


def twin_batches(count: int, fraction: float, seed: int) -> list[int]:
    """Which of ``count`` training batches get twins: a ``fraction`` of them (at least one), sorted."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"the share of batches with twins must be in (0, 1], got {fraction}")
    chosen = max(1, round(fraction * count)) if count else 0
    return sorted(random.Random(seed).sample(range(count), chosen))


def consistency_loss(embeddings: torch.Tensor, twins: torch.Tensor) -> torch.Tensor:
    """Mean cosine distance between each embedding and its twin's (0 when they point alike)."""
    return (1.0 - functional.cosine_similarity(embeddings, twins, dim=-1)).mean()
