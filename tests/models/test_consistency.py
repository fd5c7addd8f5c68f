"""The text tower's consistency objective: damaged twins, which batches get them, the loss, and
that training with it pulls a text and its twin together."""

from __future__ import annotations

import random

import pytest
import torch

from devtools.testing import build_tiny_model
from models.consistency import consistency_loss, damaged, twin_batches
from models.data.sources import TextExample
from models.suite.strays import STRAYS
from models.train import cache_frozen_layers, cache_twins, finetune_text_tower, parse_args, top_layers_embed

TEXTS = [
    "the next one who talks to me gets hurt",
    "why do they always have to be so loud",
    "lovely weather for a walk in the park",
    "this recipe needs more garlic and lemon",
    "they are all liars and thieves every one",
    "we had a great time at the beach today",
    "get out of my country and never come back",
    "my cat sleeps on the keyboard all day",
]


def _examples() -> list[TextExample]:
    return [
        TextExample(t, (0.0, 0.0, float(i % 2)), (1.0, 1.0, 1.0), "test", "train", "")
        for i, t in enumerate(TEXTS * 4)
    ]


def test_a_damaged_twin_has_a_stray_or_two_glued_words_and_never_an_evaluation_stray() -> None:
    rng = random.Random(3)
    text = "the next one who talks to me gets hurt"
    twins = [damaged(text, rng) for _ in range(200)]
    glued = [t for t in twins if len(t.split()) == len(text.split()) - 1]
    strayed = [t for t in twins if len(t.split()) > len(text.split())]
    assert glued and strayed and len(glued) + len(strayed) == len(twins)
    assert all(t.replace(" ", "") == text.replace(" ", "") for t in glued)
    evaluation = {s.lower() for s in STRAYS}
    assert not any(w.lower() in evaluation for t in strayed for w in t.split() if w not in text.split())
    assert damaged("hello", random.Random(0)) != "hello"  # one word: a stray, nothing to glue
    assert [damaged(text, random.Random(5)) for _ in range(2)] == [damaged(text, random.Random(5))] * 2


def test_which_batches_get_twins() -> None:
    assert twin_batches(20, 0.25, seed=1) == sorted(set(twin_batches(20, 0.25, seed=1)))
    assert len(twin_batches(20, 0.25, seed=1)) == 5
    assert len(twin_batches(3, 0.01, seed=1)) == 1  # at least one
    assert twin_batches(7, 1.0, seed=2) == list(range(7))
    assert twin_batches(0, 0.5, seed=0) == []
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        twin_batches(10, 0.0, seed=0)


def test_the_loss_is_the_mean_cosine_distance() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert consistency_loss(a, a).item() == pytest.approx(0.0, abs=1e-6)
    assert consistency_loss(a, torch.tensor([[0.0, 1.0], [0.0, 5.0]])).item() == pytest.approx(0.5)


def test_twins_line_up_with_the_training_batches_they_belong_to() -> None:
    model, processor = build_tiny_model(seed=1)
    examples = _examples()
    train = cache_frozen_layers(model, processor, examples, batch_size=8, desc="train")
    twins = cache_twins(model, processor, examples, batch_size=8, fraction=0.5, seed=4)
    assert len(twins) == 2 and set(twins) <= set(range(len(train)))
    for index, twin in twins.items():
        assert torch.equal(twin.targets, train[index].targets)  # the same rows, in the same order
        assert not torch.equal(twin.attention_mask, train[index].attention_mask) or not torch.equal(
            twin.hidden, train[index].hidden
        )


def _twin_distance(weight: float) -> float:
    torch.manual_seed(0)
    model, processor = build_tiny_model(seed=2)
    examples = _examples()
    train = cache_frozen_layers(model, processor, examples, batch_size=8, desc="train")
    val = cache_frozen_layers(model, processor, examples, batch_size=8, desc="val")
    twins = cache_twins(model, processor, examples, batch_size=8, fraction=1.0, seed=4)
    # A learning rate far above the recipe's: a tiny random tower must move within a few steps.
    finetune_text_tower(
        model, train, val, epochs=6, seed=0, twins=twins, consistency_weight=weight, learning_rate=3e-3
    )
    ordered = [twins[i] for i in range(len(train))]
    return consistency_loss(top_layers_embed(model, train), top_layers_embed(model, ordered)).item()


def test_training_with_the_objective_pulls_twins_together() -> None:
    without, with_it = _twin_distance(0.0), _twin_distance(5.0)
    assert with_it < without * 0.8, (without, with_it)


def test_the_objective_is_off_by_default_and_its_options_are_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = parse_args(["--no-shared-data"])
    assert args.consistency_weight == 0.0 and args.consistency_fraction == 0.25
    on = parse_args(["--no-shared-data", "--consistency-weight", "1", "--consistency-fraction", "0.5"])
    assert (on.consistency_weight, on.consistency_fraction) == (1.0, 0.5)
    for flags, message in (
        (["--consistency-weight", "-1"], "--consistency-weight must be >= 0"),
        (["--consistency-fraction", "0"], "--consistency-fraction must be in (0, 1]"),
    ):
        with pytest.raises(SystemExit):
            parse_args(["--no-shared-data", *flags])
        assert message in capsys.readouterr().err
