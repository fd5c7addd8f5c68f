"""Building ``DecisionRecord``s for tests."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from service.records import SourceRef
from service.storage.repository import DecisionRecord

_BASE_TIME = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def make_record(
    post_id: str = "post-1",
    *,
    action: str = "allow",
    text: str | None = "hello world",
    model_version: str = "model-test-1",
    offset: int = 0,
    **overrides: Any,
) -> DecisionRecord:
    """A valid record; scores and triggered rules follow ``action`` so rows look realistic."""
    score = {"allow": 0.05, "review": 0.6, "block": 0.97}[action]
    record = DecisionRecord(
        post_id=post_id,
        author_id="author-1",
        text=text,
        text_sha256=None if text is None else hashlib.sha256(text.encode()).hexdigest(),
        image_sha256=None,
        image_thumbnail_jpeg=None,
        ocr_text=None,
        created_at=_BASE_TIME,
        lang="en",
        metadata={"client": "tests"},
        source=SourceRef(topic="posts", partition=0, offset=offset, timestamp_ms=1_735_732_800_000),
        model_version=model_version,
        policy_version="policy-test-1",
        action=action,
        scores={"hate": score, "offensive": score / 2, "toxic": score},
        triggered=[] if action == "allow" else [{"rule": "toxic", "label": "toxic", "score": score}],
        attribution={"toxic": {"caption": 1.0, "image_pixels": 0.0, "image_text": 0.0}},
        decided_at=_BASE_TIME + timedelta(seconds=1),
        review_priority=70 if action == "review" else 0,
    )
    return replace(record, **overrides) if overrides else record
