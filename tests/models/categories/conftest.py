"""Fixtures: a category embedder on the tiny random checkpoint's tower, and example sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.categories.embedding import CategoryEmbedder
from models.categories.examples import CategoryExample
from models.checkpoint import load_checkpoint


@pytest.fixture(scope="session")
def tiny_embedder(tiny_checkpoint: Path) -> CategoryEmbedder:
    model, processor, _ = load_checkpoint(tiny_checkpoint)
    return CategoryEmbedder.for_checkpoint(model, processor)


@pytest.fixture
def fruit_examples() -> list[CategoryExample]:
    """A toy category: posts about fruit (1) against posts about cars (0)."""
    fruit = ["apple", "banana", "cherry", "mango", "pear", "plum", "grape", "lemon", "kiwi", "peach"]
    cars = ["engine", "tyre", "clutch", "gearbox", "bumper", "exhaust", "brake", "wheel", "bonnet", "axle"]
    positives = [CategoryExample(f"i love a fresh {f} {g}", 1) for f in fruit for g in ("today", "salad")]
    negatives = [CategoryExample(f"my {c} broke again {g}", 0) for c in cars for g in ("today", "ugh")]
    return positives + negatives
