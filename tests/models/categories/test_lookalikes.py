"""Safe look-alikes: reading the file and measuring what the review thresholds flag."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from models.categories.examples import ExamplesError
from models.categories.lookalikes import (
    HELD_OUT,
    Lookalike,
    format_lookalikes,
    held_out_sets,
    lookalikes_flagged,
    parse_lookalikes,
    read_lookalikes,
)

EXAMPLES = HELD_OUT.parent.parent / "examples"


def _line(text: str, looks_like: str = "violence", sense: str = "blow up", kind: str = "homonym") -> str:
    return json.dumps({"text": text, "looks_like": looks_like, "sense": sense, "kind": kind})


def test_parse_collapses_whitespace_and_skips_blank_lines() -> None:
    posts = parse_lookalikes([_line("my phone  blew up\tall day"), "", _line("ok")], source="x.jsonl")
    assert posts == [
        Lookalike("my phone blew up all day", "violence", "blow up", "homonym"),
        Lookalike("ok", "violence", "blow up", "homonym"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "x.jsonl, line 2: not JSON"),
        (
            json.dumps({"text": "hi", "looks_like": "spam", "sense": "free"}),
            "x.jsonl, line 2: expected an object",
        ),
        (json.dumps({"text": " ", "looks_like": "spam", "sense": "free", "kind": "promo_ok"}), "line 2"),
        (json.dumps(["a list"]), "line 2: expected an object"),
    ],
)
def test_parse_names_the_file_and_line_of_a_bad_row(line: str, message: str) -> None:
    with pytest.raises(ExamplesError, match=re.escape(message)):
        parse_lookalikes([_line("fine"), line], source="x.jsonl")


def test_an_empty_or_missing_file_is_an_error() -> None:
    with pytest.raises(ExamplesError, match="no look-alike posts"):
        parse_lookalikes(["", "  "], source="empty.jsonl")
    with pytest.raises(ExamplesError, match="no such look-alike file"):
        read_lookalikes(HELD_OUT.with_name("missing.jsonl"))


def test_flagged_counts_any_category_own_category_and_kinds() -> None:
    posts = [
        Lookalike("shoot a photo", "self_harm", "shoot", "homonym"),
        Lookalike("kill a process", "violence", "kill", "homonym"),
        Lookalike("bath bomb", "violence", "bomb", "homonym"),
        Lookalike("free cake at the library", "spam", "free", "promo_ok"),
    ]
    thresholds = {"self_harm": 0.8, "violence": 0.6, "spam": 0.7, "hate": 0.9}
    scores = [
        {"self_harm": 0.85, "violence": 0.1, "spam": 0.0, "hate": 0.0},  # own category fires
        {"self_harm": 0.1, "violence": 0.5, "spam": 0.0, "hate": 0.95},  # another category fires
        {"self_harm": 0.0, "violence": 0.6, "spam": 0.0, "hate": 0.0},  # exactly at the threshold
        {"self_harm": 0.0, "violence": 0.0, "spam": 0.69, "hate": 0.0, "unknown": 1.0},  # below; no threshold
    ]
    groups = {"checkpoint": {"hate"}, "example-defined": {"self_harm", "violence", "spam"}}
    report = lookalikes_flagged(posts, scores, thresholds, groups)
    assert report["by_group"] == {
        "checkpoint": {"posts": 4, "flagged": 1, "rate": 0.25},
        "example-defined": {"posts": 4, "flagged": 2, "rate": 0.5},
    }
    assert lookalikes_flagged(posts, scores, thresholds)["by_group"] == {}
    assert report["any_category"] == {"posts": 4, "flagged": 3, "rate": 0.75}
    assert report["own_category"]["violence"] == {"posts": 2, "flagged": 1, "rate": 0.5}
    assert report["own_category"]["self_harm"]["flagged"] == 1
    assert report["own_category"]["spam"]["flagged"] == 0
    assert report["by_kind"] == {
        "homonym": {"posts": 3, "flagged": 3, "rate": 1.0},
        "promo_ok": {"posts": 1, "flagged": 0, "rate": 0.0},
    }
    assert report["flagged_by_category"] == {"hate": 1, "self_harm": 1, "violence": 1}
    assert report["flagged"][1] == {"text": "kill a process", "categories": {"hate": 0.95}}
    table = format_lookalikes(report)
    assert "safe look-alikes (4 posts) sent to review in any category: 3 (75.0%)" in table
    assert "  by example-defined categories: 2 (50.0%)" in table
    assert "looking like violence     1 of 2   flagged as violence (50.0%)" in table


def test_flagged_needs_one_score_row_per_post() -> None:
    with pytest.raises(ValueError, match=r"one score row per post \(1\), got 0"):
        lookalikes_flagged([Lookalike("a", "spam", "free", "promo_ok")], [], {"spam": 0.5})


def test_held_out_sets_reads_every_evaluation_file_by_stem(tmp_path: Path) -> None:
    (tmp_path / "heldout.jsonl").write_text(_line("a") + "\n", encoding="utf-8")
    (tmp_path / "heldout2.jsonl").write_text(_line("b") + "\n" + _line("c") + "\n", encoding="utf-8")
    (tmp_path / "notes.jsonl").write_text("not read", encoding="utf-8")
    assert {stem: len(rows) for stem, rows in held_out_sets(tmp_path).items()} == {
        "heldout": 1,
        "heldout2": 2,
    }
    with pytest.raises(ExamplesError, match="no look-alike files"):
        held_out_sets(tmp_path / "nothing")


def test_the_shipped_sets_parse_cover_every_bundled_category_and_do_not_overlap() -> None:
    sets = held_out_sets()
    assert set(sets) == {"heldout", "heldout2"}
    posts = [p for rows in sets.values() for p in rows]
    for stem, rows in sets.items():
        assert len(rows) >= 200, stem
        assert {"self_harm", "violence", "sexual", "spam", "hate", "offensive"} <= {
            p.looks_like for p in rows
        }
    assert len({p.text.casefold() for p in posts}) == len(posts), "a look-alike is written twice"


def test_no_evaluation_look_alike_is_also_a_training_example() -> None:
    held_out = {p.text.casefold() for rows in held_out_sets().values() for p in rows}
    for path in sorted(EXAMPLES.glob("*/train*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            training = {json.loads(line)["text"].casefold() for line in handle if line.strip()}
        assert not held_out & training, f"{path} trains on evaluation look-alikes"
