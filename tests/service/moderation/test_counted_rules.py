from __future__ import annotations

from service.moderation.contract import TriggeredRule
from service.moderation.counted_rules import CountedRules, counted_rules


def test_category_and_language_rules_are_named_and_term_rules_are_not() -> None:
    stored = [
        TriggeredRule(kind="category", name="hate", action="block", score=0.97, threshold=0.9).model_dump(),
        TriggeredRule(kind="deny_term", name="buy followers", action="block").model_dump(),
        TriggeredRule(kind="allow_term", name="reclaimed", action="review").model_dump(),
        TriggeredRule(kind="language", name="es", action="review", score=0.99).model_dump(),
        TriggeredRule(kind="category", name="spam", action="review", score=0.8, threshold=0.7).model_dump(),
    ]

    assert counted_rules(stored) == CountedRules(categories=("hate", "spam"), languages=("es",))


def test_a_decision_without_rules_counts_nothing() -> None:
    assert counted_rules([]) == CountedRules(categories=(), languages=())
