"""Metrics of ``postguard api``, on its own registry, served at ``/metrics`` on the API's port.

- ``postguard_api_requests_total{endpoint, status}``: every answered request (429s and 401s too);
- ``postguard_api_request_seconds{endpoint}``: from the request's arrival to its response;
- ``postguard_api_inputs_total{endpoint, action}``: inputs decided (a list input counts each);
- ``postguard_api_category_triggers_total{endpoint, category}`` and
  ``postguard_api_other_language_inputs_total{endpoint, language}``: the policy's category rules
  and language rule in the decisions made (an idempotent replay is not a new decision), as the
  consumer counts its own;
- ``postguard_api_batch_size``: inputs per model call (micro-batching across requests);
- ``postguard_api_inference_seconds``, ``postguard_api_model_unavailable_total``,
  ``postguard_api_single_post_retries_total``: the model calls, as the consumer counts its own;
- ``postguard_api_model_info{version, policy_version}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)

from service.api.judge import Judged
from service.moderation.counted_rules import counted_rules

__all__ = ["ApiMetrics", "ENDPOINTS", "build_api_metrics", "observe_decided"]

PREFIX = "postguard_api"
ENDPOINTS = ("openai", "perspective")
#: A single text answers in milliseconds; images with OCR take up to a second or two.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


@dataclass(frozen=True)
class ApiMetrics:
    registry: CollectorRegistry
    requests: Counter
    request_seconds: Histogram
    inputs: Counter
    category_triggers: Counter
    other_language_inputs: Counter
    batch_size: Histogram
    inference_seconds: Histogram
    model_unavailable: Counter
    single_post_retries: Counter
    model_info: Info


def build_api_metrics(registry: CollectorRegistry | None = None) -> ApiMetrics:
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return ApiMetrics(
        registry=registry,
        requests=Counter(
            f"{PREFIX}_requests",
            "API requests answered, by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=registry,
        ),
        request_seconds=Histogram(
            f"{PREFIX}_request_seconds",
            "Time from a request's arrival to its response.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        inputs=Counter(
            f"{PREFIX}_inputs",
            "Inputs decided, by endpoint and action.",
            ["endpoint", "action"],
            registry=registry,
        ),
        category_triggers=Counter(
            f"{PREFIX}_category_triggers",
            "Category rules triggered in the decisions made, by endpoint and category.",
            ["endpoint", "category"],
            registry=registry,
        ),
        other_language_inputs=Counter(
            f"{PREFIX}_other_language_inputs",
            "Inputs decided as clearly in a language the classifier does not read, by endpoint and language.",
            ["endpoint", "language"],
            registry=registry,
        ),
        batch_size=Histogram(
            f"{PREFIX}_batch_size",
            "Inputs scored per model call (across concurrent requests).",
            buckets=BATCH_BUCKETS,
            registry=registry,
        ),
        inference_seconds=Histogram(
            f"{PREFIX}_inference_seconds",
            "Time of one model call.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        model_unavailable=Counter(
            f"{PREFIX}_model_unavailable",
            "Model calls that failed on a known-good post too (503s).",
            registry=registry,
        ),
        single_post_retries=Counter(
            f"{PREFIX}_single_post_retries",
            "Inputs that failed alone and were tried again.",
            registry=registry,
        ),
        model_info=Info(f"{PREFIX}_model", "The model and policy the API decides with.", registry=registry),
    )


def observe_decided(metrics: ApiMetrics, endpoint: str, judged: Iterable[Judged]) -> None:
    """Count the inputs answered and, for the decisions made now (not replayed from an earlier
    request's), the category and language rules they triggered."""
    for one in judged:
        metrics.inputs.labels(endpoint=endpoint, action=one.action).inc()
        if one.replayed:
            continue
        counted = counted_rules(one.triggered)
        for category in counted.categories:
            metrics.category_triggers.labels(endpoint=endpoint, category=category).inc()
        for language in counted.languages:
            metrics.other_language_inputs.labels(endpoint=endpoint, language=language).inc()
