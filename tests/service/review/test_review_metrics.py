"""The review metrics bundle: names, units, and a clean ``promtool check metrics``."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from service.observability.metrics import build_metrics
from service.review.metrics import build_review_metrics
from tests.utils.prometheus import PrometheusTools, promtool


def test_the_bundle_passes_promtool(prometheus_tools: PrometheusTools) -> None:
    metrics = build_review_metrics()
    metrics.time_to_first_claim_seconds.observe(42)
    metrics.agreement.labels(category="hate", outcome="agree").inc()
    metrics.set_queue_depth({"open": 3, "claimed": 1, "resolved": 0, "appealed": 0})

    checked = promtool(prometheus_tools, "check", "metrics", stdin=generate_latest(metrics.registry).decode())

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert metrics.registry.get_sample_value("postguard_review_queue_items", {"status": "open"}) == 3


def test_the_bundle_shares_the_services_queue_gauge() -> None:
    """On the service's registry the bundle reuses postguard_review_queue_items (no duplicate)."""
    registry = CollectorRegistry()
    service = build_metrics(registry)
    review = build_review_metrics(registry, queue_items=service.review_queue_items)
    review.set_queue_depth({"open": 5})
    assert registry.get_sample_value("postguard_review_queue_items", {"status": "open"}) == 5
