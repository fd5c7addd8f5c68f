"""Dataset loaders on tiny files in the real layout, and the label mapping of models/data/sources.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from models.data.sources import (
    BENIGN,
    FULL_MASK,
    HATE,
    OFFENSIVE,
    TOXIC_ONLY_MASK,
    TOXIGEN_TEST_GROUP,
    TextExample,
    clean_tweet,
    deduplicate_splits,
    load_coco,
    load_convabuse,
    load_davidson,
    load_harmeme,
    load_hatexplain,
    load_text_corpus,
    load_toxigen,
    stable_fraction,
    text_key,
)


def test_label_constants_follow_the_documented_table() -> None:
    assert HATE == (1.0, 0.0, 1.0)
    assert OFFENSIVE == (0.0, 1.0, 1.0)
    assert BENIGN == (0.0, 0.0, 0.0)
    assert FULL_MASK == (1.0, 1.0, 1.0) and TOXIC_ONLY_MASK == (0.0, 0.0, 1.0)


def test_hatexplain(data_dir: Path) -> None:
    examples = load_hatexplain(data_dir)
    by_text = {e.text: e for e in examples}
    assert len(examples) == 5  # 'undecided' is dropped
    assert "i am not sure what to think about this" not in by_text
    hate = by_text["those people are vermin and should be gone"]
    assert (hate.targets, hate.mask, hate.split, hate.source_label) == (
        HATE,
        FULL_MASK,
        "train",
        "hatespeech",
    )
    assert by_text["shut up you stupid clown nobody asked"].targets == OFFENSIVE
    normal = by_text["lovely weather for a walk in the park"]
    assert (normal.targets, normal.split, normal.source) == (BENIGN, "val", "hatexplain")


def test_davidson(data_dir: Path) -> None:
    examples = load_davidson(data_dir)
    assert [(e.text, e.targets, e.split, e.source_label) for e in examples] == [
        ("<user>: those people are animals <url>", HATE, "train", "hatespeech"),
        ("<user> you are a stupid idiot & a fool", OFFENSIVE, "val", "offensive"),
        ("just had a great coffee with friends", BENIGN, "test", "normal"),
    ]  # the tweet that is empty after cleaning is dropped
    assert all(e.mask == FULL_MASK and e.source == "davidson" for e in examples)


@pytest.mark.parametrize(
    ("tweet", "clean"),
    [
        ("RT @someone: hello &amp; welcome https://t.co/xyz", "<user>: hello & welcome <url>"),
        ("&lt;3 you @a_b_c", "<3 you <user>"),
        ("  lots   of\nspace  ", "lots of space"),
        ("ART is not RT", "ART is not"),
    ],
)
def test_clean_tweet(tweet: str, clean: str) -> None:
    assert clean_tweet(tweet) == clean


def test_harmeme(data_dir: Path) -> None:
    examples = load_harmeme(data_dir)
    assert [(e.text, e.split, e.source_label) for e in examples] == [
        ("the virus was made by them to kill us", "train", "harmful"),
        ("wash your hands and stay safe", "train", "not harmful"),
        ("this politician should be locked up forever", "train", "harmful"),
        ("masks work, science says so", "val", "not harmful"),
        ("vote for the party of liars", "test", "harmful"),
    ]  # the record with an empty label is skipped
    harmful, benign = examples[0], examples[1]
    # harmful memes say nothing about hate vs offensive: only toxic is annotated
    assert (harmful.targets, harmful.mask) == ((0.0, 0.0, 1.0), TOXIC_ONLY_MASK)
    assert (benign.targets, benign.mask) == (BENIGN, FULL_MASK)


def test_coco(data_dir: Path) -> None:
    images = load_coco(data_dir)
    assert [(i.path.name, i.captions, i.coco_split) for i in images] == [
        ("a.jpg", ("a red square", "something red"), "train2017"),
        ("b.jpg", ("a green rectangle",), "val2017"),
    ]
    assert all(i.path.is_file() for i in images)
    assert images[0].license_name == "CC BY 2.0"


def test_missing_files_are_named(data_dir: Path) -> None:
    shutil.rmtree(data_dir / "harmeme_annotations_textonly" / "Harm-P")
    with pytest.raises(FileNotFoundError, match="Harm-P"):
        load_harmeme(data_dir)
    with pytest.raises(FileNotFoundError, match="hatexplain.jsonl"):
        load_hatexplain(data_dir / "elsewhere")


def example(text: str, split: str, source: str = "s") -> TextExample:
    return TextExample(text, BENIGN, FULL_MASK, source, split, "normal")


def test_text_key_ignores_case_and_punctuation() -> None:
    assert text_key("Hello, World!!") == text_key("hello world") == "hello world"
    assert text_key("...") == ""


def test_deduplicate_splits_prefers_test_then_val() -> None:
    kept = deduplicate_splits(
        [
            example("Same text", "train"),
            example("same text!", "test"),
            example("same TEXT", "val"),
            example("val over train", "train"),
            example("Val over train.", "val"),
            example("twice in train", "train"),
            example("twice in train", "train"),
            example("twice in train", "train", source="other"),  # another dataset may repeat it
            example("?!", "train"),  # nothing left of it
        ]
    )
    assert [(e.text, e.split, e.source) for e in kept] == [
        ("same text!", "test", "s"),
        ("Val over train.", "val", "s"),
        ("twice in train", "train", "s"),
        ("twice in train", "train", "other"),
    ]


def test_corpus_has_no_text_in_two_splits(data_dir: Path) -> None:
    corpus = load_text_corpus(data_dir)
    splits_of: dict[str, set[str]] = {}
    for e in corpus:
        splits_of.setdefault(text_key(e.text), set()).add(e.split)
    assert all(len(splits) == 1 for splits in splits_of.values())
    shared = [e for e in corpus if text_key(e.text) == "the shared sentence that appears in two splits"]
    assert [e.split for e in shared] == ["test"]
    assert {e.source for e in corpus} == {"hatexplain", "davidson", "harmeme", "toxigen", "convabuse"}
    assert len(corpus) == 5 - 1 + 3 + 5 + 3 + 3
    with pytest.raises(ValueError, match="unknown text sources"):
        load_text_corpus(data_dir, sources=("hatexplain", "reddit"))


def test_toxigen_is_labelled_by_the_annotators_and_split_by_group(data_dir: Path) -> None:
    examples = {e.text: e for e in load_toxigen(data_dir)}
    assert len(examples) == 3  # toxicity_human 3.0 is neither hate nor benign
    plot = examples["they are all secretly plotting against the rest of us"]
    assert (plot.targets, plot.mask, plot.source, plot.source_label) == (
        HATE,
        FULL_MASK,
        "toxigen",
        "hatespeech",
    )
    assert plot.split == ("val" if stable_fraction(plot.text) < 0.1 else "train")
    assert examples["my grandmother taught me to cook her village's dishes"].targets == BENIGN
    assert TOXIGEN_TEST_GROUP == "latino"
    assert examples["people from that region are lazy and only want handouts"].split == "test"


def test_stable_fraction_depends_on_the_text_only() -> None:
    assert stable_fraction("Some Text!") == stable_fraction("some text")
    assert 0.0 <= stable_fraction("a") < 1.0 and stable_fraction("a") != stable_fraction("b")


def test_convabuse_abuse_at_a_person_is_offensive_not_hate(data_dir: Path) -> None:
    examples = {e.text: e for e in load_convabuse(data_dir)}
    assert set(examples) == {
        "you are a useless pile of junk",
        "shut up woman, get back in the kitchen",
        "what is the weather like today",
    }  # the ambiguous one is dropped
    junk = examples["you are a useless pile of junk"]
    assert (junk.targets, junk.mask, junk.split) == (OFFENSIVE, FULL_MASK, "train")
    sexist = examples["shut up woman, get back in the kitchen"]
    assert (sexist.targets, sexist.mask, sexist.split) == (OFFENSIVE, (0.0, 1.0, 1.0), "val")  # hate unknown
    assert examples["what is the weather like today"].targets == BENIGN
