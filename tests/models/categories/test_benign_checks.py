"""The categories report's benign checks name the posts they flag (models/categories/build.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from models.categories import build
from models.data.memes import MemeSpec
from models.data.multimodal import MultimodalExample
from models.data.sources import BENIGN, FULL_MASK
from models.types import PostContent


@dataclass
class SpamOnLol:
    """Stands in for the service's scoring: `spam` fires on the caption "lol", nothing else does."""

    categories: Any = field(default_factory=lambda: SimpleNamespace(names=("spam", "violence")))
    review_thresholds: dict[str, float] = field(default_factory=lambda: {"spam": 0.8, "violence": 0.7})

    def score(self, posts: list[PostContent]) -> list[Any]:
        return [
            SimpleNamespace(scores={"spam": 0.93 if post.text == "lol" else 0.1, "violence": 0.2})
            for post in posts
        ]


def test_benign_checks_count_and_name_the_flagged_posts(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chart = MemeSpec("", "chart:pie:3", "card", 0, 30, 0.0, 0, width=96, height=64)
    posts = [
        MultimodalExample(caption, chart, BENIGN, FULL_MASK, "ood_chart", "test") for caption in ("lol", None)
    ]
    monkeypatch.setattr(build, "ood_benign_posts", lambda captions: posts)
    report = build.benign_posts_flagged(SpamOnLol(), data_dir)  # type: ignore[arg-type]
    ood = report["ood_benign_bland_captions"]
    assert ood["posts"] == 2 and ood["flagged_by_category"] == {"spam": 1}
    assert ood["flagged_posts"] == [
        {
            "kind": "ood_chart",
            "caption": "lol",
            "image": "chart:pie:3",
            "category": "spam",
            "score": 0.93,
            "threshold": 0.8,
        }
    ]
    assert report["coco_benign"]["flagged_posts"] == []  # the data folder's photos carry no "lol"
    assert report["bland_captions_as_text"]["flagged_by_category"] == {"spam": 1}
