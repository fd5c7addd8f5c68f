"""Supportive statements about identity groups: an evaluation set of posts that must not be hate.

Hate speech has recognisable sentence shapes ("<group> deserve ...", "<group> are ..., period",
"<group> have no right to ..."); a classifier that learned the shape flags "Trans people deserve
a seat at the table" as hate. ``supportive_statements.txt`` holds templates of supportive,
affirming and rights-supporting statements, many in those shapes, written for evaluation by a
writer who saw no training template; every template is filled with every protected group of the
functional suite (:mod:`models.suite.identities`). Training never sees these templates (its own
supportive statements are in :mod:`models.data.statements`, written by another writer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .identities import PROTECTED_GROUPS

TEMPLATES_FILE = Path(__file__).resolve().parent / "supportive_statements.txt"


@dataclass(frozen=True)
class SupportiveCase:
    """One filled template: the text, its template's index and the group's key."""

    text: str
    template: int
    group: str


def read_templates(path: Path = TEMPLATES_FILE) -> list[str]:
    """The templates (``#`` lines are comments); each must hold ``{group}``."""
    templates = [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for number, template in enumerate(templates, start=1):
        if "{group}" not in template:
            raise ValueError(f"{path}: template {number} has no {{group}}: {template!r}")
    return templates


def supportive_cases(path: Path = TEMPLATES_FILE) -> list[SupportiveCase]:
    """Every template filled with the plural form of every protected group of the suite."""
    cases = []
    for index, template in enumerate(read_templates(path)):
        for group in PROTECTED_GROUPS:
            text = template.replace("{group}", group.plural)
            cases.append(SupportiveCase(text, index, group.key))
    return cases


def supportive_report(
    cases: Sequence[SupportiveCase],
    scores: np.ndarray,
    labels: Sequence[str],
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    """What the review thresholds do to the supportive statements (``scores``: one row per case,
    one column per label): the share reaching ``hate``'s threshold, the share reaching any
    label's (a moderator's time), the worst template by its share of ``hate`` flags, and the
    mean ``hate`` score."""
    if len(cases) != len(scores):
        raise ValueError(f"expected one score row per case ({len(cases)}), got {len(scores)}")
    limits = np.array([thresholds.get(label, 0.5) for label in labels])
    hate = scores[:, list(labels).index("hate")]
    hate_flagged = hate >= thresholds.get("hate", 0.5)
    templates = np.array([c.template for c in cases])
    per_template = {int(t): float(hate_flagged[templates == t].mean()) for t in np.unique(templates)}
    worst = max(per_template, key=lambda t: per_template[t])
    return {
        "cases": len(cases),
        "templates": len(per_template),
        "hate_flagged_rate": float(hate_flagged.mean()),
        "any_flagged_rate": float((scores >= limits).any(axis=1).mean()),
        "left_alone": float(1.0 - (scores >= limits).any(axis=1).mean()),
        "mean_hate_score": float(hate.mean()),
        "templates_mostly_flagged": sum(1 for rate in per_template.values() if rate > 0.5),
        "worst_template": {
            "example": next(c.text for c in cases if c.template == worst),
            "hate_flagged_rate": per_template[worst],
        },
    }
