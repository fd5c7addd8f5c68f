"""Choosing the default fusion head: damaged validation copies, the robustness view, the rule."""

from __future__ import annotations

import pytest
import torch

from models.data.sources import TextExample
from models.features import FeatureSet, text_only_features
from models.suite.strays import STRAYS
from models.variant_selection import (
    CLEAN_METRIC,
    DAMAGED_METRIC,
    RULES,
    choose_variant,
    damaged_copies,
    damaged_view,
    selection_score,
)

TEXTS = [
    "they should all be sent back where they came from",
    "what a lovely morning for a run by the river",
    "people like that are vermin and nothing more",
    "the soup at that little place downtown is great",
]


def _examples() -> list[TextExample]:
    return [
        TextExample(text, (float(i % 2 == 0), 0.0, float(i % 2 == 0)), (1.0, 1.0, 1.0), "test", "val", "")
        for i, text in enumerate(TEXTS * 10)
    ]


def test_damaged_copies_change_every_text_keep_the_labels_and_use_no_evaluation_stray() -> None:
    examples = _examples()
    copies = damaged_copies(examples, seed=5)

    assert len(copies) == len(examples)
    for original, copy in zip(examples, copies, strict=True):
        assert copy.text != original.text
        assert (copy.targets, copy.mask, copy.source, copy.split) == (
            original.targets,
            original.mask,
            original.source,
            original.split,
        )
        # the evaluation's stray words measure the checkpoint; the choice must never see them
        assert not any(stray in copy.text for stray in STRAYS if len(stray) > 3)
    assert damaged_copies(examples, seed=5) == copies
    assert damaged_copies(examples, seed=6) != copies


def _memes(count: int, image_dim: int, text_dim: int) -> FeatureSet:
    present = torch.ones(count, 3, dtype=torch.bool)
    return FeatureSet(
        caption=torch.randn(count, text_dim),
        image_pixels=torch.arange(count, dtype=torch.float32).unsqueeze(1).repeat(1, image_dim) + 100,
        image_text=torch.randn(count, text_dim),
        present=present,
        targets=torch.zeros(count, 3),
        mask=torch.ones(count, 3),
        kinds=["meme"] * count,
    )


def test_the_damaged_view_shows_each_text_as_a_post_and_again_read_from_a_meme() -> None:
    examples = damaged_copies(_examples(), seed=1)
    embeddings = torch.randn(len(examples), 8)
    view = damaged_view(embeddings, examples, _memes(5, 4, 8), image_dim=4, seed=2)

    n = len(examples)
    assert len(view) == 2 * n
    texts, memes = view.subset(range(n)), view.subset(range(n, 2 * n))
    assert texts.present.tolist() == [[True, False, False]] * n
    assert torch.equal(texts.caption, embeddings)
    # the same words in the image-text slot, no caption, a donor meme's pixels
    assert memes.present.tolist() == [[False, True, True]] * n
    assert not memes.caption.any()
    assert all(any(torch.equal(row, e) for e in embeddings) for row in memes.image_text)
    assert bool((memes.image_pixels >= 100).all())
    assert sorted(memes.targets.tolist()) == sorted(texts.targets.tolist())


def test_the_view_needs_memes_with_text_for_its_image_half() -> None:
    examples = _examples()
    plain = text_only_features(torch.randn(3, 8), examples[:3], 4)  # no meme with image text
    view = damaged_view(torch.randn(len(examples), 8), examples, plain, image_dim=4, seed=0)
    assert len(view) == len(examples)  # only the text posts: nothing to donate pixels


def test_the_choice_weighs_clean_and_damaged_auroc_alike() -> None:
    variants = {
        "concat": {CLEAN_METRIC: 0.95, DAMAGED_METRIC: 0.80},
        "sum": {CLEAN_METRIC: 0.96, DAMAGED_METRIC: 0.78},
        "attention": {CLEAN_METRIC: 0.94, DAMAGED_METRIC: 0.85},
        "caption_only": {CLEAN_METRIC: 0.99, DAMAGED_METRIC: 0.99},
    }
    assert selection_score(variants["attention"], "with-damaged") == pytest.approx(0.895)
    # the best clean AUROC alone (sum) loses to the head that holds up on damaged reads
    assert choose_variant(variants, ["concat", "sum", "attention"], "with-damaged") == "attention"
    # only candidates are chosen from, whatever the baselines score
    assert choose_variant(variants, ["concat", "sum"], "with-damaged") == "concat"


def test_the_default_rule_is_the_clean_multimodal_auroc() -> None:
    variants = {
        "concat": {CLEAN_METRIC: 0.95, DAMAGED_METRIC: 0.80},
        "sum": {CLEAN_METRIC: 0.96, DAMAGED_METRIC: 0.78},
    }
    assert RULES[0] == "multimodal"
    assert selection_score(variants["sum"]) == pytest.approx(0.96)
    assert choose_variant(variants, ["concat", "sum"]) == "sum"
    with pytest.raises(ValueError, match="unknown selection rule 'best'"):
        choose_variant(variants, ["concat", "sum"], "best")


def test_a_tie_goes_to_gated_then_to_the_earlier_candidate() -> None:
    same = {CLEAN_METRIC: 0.9, DAMAGED_METRIC: 0.8}
    assert choose_variant({"concat": same, "gated": same}, ["concat", "gated"]) == "gated"
    assert choose_variant({"concat": same, "sum": same}, ["concat", "sum"]) == "concat"


def test_a_choice_without_candidates_or_metrics_is_refused() -> None:
    with pytest.raises(ValueError, match="no candidate"):
        choose_variant({}, [])
    with pytest.raises(KeyError, match="sum"):
        choose_variant({"concat": {CLEAN_METRIC: 0.9, DAMAGED_METRIC: 0.9}}, ["concat", "sum"])
