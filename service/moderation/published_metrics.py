"""The counters and gauges of what the pipeline published: decisions by action, category
triggers, posts in languages the classifier does not read, republished decisions, dead letters by reason, end-to-end latency."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from service.moderation.counted_rules import counted_rules
from service.moderation.messages import DeadLetter
from service.observability.metrics import ServiceMetrics
from service.records import RawRecord
from service.storage.repository import StoredDecision

logger = logging.getLogger(__name__)


def observe_published(
    metrics: ServiceMetrics,
    records: Sequence[RawRecord],
    stored: Sequence[StoredDecision],
    dead: Sequence[DeadLetter],
) -> None:
    """Count what was published (call after the sends were acknowledged): ``records[i]`` is the
    record ``stored[i]`` decided."""
    now = time.time()
    for record, decision in zip(records, stored, strict=True):
        # A redelivered post republishes its stored decision; count each decision once.
        if decision.created:
            metrics.decisions.labels(action=decision.action).inc()
            counted = counted_rules(decision.triggered)
            for category in counted.categories:
                metrics.category_triggers.labels(category=category).inc()
            for language in counted.languages:
                metrics.other_language_posts.labels(language=language).inc()
        else:
            # Read back from the database: an earlier delivery stored it, and (unless that
            # delivery's publish failed) published it too: this event is a duplicate.
            metrics.decisions_republished.inc()
        if record.timestamp_ms is not None:
            metrics.end_to_end_seconds.observe(max(0.0, now - record.timestamp_ms / 1000))
    for item in dead:
        metrics.dead_lettered.labels(reason=item.code).inc()
        logger.info(
            "dead-lettered %s (%s/%d@%d): %s",
            item.post_id or "a message",
            item.record.topic,
            item.record.partition,
            item.record.offset,
            item.code,
        )
    if stored:
        metrics.last_decision_timestamp_seconds.set(now)
