"""Metrics of the review workflow, in one bundle bound to an explicit registry.

The workflow functions update them as they commit (claims, verdicts, agreement); the queue depth
gauge is the service's ``postguard_review_queue_items{status}`` when the bundle is built on the
service's registry (pass it in), or a gauge of the same name on the review page's own registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from service.storage.tables import REVIEW_STATUSES, VERDICT_ACTIONS

PREFIX = "postguard_review"
#: Values of the ``outcome`` label of the agreement counter.
AGREEMENT_OUTCOMES = ("agree", "disagree")
#: Values of the ``kind`` label of the time-to-verdict histogram.
VERDICT_KINDS = ("first", "appeal")

# Human review runs on minutes to days, not milliseconds: a claim within a minute is a healthy
# queue, hours mean a backlog, beyond a week something is forgotten.
WAIT_BUCKETS = (
    10.0,
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    4 * 3600.0,
    12 * 3600.0,
    86400.0,
    3 * 86400.0,
    7 * 86400.0,
)


@dataclass(frozen=True)
class ReviewMetrics:
    """Every review-workflow metric, bound to :attr:`registry`."""

    registry: CollectorRegistry
    queue_items: Gauge  # postguard_review_queue_items{status}
    time_to_first_claim_seconds: Histogram  # item created -> first claim
    time_to_verdict_seconds: Histogram  # {kind}: item created (or appeal filed) -> verdict
    verdicts: Counter  # postguard_review_verdicts_total{action}
    agreement: Counter  # postguard_review_label_agreement_total{category, outcome}
    claims_expired: Counter  # postguard_review_claims_expired_total
    appeals: Counter  # postguard_review_appeals_total

    def set_queue_depth(self, counts: Mapping[str, int]) -> None:
        for status, value in counts.items():
            self.queue_items.labels(status=status).set(value)


def build_review_metrics(
    registry: CollectorRegistry | None = None, *, queue_items: Gauge | None = None
) -> ReviewMetrics:
    """The review metrics on ``registry`` (a new one when None).

    ``queue_items``: the service's queue gauge when the bundle shares the service's registry
    (a second gauge of the same name would be a duplicate there).
    """
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    if queue_items is None:
        queue_items = Gauge(
            f"{PREFIX}_queue_items", "Review items in PostgreSQL, by status.", ["status"], registry=registry
        )
    metrics = ReviewMetrics(
        registry=registry,
        queue_items=queue_items,
        time_to_first_claim_seconds=Histogram(
            f"{PREFIX}_time_to_first_claim_seconds",
            "From a review item's creation to its first claim by a moderator.",
            buckets=WAIT_BUCKETS,
            registry=registry,
        ),
        time_to_verdict_seconds=Histogram(
            f"{PREFIX}_time_to_verdict_seconds",
            "From a review item's creation (kind=first) or its appeal (kind=appeal) to the verdict.",
            ["kind"],
            buckets=WAIT_BUCKETS,
            registry=registry,
        ),
        verdicts=Counter(
            f"{PREFIX}_verdicts", "Moderators' verdicts, by action.", ["action"], registry=registry
        ),
        agreement=Counter(
            f"{PREFIX}_label_agreement",
            "Per verdict and category: did the model flag the category exactly when the moderator did?",
            ["category", "outcome"],
            registry=registry,
        ),
        claims_expired=Counter(
            f"{PREFIX}_claims_expired", "Claims that expired and went back to the queue.", registry=registry
        ),
        appeals=Counter(f"{PREFIX}_appeals", "Appeals filed.", registry=registry),
    )
    for status in REVIEW_STATUSES:
        metrics.queue_items.labels(status=status)
    for action in VERDICT_ACTIONS:
        metrics.verdicts.labels(action=action)
    for kind in VERDICT_KINDS:
        metrics.time_to_verdict_seconds.labels(kind=kind)
    return metrics
