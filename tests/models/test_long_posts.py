"""The long-post check: harmful texts buried in benign padding, read whole and cut."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from devtools.testing import build_tiny_model
from models import long_posts
from models.checkpoint import save_checkpoint
from models.data.sources import BENIGN, FULL_MASK, HATE, TextExample
from models.inference import Moderator
from models.long_posts import build_sets, draw_padding, format_report, join, pad_around, run_check
from models.types import PostContent

PADDING = ["one two three four", "five six", "seven eight nine ten eleven", "twelve"]


def test_join_collapses_whitespace_between_and_inside_texts() -> None:
    assert join(["  a  b ", "c\n d"]) == "a b c d"


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        ("start", "HARM one two three four five six seven eight nine ten eleven twelve"),
        ("middle", "one two three four five six HARM seven eight nine ten eleven twelve"),
        ("end", "one two three four five six seven eight nine ten eleven twelve HARM"),
    ],
)
def test_the_harmful_text_goes_where_it_is_asked(position: str, expected: str) -> None:
    assert pad_around("HARM", PADDING, position) == expected


def test_an_unknown_position_is_refused() -> None:
    with pytest.raises(ValueError, match="position must be one of start, middle, end"):
        pad_around("HARM", PADDING, "top")


def test_padding_holds_enough_distinct_words() -> None:
    padding = draw_padding(PADDING, np.random.default_rng(0), words=9)
    assert sum(len(text.split()) for text in padding) >= 9
    assert len(set(padding)) == len(padding)
    with pytest.raises(ValueError, match="holds fewer than 100 words"):
        draw_padding(PADDING, np.random.default_rng(0), words=100)


def _examples() -> list[TextExample]:
    harmful = [
        TextExample(f"harm{i} words", HATE, FULL_MASK, "hatexplain", "test", "hatespeech") for i in range(6)
    ]
    benign = [
        TextExample(f"calm{i} " + "word " * 5, BENIGN, FULL_MASK, "hatexplain", "test", "normal")
        for i in range(40)
    ]
    return harmful + benign


def test_only_texts_flagged_alone_are_buried_and_only_quiet_ones_pad() -> None:
    def alone(texts: Sequence[str]) -> np.ndarray:
        # harm0..2 are caught alone; calm0..4 are flagged alone (the noisy benign texts)
        return np.array(
            [t.startswith(("harm0", "harm1", "harm2", *(f"calm{i} " for i in range(5)))) for t in texts]
        )

    sets = build_sets(_examples(), alone, harmful_posts=10, benign_posts=6, padding_words=20)
    assert (sets["harmful_texts"], sets["harmful_flagged_alone"]) == (6, 3)
    assert sets["benign_flagged_alone"] == {"hatexplain": {"texts": 40, "flagged": 5}}
    assert set(sets["buried"]) == {"start", "middle", "end", "middle_of_everyday_prose"}
    for where, posts in sets["buried"].items():
        assert len(posts) == 3, where
        for post in posts:
            assert any(f"harm{i} words" in post for i in range(3))
            assert not any(f"calm{i} " in post + " " for i in range(5))  # quiet padding only
            assert len(post.split()) >= 20
    assert sets["buried"]["start"][0].startswith("harm")
    assert all(p.endswith("words") for p in sets["buried"]["end"])
    assert set(sets["benign_long"]) == {"quiet_mix", "hatexplain", "everyday_prose"}
    assert all(len(posts) == 6 for posts in sets["benign_long"].values())
    assert not any("calm0 " in post for post in sets["benign_long"]["quiet_mix"])


@pytest.fixture
def tiny_checkpoint_that_flags_some(tmp_path: Path) -> Path:
    """A tiny random checkpoint whose `hate` threshold is the median of its hate scores of the
    harmful examples (the other labels never fire): some texts are flagged alone, some are not."""
    model, processor = build_tiny_model()
    scores = Moderator(model, processor, sha256="0" * 64).score(
        [PostContent(text=e.text) for e in _examples() if e.targets[-1] == 1.0]
    )
    cut = float(np.median([r.scores["hate"] for r in scores]))
    model.config.review_thresholds = {"hate": cut, "offensive": 1.0, "toxic": 1.0}
    save_checkpoint(model, processor, tmp_path / "checkpoint")
    return tmp_path / "checkpoint"


def test_the_check_runs_end_to_end_on_a_tiny_checkpoint(
    tiny_checkpoint_that_flags_some: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(long_posts, "load_text_corpus", lambda data_dir, sources: _examples())
    report = run_check(
        tiny_checkpoint_that_flags_some, tmp_path, harmful_posts=4, benign_posts=6, padding_words=30
    )
    assert report["checkpoint"] == "tiny-random-0"
    assert report["max_length"] == 32
    assert 0 < report["harmful_flagged_alone"] < report["harmful_texts"]
    assert set(report["readings"]) == {"whole", "cut"}
    for row in report["readings"].values():
        for key in (
            "harmful_kept_start",
            "harmful_kept_middle",
            "harmful_kept_end",
            "benign_quiet_mix_flagged",
        ):
            cell = row[key]
            assert cell["n"] > 0
            assert cell["interval"][0] <= cell["rate"] <= cell["interval"][1]
    # cut at 32 tokens, a harmful text at the start of a post is read as it was alone; at the end, not at all
    cut, whole = report["readings"]["cut"], report["readings"]["whole"]
    assert cut["harmful_kept_end"]["rate"] == cut["benign_quiet_mix_flagged"]["rate"] == 0.0
    assert whole["harmful_kept_end"]["rate"] > 0.0
    table = format_report(report)
    assert "harmful kept middle" in table and "first 32 tokens" in table


def test_a_checkpoint_that_flags_no_harmful_text_alone_reports_empty_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, processor = build_tiny_model()
    model.config.review_thresholds = {"hate": 1.0, "offensive": 1.0, "toxic": 1.0}  # nothing reaches 1.0
    save_checkpoint(model, processor, tmp_path / "checkpoint")
    monkeypatch.setattr(long_posts, "load_text_corpus", lambda data_dir, sources: _examples())
    report = run_check(tmp_path / "checkpoint", tmp_path, harmful_posts=4, benign_posts=3, padding_words=30)
    assert report["harmful_flagged_alone"] == 0
    for row in report["readings"].values():
        assert row["harmful_kept_start"] == {"rate": None, "n": 0, "interval": None}
        assert row["benign_quiet_mix_flagged"]["rate"] == 0.0
    assert "n/a (n=0)" in format_report(report)
