"""The rules of a stored decision that the metrics count: the consumer and ``postguard api`` both
count category triggers and other-language inputs from a decision's ``triggered`` list, and must
count them alike."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CountedRules", "counted_rules"]


@dataclass(frozen=True)
class CountedRules:
    #: The categories whose rule fired (a category appears once per decision).
    categories: tuple[str, ...]
    #: The languages a language rule named (texts clearly in a language the classifier does not read).
    languages: tuple[str, ...]


def counted_rules(triggered: Iterable[Mapping[str, Any]]) -> CountedRules:
    """Split a decision's triggered rules (as stored: JSON objects with ``kind`` and ``name``) into
    the category and language names the counters are labelled by; term rules are not counted here."""
    categories: list[str] = []
    languages: list[str] = []
    for rule in triggered:
        kind = rule.get("kind")
        if kind == "category":
            categories.append(str(rule.get("name")))
        elif kind == "language":
            languages.append(str(rule.get("name")))
    return CountedRules(categories=tuple(categories), languages=tuple(languages))
