"""Which fusion head becomes the default checkpoint: validation quality *and* robustness to a damaged read.

``python -m models.train`` trains one head per fusion mode on the same features and ships one. Picked
by validation multimodal toxic AUROC alone, the choice ignored what loses most hateful memes: one
damaged token in the read (a stray word from the picture, two words glued by OCR), on which a head's
hate score collapses. Heads on the *same* text tower differ in this by several points of harm kept
(docs/training/consistency_experiment.md), more than two text towers do, so the choice matters.

Each head is therefore also scored on a damaged copy of the *validation* texts: every text gets a
damage drawn by :func:`models.consistency.damaged` (the training stray words of
``models/data/stray_words.py`` or two glued neighbours, never the evaluation's strays), shown both
as a text post and as a caption-less meme (the words in the image-text slot with a validation meme's
pixels, as a read of an image). The default is the head with the best mean of the two toxic AUROCs,
clean multimodal and damaged; nothing of the evaluation (the functional suite, its strays, the test
splits) takes part in the choice.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace

import torch

from .consistency import damaged
from .data.sources import TextExample
from .features import FeatureSet, as_caption_less_memes, text_only_features

#: Metric names in a variant's entry of the training report.
CLEAN_METRIC = "val_multimodal_toxic_auroc"
DAMAGED_METRIC = "val_damaged_toxic_auroc"
SCORE = "selection_score"


def damaged_copies(examples: Sequence[TextExample], seed: int) -> list[TextExample]:
    """Each example with its text damaged once (labels kept), reproducibly for ``seed``."""
    rng = random.Random(seed)
    return [replace(example, text=damaged(example.text, rng)) for example in examples]


def damaged_view(
    embeddings: torch.Tensor,
    examples: Sequence[TextExample],
    memes: FeatureSet,
    *,
    image_dim: int,
    seed: int,
) -> FeatureSet:
    """The damaged validation texts (``embeddings`` in the order of ``examples``) as text posts and
    again as caption-less memes, with the pixels of random memes of ``memes``."""
    texts = text_only_features(embeddings, examples, image_dim, kind="damaged_text")
    return FeatureSet.concat([texts, as_caption_less_memes(texts, memes, fraction=1.0, seed=seed)])


def selection_score(metrics: Mapping[str, object]) -> float:
    """Mean of the clean multimodal and the damaged validation toxic AUROC."""
    return (float(metrics[CLEAN_METRIC]) + float(metrics[DAMAGED_METRIC])) / 2  # type: ignore[arg-type]


def choose_variant(variants: Mapping[str, Mapping[str, object]], candidates: Sequence[str]) -> str:
    """The candidate with the best :func:`selection_score`; a tie goes to ``gated`` (the head that
    can shut a modality out), then to the earlier candidate."""
    if not candidates:
        raise ValueError("no candidate variants to choose from")
    missing = [name for name in candidates if name not in variants]
    if missing:
        raise KeyError(f"variants without metrics: {', '.join(missing)}")
    return max(candidates, key=lambda name: (selection_score(variants[name]), name == "gated"))
