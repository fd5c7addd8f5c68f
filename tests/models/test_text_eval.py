"""models.text_eval's threshold-free comparison of hate scores, and how it reads typed text."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from models.checkpoint import load_checkpoint
from models.text_eval import AS_TYPED, CHECKPOINT, CORRECTED, NON_HATEFUL_FLAG_RATES, _reader, hate_ranking
from models.typed_spelling import SureSpelling


def test_hate_ranking_ignores_where_the_thresholds_sit() -> None:
    non_hateful = np.linspace(0.0, 0.6, 200)
    hateful = np.array([0.3, 0.59, 0.7, 0.8])
    ranking = hate_ranking(hateful, {"low": non_hateful[:100], "high": non_hateful[100:]})
    assert ranking["hateful"] == 4 and ranking["non_hateful"] == 200
    # each set on its own: the low half is easier to tell from hate than the high half
    by_set = ranking["auroc_by_non_hateful_set"]
    assert by_set["low"] > ranking["auroc"] > by_set["high"]
    assert set(ranking["hateful_caught_at_non_hateful_flagged"]) == {
        f"{r:.2f}" for r in NON_HATEFUL_FLAG_RATES
    }
    # 5 % of the non-hateful texts score >= ~0.57: three of the four hateful ones do too
    assert ranking["hateful_caught_at_non_hateful_flagged"]["0.05"] == 0.75
    # a model whose scores all sit lower ranks the same, so it compares the same
    squashed = hate_ranking(hateful**3, {"low": non_hateful[:100] ** 3, "high": non_hateful[100:] ** 3})
    assert squashed["auroc"] == ranking["auroc"]
    assert (
        squashed["hateful_caught_at_non_hateful_flagged"] == ranking["hateful_caught_at_non_hateful_flagged"]
    )


def test_typed_text_is_read_as_asked_and_a_reading_needs_a_vocabulary() -> None:
    without_vocabulary = SimpleNamespace(spelling=None, typed_spelling=None)
    assert _reader(AS_TYPED, without_vocabulary, Path("ckpt"))("teh cellebrated") == "teh cellebrated"
    # a checkpoint without a typed-text spelling reads captions as typed
    assert _reader(CHECKPOINT, without_vocabulary, Path("ckpt"))("teh cellebrated") == "teh cellebrated"
    with pytest.raises(ValueError, match="no OCR vocabulary"):
        _reader(CORRECTED, without_vocabulary, Path("ckpt"))
    with pytest.raises(ValueError, match="must be one of"):
        _reader("shouted", without_vocabulary, Path("ckpt"))


def test_by_default_text_is_read_as_the_checkpoint_reads_captions(tiny_checkpoint: Path) -> None:
    _, processor, _ = load_checkpoint(tiny_checkpoint)
    processor.typed_spelling = SureSpelling((), ["celebrated", "the"])
    assert _reader(CHECKPOINT, processor, tiny_checkpoint)("it is cellebrated") == "it is celebrated"
    assert _reader(AS_TYPED, processor, tiny_checkpoint)("it is cellebrated") == "it is cellebrated"
