"""Safe look-alikes: benign posts that share words, phrasing or topic with a harmful category.

A category head that learned a word rather than a meaning flags "what's the quickest way to shoot a
good sunset photo?" as self-harm. These posts measure that over-flagging: every one should be
allowed, so any category that reaches its review threshold on one is a false positive.

One JSON object per line::

    {"text": "my phone blew up with messages all morning", "looks_like": "violence",
     "sense": "blow up", "kind": "homonym"}

``looks_like`` is the category the post resembles (a bundled category, or ``hate`` / ``offensive``
for the checkpoint's own), ``sense`` the trigger word or group, ``kind`` the way it resembles
harm (homonym, figurative, safe_context, safe_target, group_mention, definition, promo_ok).
The evaluation files (``lookalikes/heldout*.jsonl``) were each written by a writer who saw no
other file; ``heldout``'s trigger words were chosen apart from the training look-alikes'
(``examples/*/train_lookalikes.jsonl``; the SOURCE files name the two senses both lists hold),
so a fix that only learned the training words does not show there. ``heldout2`` is the set
nothing was tuned on (``heldout``'s flagged posts were read before the last training file).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .examples import ExamplesError, json_lines

LOOKALIKES_DIR = Path(__file__).resolve().parent / "lookalikes"
HELD_OUT = LOOKALIKES_DIR / "heldout.jsonl"
#: Flagged posts listed in the report, so that a reader sees what fires without rerunning.
LISTED = 25


@dataclass(frozen=True)
class Lookalike:
    """One safe post and what it looks like."""

    text: str
    looks_like: str
    sense: str
    kind: str


def parse_lookalikes(lines: Iterable[str], *, source: str) -> list[Lookalike]:
    """Parse JSONL lines; raises :class:`ExamplesError` naming the file and line of the first problem."""
    posts: list[Lookalike] = []
    for where, row in json_lines(lines, source=source):
        fields = ("text", "looks_like", "sense", "kind")
        if not isinstance(row, dict) or not all(
            isinstance(row.get(f), str) and row[f].strip() for f in fields
        ):
            raise ExamplesError(f"{where}: expected an object with non-empty strings {', '.join(fields)}")
        posts.append(Lookalike(*(" ".join(row[f].split()) for f in fields)))
    if not posts:
        raise ExamplesError(f"{source}: no look-alike posts")
    return posts


def read_lookalikes(path: Path = HELD_OUT) -> list[Lookalike]:
    try:
        with path.open(encoding="utf-8") as handle:
            return parse_lookalikes(handle, source=str(path))
    except FileNotFoundError as exc:
        raise ExamplesError(f"{path}: no such look-alike file") from exc


def held_out_sets(directory: Path = LOOKALIKES_DIR) -> dict[str, list[Lookalike]]:
    """Every evaluation file (``heldout*.jsonl``, each by its own writer), by file stem."""
    sets = {path.stem: read_lookalikes(path) for path in sorted(directory.glob("heldout*.jsonl"))}
    if not sets:
        raise ExamplesError(f"{directory}: no look-alike files (heldout*.jsonl)")
    return sets


def lookalikes_flagged(
    posts: Sequence[Lookalike],
    scores: Sequence[Mapping[str, float]],
    thresholds: Mapping[str, float],
    groups: Mapping[str, Collection[str]] | None = None,
) -> dict[str, Any]:
    """What the review thresholds do to safe look-alikes.

    - ``any_category``: share of posts that reach review in some category (what a platform sees:
      a moderator's time spent on a harmless post);
    - ``own_category``: per looked-like category, the share flagged in that category;
    - ``by_kind``: per kind, the share flagged in any category;
    - ``by_group``: per named group of categories (the checkpoint's own, the example-defined
      ones: they are fixed in different ways), the share flagged by one of them;
    - ``flagged_by_category``: how many posts each category flags;
    - ``flagged``: the first flagged posts with the categories that fired and their scores.
    """
    if len(posts) != len(scores):
        raise ValueError(f"expected one score row per post ({len(posts)}), got {len(scores)}")
    fired = [
        {c: round(float(s), 3) for c, s in row.items() if c in thresholds and s >= thresholds[c]}
        for row in scores
    ]

    def share(rows: list[int], hit: Any) -> dict[str, Any]:
        hits = sum(1 for i in rows if hit(i))
        return {"posts": len(rows), "flagged": hits, "rate": round(hits / len(rows), 4) if rows else None}

    everything = list(range(len(posts)))
    by_category: dict[str, int] = {}
    for categories in fired:
        for category in categories:
            by_category[category] = by_category.get(category, 0) + 1
    return {
        "any_category": share(everything, lambda i: bool(fired[i])),
        "own_category": {
            looked: share(
                [i for i in everything if posts[i].looks_like == looked],
                lambda i, looked=looked: looked in fired[i],
            )
            for looked in sorted({p.looks_like for p in posts})
        },
        "by_kind": {
            kind: share([i for i in everything if posts[i].kind == kind], lambda i: bool(fired[i]))
            for kind in sorted({p.kind for p in posts})
        },
        "by_group": {
            group: share(everything, lambda i, members=members: any(c in members for c in fired[i]))
            for group, members in (groups or {}).items()
        },
        "flagged_by_category": dict(sorted(by_category.items())),
        "flagged": [{"text": posts[i].text, "categories": fired[i]} for i in everything if fired[i]][:LISTED],
    }


def format_lookalikes(report: Mapping[str, Any], name: str = "safe look-alikes") -> str:
    """One line for the whole set, one per looked-like category."""
    overall = report["any_category"]
    lines = [
        f"{name} ({overall['posts']} posts) sent to review in any category: "
        f"{overall['flagged']} ({overall['rate']:.1%})"
    ]
    for group, row in report.get("by_group", {}).items():
        lines.append(f"  by {group} categories: {row['flagged']} ({row['rate']:.1%})")
    for looked, row in report["own_category"].items():
        lines.append(
            f"  looking like {looked:<10} {row['flagged']:>3} of {row['posts']:<3} flagged as {looked} ({row['rate']:.1%})"
        )
    return "\n".join(lines)
