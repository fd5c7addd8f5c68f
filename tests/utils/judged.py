"""Building ``Judged`` answers (one input's decision, as the API's formats and metrics read it)
for tests that need no server."""

from __future__ import annotations

from typing import Any

from service.api.judge import Judged


def make_judged(
    *,
    action: str = "review",
    scores: dict[str, float] | None = None,
    triggered: list[dict[str, Any]] | None = None,
    image: bool = False,
    replayed: bool = False,
) -> Judged:
    """A stored decision on a text input (and an image when ``image``); its rules as given."""
    return Judged(
        post_id="api-x-0",
        action=action,
        scores=dict(scores or {}),
        triggered=list(triggered or []),
        attribution={},
        model_version="m",
        policy_version="p",
        has_text=True,
        has_image=image,
        ocr_text=None,
        stored=True,
        replayed=replayed,
    )


def category_rules(scores: dict[str, float], names: list[str]) -> list[dict[str, Any]]:
    """Review rules of the named categories, at their scores (threshold 0.5)."""
    return [
        {"kind": "category", "name": n, "action": "review", "score": scores[n], "threshold": 0.5}
        for n in names
    ]
