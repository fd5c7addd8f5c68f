"""What the pipeline counts once its decisions are published (service/moderation/published_metrics.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from service.moderation.published_metrics import observe_published
from service.observability.metrics import build_metrics
from service.records import RawRecord
from service.storage.repository import StoredDecision


def _stored(
    post_id: str, action: str, triggered: list[dict[str, Any]], *, created: bool = True
) -> StoredDecision:
    return StoredDecision(
        post_id=post_id,
        decision_id=1,
        action=action,
        scores={"hate": 0.1},
        triggered=triggered,
        attribution={},
        model_version="m",
        policy_version="p",
        decided_at=datetime.now(UTC),
        created=created,
    )


def _record(offset: int) -> RawRecord:
    return RawRecord(value=b"{}", key=None, topic="posts", partition=0, offset=offset, timestamp_ms=None)


def test_language_and_category_rules_are_counted_once_per_new_decision() -> None:
    registry = CollectorRegistry()
    metrics = build_metrics(registry)
    language = {"kind": "language", "name": "es", "action": "review", "score": 0.93}
    category = {"kind": "category", "name": "hate", "action": "review", "score": 0.9, "threshold": 0.8}
    stored = [
        _stored("a", "review", [language]),
        _stored("b", "review", [category, language]),
        _stored("c", "review", [language], created=False),  # a redelivery: counted as republished
    ]
    observe_published(metrics, [_record(i) for i in range(3)], stored, [])

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("postguard_other_language_posts_total", language="es") == 2
    assert value("postguard_category_triggers_total", category="hate") == 1
    assert value("postguard_decisions_total", action="review") == 2
    assert value("postguard_decisions_republished_total") == 1
