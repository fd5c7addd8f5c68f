"""What ``postguard api`` counts for each answer: inputs by action, and the category and language
rules of the decisions it made (a replayed answer is no new decision)."""

from __future__ import annotations

from typing import Any

from service.api.metrics import build_api_metrics, observe_decided
from tests.utils.judged import make_judged


def _value(metrics: Any, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_inputs_category_and_language_rules_are_counted_by_endpoint() -> None:
    metrics = build_api_metrics()
    spanish = {"kind": "language", "name": "es", "action": "review", "score": 0.99}
    spam = {"kind": "category", "name": "spam", "action": "review", "score": 0.9}
    threshold = {"kind": "threshold", "name": "toxic", "action": "review", "score": 0.97}
    observe_decided(
        metrics,
        "openai",
        [
            make_judged(action="review", triggered=[spanish]),
            make_judged(action="review", triggered=[spam, threshold]),
        ],
    )
    observe_decided(metrics, "perspective", [make_judged(action="allow", triggered=[])])
    assert _value(metrics, "postguard_api_inputs_total", endpoint="openai", action="review") == 2
    assert _value(metrics, "postguard_api_inputs_total", endpoint="perspective", action="allow") == 1
    assert _value(metrics, "postguard_api_other_language_inputs_total", endpoint="openai", language="es") == 1
    assert _value(metrics, "postguard_api_category_triggers_total", endpoint="openai", category="spam") == 1
    # a threshold rule is neither a category nor a language
    assert (
        _value(metrics, "postguard_api_category_triggers_total", endpoint="openai", category="toxic") is None
    )


def test_a_replayed_answer_counts_as_an_input_but_not_as_a_new_decision() -> None:
    metrics = build_api_metrics()
    spanish = {"kind": "language", "name": "es", "action": "review", "score": 0.99}
    observe_decided(metrics, "openai", [make_judged(action="review", triggered=[spanish], replayed=True)])
    assert _value(metrics, "postguard_api_inputs_total", endpoint="openai", action="review") == 1
    assert (
        _value(metrics, "postguard_api_other_language_inputs_total", endpoint="openai", language="es") is None
    )
