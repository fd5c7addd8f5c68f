"""From a scored post to the decision record that is stored: the policy applied to the scores and
to every text the post shows (the caption and the text read from its image). The consumer's
pipeline and the synchronous API build their records here, so both decide alike."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from models.types import ModerationResult
from service.moderation.images import LoadedImage
from service.moderation.policy import Policy
from service.records import ApiRequestRef, SourceRef
from service.storage.repository import DecisionRecord

__all__ = ["decision_record"]


def decision_record(
    *,
    post_id: str,
    author_id: str,
    text: str | None,
    image: LoadedImage | None,
    result: ModerationResult,
    policy: Policy,
    model_version: str,
    created_at: datetime,
    lang: str | None,
    metadata: dict[str, Any],
    source: SourceRef | ApiRequestRef,
    decided_at: datetime,
) -> DecisionRecord:
    # Deny/allow terms apply to every text the post shows: the caption and the text in the image.
    texts = [t for t in (text, result.ocr_text) if t]
    outcome = policy.decide(scores=result.scores, texts=texts)
    return DecisionRecord(
        post_id=post_id,
        author_id=author_id,
        text=text,
        text_sha256=hashlib.sha256(text.encode()).hexdigest() if text is not None else None,
        image_sha256=image.sha256 if image else None,
        image_thumbnail_jpeg=image.thumbnail_jpeg if image else None,
        ocr_text=result.ocr_text,
        created_at=created_at,
        lang=lang,
        metadata=metadata,
        source=source,
        model_version=model_version,
        policy_version=policy.version,
        action=outcome.action,
        scores=dict(result.scores),
        triggered=[rule.model_dump(mode="json") for rule in outcome.triggered],
        attribution={k: dict(v) for k, v in result.attribution.items()},
        decided_at=decided_at,
        review_priority=outcome.priority,
    )
