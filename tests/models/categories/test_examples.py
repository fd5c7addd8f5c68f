from __future__ import annotations

from pathlib import Path

import pytest

from models.categories.examples import (
    MIN_POSITIVES,
    CategoryExample,
    ExamplesError,
    check_examples,
    parse_examples,
    read_examples,
    write_examples,
)


def test_parses_text_label_and_keeps_other_fields_as_metadata() -> None:
    lines = ['{"text": "buy  now\\n", "label": 1, "kind": "promo"}', "", '{"text": "hello", "label": 0}']
    examples = parse_examples(lines, source="f.jsonl")
    assert examples == [CategoryExample("buy now", 1), CategoryExample("hello", 0)]
    assert examples[0].meta == {"kind": "promo"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 1: not JSON"),
        ('["text", 1]', "expected an object"),
        ('{"label": 1}', "'text' must be a non-empty string"),
        ('{"text": "  ", "label": 1}', "'text' must be a non-empty string"),
        ('{"text": "x", "label": "yes"}', "'label' must be 1"),
        ('{"text": "x", "label": true}', "'label' must be 1"),
        ('{"text": "x", "label": 2}', "'label' must be 1"),
        ('{"text": "' + "x" * 2001 + '", "label": 1}', "at most 2000"),
    ],
)
def test_each_malformed_line_is_named(line: str, message: str) -> None:
    with pytest.raises(ExamplesError, match=message) as error:
        parse_examples([line], source="mine.jsonl")
    assert "mine.jsonl, line 1" in str(error.value)


def test_too_few_positives_are_refused() -> None:
    examples = [CategoryExample(f"positive {i}", 1) for i in range(MIN_POSITIVES - 1)]
    with pytest.raises(ExamplesError, match=f"19 positive examples .* at least {MIN_POSITIVES}"):
        check_examples(examples, source="f")
    check_examples([*examples, CategoryExample("one more", 1)], source="f")


def test_a_text_labelled_both_ways_is_refused() -> None:
    examples = [CategoryExample(f"positive {i}", 1) for i in range(MIN_POSITIVES)]
    with pytest.raises(ExamplesError, match="labelled both 1 and 0"):
        check_examples([*examples, CategoryExample("Positive 3", 0)], source="f")


def test_write_then_read_round_trips(tmp_path: Path) -> None:
    examples = [CategoryExample("café ☕", 1, {"kind": "x"}), CategoryExample("b", 0)]
    write_examples(tmp_path / "e.jsonl", examples)
    again = read_examples(tmp_path / "e.jsonl")
    assert again == examples and again[0].meta == {"kind": "x"}


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExamplesError, match="examples file not found"):
        read_examples(tmp_path / "nope.jsonl")
