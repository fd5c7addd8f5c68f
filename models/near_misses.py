"""The benign posts that came closest to review: what a false-positive rate of 0 does not show.

A benign set with nothing flagged says nothing about the margin: a post at 0.95 under a 0.96
threshold passes as well as one at 0.01. The evaluation report lists, for each benign image set,
the few posts whose score came nearest its review threshold (as a share of the threshold), with
what they were: the caption, the image, and what OCR read off it. A retrain that moves one of
them over the line is then no surprise, and the list shows which kind of post is at risk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .data.memes import is_plain_background
from .data.multimodal import MultimodalExample

#: Characters of OCR's read and of a document's text kept per post.
TEXT_CHARS = 80


def describe_image(example: MultimodalExample) -> str:
    """A short name for a post's image: its file, its procedural background, or its text's start."""
    image = example.image
    if image is None:
        return ""
    if image.text.strip():
        return f"{image.style}: {image.text[:TEXT_CHARS]}"
    if is_plain_background(image.background):
        return image.background
    return Path(image.background).name


def post_record(
    post: MultimodalExample, category: str, score: float, threshold: float, *, ocr_read: str | None = None
) -> dict[str, Any]:
    """One benign post and the category it reached (or came nearest to), as reports list it."""
    record: dict[str, Any] = {"kind": post.kind, "caption": post.caption, "image": describe_image(post)}
    if ocr_read is not None:
        record["ocr_read"] = " ".join(ocr_read.split())[:TEXT_CHARS]
    return record | {"category": category, "score": round(float(score), 4), "threshold": float(threshold)}


def closest_to_review(
    scores: np.ndarray,
    labels: Sequence[str],
    thresholds: Mapping[str, float],
    posts: Sequence[MultimodalExample],
    ocr_reads: Mapping[str, str],
    *,
    count: int = 5,
) -> list[dict[str, Any]]:
    """The ``count`` posts with the highest score relative to their category's review threshold
    (each post once, under its nearest category), nearest first."""
    if len(scores) != len(posts):
        raise ValueError(f"{len(scores)} score rows for {len(posts)} posts")
    if not len(posts):
        return []
    limits = np.array([thresholds.get(label, 0.5) for label in labels])
    ratios = scores / limits
    nearest = ratios.argmax(axis=1)
    order = np.argsort(-ratios[np.arange(len(posts)), nearest], kind="stable")[:count]
    rows = []
    for index in order:
        post, category = posts[int(index)], int(nearest[index])
        read = ocr_reads.get(post.image.key(), "") if post.image is not None else ""
        rows.append(
            post_record(post, labels[category], scores[index, category], limits[category], ocr_read=read)
        )
    return rows


def format_near_misses(sets: Mapping[str, Sequence[Mapping[str, Any]]]) -> str:
    """The report's lists as text: one line per post."""
    lines = []
    for name, rows in sets.items():
        lines.append(f"{name}: the benign posts closest to review (score / threshold)")
        for row in rows:
            caption = "(no caption)" if row["caption"] is None else repr(row["caption"])
            read = f" OCR read {row['ocr_read']!r}" if row["ocr_read"] else ""
            lines.append(
                f"  {row['category']:<9} {row['score']:.3f} / {row['threshold']:.2f}  {row['kind']:<14} "
                f"{caption} on {row['image']!r}{read}"
            )
    return "\n".join(lines)
