from __future__ import annotations

import pytest

from models.categories.benign import BenignPost
from models.categories.define import define_category
from models.categories.embedding import CategoryEmbedder
from models.categories.examples import CategoryExample, ExamplesError

BENIGN = [
    BenignPost(f"we went to the {p} on day {i}", "test")
    for p in ("park", "beach", "museum")
    for i in range(40)
]


def test_a_category_is_fit_from_examples_with_a_card(
    tiny_embedder: CategoryEmbedder, fruit_examples: list[CategoryExample]
) -> None:
    messages: list[str] = []
    head, report = define_category(
        "fruit",
        fruit_examples,
        embedder=tiny_embedder,
        benign=BENIGN,
        description="posts about fruit",
        progress=messages.append,
    )
    assert head.name == "fruit" and head.weight.shape == (tiny_embedder.dim,)
    assert report.positives == 20 and report.negatives == 20
    assert report.benign + int(report.benign < len(BENIGN)) > 0
    assert head.card["description"] == "posts about fruit" and head.card["fit"]["c"] == report.c
    assert messages[0].startswith("embedding 40 examples and 120 benign posts")


def test_benign_posts_that_repeat_an_example_are_left_out(
    tiny_embedder: CategoryEmbedder, fruit_examples: list[CategoryExample]
) -> None:
    repeated = [BenignPost(fruit_examples[0].text.upper(), "test")]
    messages: list[str] = []
    define_category(
        "fruit", fruit_examples, embedder=tiny_embedder, benign=BENIGN + repeated, progress=messages.append
    )
    assert "and 120 benign posts" in messages[0]


def test_too_few_positives_are_refused_before_any_work(tiny_embedder: CategoryEmbedder) -> None:
    examples = [CategoryExample(f"fruit {i}", 1) for i in range(5)]
    with pytest.raises(ExamplesError, match="5 positive examples"):
        define_category("fruit", examples, embedder=tiny_embedder, benign=BENIGN, source="f.jsonl")


def test_examples_and_benign_posts_are_read_as_the_service_reads_a_caption(
    tiny_embedder: CategoryEmbedder, fruit_examples: list[CategoryExample]
) -> None:
    read: list[str] = []

    def reading(text: str) -> str:
        read.append(text)
        return text

    embedder = CategoryEmbedder(tiny_embedder.model, tiny_embedder.tokenize, reading)
    define_category("fruit", fruit_examples, embedder=embedder, benign=BENIGN)
    assert read == [e.text for e in fruit_examples] + [p.text for p in BENIGN]
