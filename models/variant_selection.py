"""Which fusion head becomes the default checkpoint, and how each holds up on a damaged read.

``python -m models.train`` trains one head per fusion mode on the same features and ships one. The
validation multimodal toxic AUROC alone does not see what loses most hateful memes: one damaged
token in the read (a stray word from the picture, two words glued by OCR), on which a head's hate
score collapses. Heads on the *same* text tower differ in this by several points of harm kept
(docs/training/consistency_experiment.md), more than two text towers do, so the choice matters.

Each head is therefore also scored on a damaged copy of the *validation* texts: every text gets a
damage drawn by :func:`models.consistency.damaged` (the training stray words of
``models/data/stray_words.py`` or two glued neighbours, never the evaluation's strays), shown both
as a text post and as a caption-less meme (the words in the image-text slot with a validation meme's
pixels, as a read of an image). Two rules (``--select-by``):

- ``multimodal`` (the default): the best clean multimodal toxic AUROC.
- ``with-damaged``: the best mean of the two toxic AUROCs, clean multimodal and damaged. Measured in
  one full retrain and not adopted (docs/training/consistency_experiment.md): its pick caught more
  hateful cases in images than the default rule's pick of the first run, lost more on memes in
  held-out fonts, and in a heads-only rerun both rules picked the same head.

Nothing of the evaluation (the functional suite, its strays, the test splits) takes part in either.
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
#: ``--select-by`` choices; the first is the default.
RULES = ("multimodal", "with-damaged")


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


def selection_score(metrics: Mapping[str, object], rule: str = RULES[0]) -> float:
    """What ``rule`` ranks heads by: the clean multimodal validation toxic AUROC (``multimodal``),
    or its mean with the damaged one (``with-damaged``)."""
    clean = float(metrics[CLEAN_METRIC])  # type: ignore[arg-type]
    if rule == "multimodal":
        return clean
    if rule == "with-damaged":
        return (clean + float(metrics[DAMAGED_METRIC])) / 2  # type: ignore[arg-type]
    raise ValueError(f"unknown selection rule {rule!r}: choose one of {', '.join(RULES)}")


def choose_variant(
    variants: Mapping[str, Mapping[str, object]], candidates: Sequence[str], rule: str = RULES[0]
) -> str:
    """The candidate with the best :func:`selection_score` under ``rule``; a tie goes to ``gated``
    (the head that can shut a modality out), then to the earlier candidate."""
    if not candidates:
        raise ValueError("no candidate variants to choose from")
    missing = [name for name in candidates if name not in variants]
    if missing:
        raise KeyError(f"variants without metrics: {', '.join(missing)}")
    return max(candidates, key=lambda name: (selection_score(variants[name], rule), name == "gated"))
