"""The benign posts closest to review (models/near_misses.py) on hand-made scores."""

from __future__ import annotations

import numpy as np
import pytest

from models.data.memes import MemeSpec
from models.data.multimodal import MultimodalExample
from models.data.sources import BENIGN, FULL_MASK
from models.near_misses import closest_to_review, describe_image, format_near_misses

LABELS = ("hate", "offensive", "toxic")
THRESHOLDS = {"hate": 0.8, "offensive": 0.5, "toxic": 0.9}


def post(caption: str | None, background: str, text: str = "", kind: str = "ood_art") -> MultimodalExample:
    image = MemeSpec(text, background, "document" if text else "card", 0, 20, 0.0, 0)
    return MultimodalExample(caption, image, BENIGN, FULL_MASK, kind, "test")


POSTS = [
    post("lol", "art:rings:1"),
    post("mood", "/data/coco/images/000123.jpg", kind="coco_benign"),
    post(None, "color:255,255,255", text="The community garden opens at nine", kind="ood_document"),
    post("this", "chart:bar:7", kind="ood_chart"),
]
SCORES = np.array(
    [
        [0.10, 0.10, 0.10],  # far from every threshold
        [0.40, 0.45, 0.50],  # offensive at 0.90 of its threshold
        [0.76, 0.10, 0.20],  # hate at 0.95 of its threshold: the nearest
        [0.10, 0.20, 0.81],  # toxic at 0.90, tied with the coco post: the earlier post first
    ]
)


def test_posts_are_ranked_by_their_nearest_category_relative_to_its_threshold() -> None:
    document = POSTS[2].image
    assert document is not None
    rows = closest_to_review(
        SCORES, LABELS, THRESHOLDS, POSTS, {document.key(): "the community\ngarden"}, count=3
    )
    assert [(r["kind"], r["category"]) for r in rows] == [
        ("ood_document", "hate"),
        ("coco_benign", "offensive"),
        ("ood_chart", "toxic"),
    ]
    first = rows[0]
    assert first["score"] == pytest.approx(0.76) and first["threshold"] == 0.8
    assert first["caption"] is None and first["ocr_read"] == "the community garden"
    assert first["image"] == "document: The community garden opens at nine"
    assert rows[1]["image"] == "000123.jpg"  # a photo by its file name, not the machine's path
    assert rows[2]["image"] == "chart:bar:7" and rows[2]["ocr_read"] == ""


def test_a_short_or_empty_set_and_mismatched_rows() -> None:
    assert len(closest_to_review(SCORES, LABELS, THRESHOLDS, POSTS, {}, count=10)) == 4
    assert closest_to_review(np.zeros((0, 3)), LABELS, THRESHOLDS, [], {}) == []
    with pytest.raises(ValueError, match="3 score rows for 4 posts"):
        closest_to_review(SCORES[:3], LABELS, THRESHOLDS, POSTS, {})


def test_describe_image_and_the_printed_list() -> None:
    assert describe_image(MultimodalExample("x", None, BENIGN, FULL_MASK, "k", "test")) == ""
    text = format_near_misses(
        {"ood_benign": closest_to_review(SCORES, LABELS, THRESHOLDS, POSTS, {}, count=1)}
    )
    assert text.splitlines() == [
        "ood_benign: the benign posts closest to review (score / threshold)",
        "  hate      0.760 / 0.80  ood_document   (no caption) on 'document: The community garden opens at nine'",
    ]
