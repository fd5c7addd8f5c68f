"""A category bundle for a test checkpoint: the bundled categories' names on its own text tower."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.categories.bundle import load_bundle, save_category
from models.categories.embedding import CategoryEmbedder
from models.categories.examples import CategoryExample
from models.categories.head import CategoryHead
from models.checkpoint import load_checkpoint
from models.inference import DEFAULT_CATEGORIES


def bundled_names_bundle(checkpoint: Path, directory: Path, *, seed: int = 0) -> Path:
    """Heads named like the bundled ones (so the packaged policy moderates them), with random
    weights, fit-compatible with ``checkpoint``: the bundled heads fit only the bundled checkpoint."""
    model, processor, _ = load_checkpoint(checkpoint)
    embedder = CategoryEmbedder.for_checkpoint(model, processor)
    rng = np.random.default_rng(seed)
    for name in load_bundle(DEFAULT_CATEGORIES).names:
        weight = rng.normal(size=embedder.dim).astype(np.float32)
        head = CategoryHead(name, weight, -2.0, 0.5, 0.9)
        save_category(directory, head, [CategoryExample("x", 1)], encoder_fingerprint=embedder.fingerprint)
    return directory
