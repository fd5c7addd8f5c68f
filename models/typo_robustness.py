"""Does one real misspelling change a verdict? Test texts scored as written and with one word
misspelt the way people misspell it (``models/suite/misspellings.py``).

A typo changes nothing a post means, so the verdict at the review thresholds should not move:
a benign text must not reach review because of a slip (a slip one letter from a slur reads as a
disguised slur to a model trained on obfuscated hate), and harmful text must not escape review
because of one. The report gives, per set and pooled, the harmful texts caught and the benign
texts flagged (any category at its review threshold) as written and misspelt, the paired change
with its 95 % interval over resampled texts, and the share of verdicts that flipped.

Sets: HateXplain test, ConvAbuse test, ToxiGen's held-out group and COCO's val2017 captions, all
as text posts. A text none of whose words the misspellings list knows is left out (counted).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data.sources import TextExample
from .sampling_intervals import bootstrap_interval
from .suite.misspellings import Misspellings

#: Offset from the evaluation seed, so the misspellings drawn differ from the strays' draw.
SEED_OFFSET = 5


@dataclass(frozen=True)
class MisspeltText:
    """A test text and the same text with one word misspelt."""

    set_name: str
    text: str
    misspelt: str
    harmful: bool


@dataclass(frozen=True)
class MisspellingCheck:
    """The check's texts, how many of each set it left out, and where its misspellings come from."""

    pairs: list[MisspeltText]
    left_out: dict[str, int]
    source: str


def build_check(test: Sequence[TextExample], coco_captions: Sequence[str], *, seed: int) -> MisspellingCheck:
    """The check on the test split's texts and COCO's captions, with the installed misspellings list
    (``models.evaluate`` and ``models.text_eval`` both build it here, so both score the same texts)."""
    misspellings = Misspellings.load()
    pairs, left_out = misspelt_texts(check_sets(test, coco_captions), misspellings, seed=seed)
    return MisspellingCheck(pairs, left_out, misspellings.source)


def check_sets(
    test: Sequence[TextExample], coco_captions: Sequence[str]
) -> dict[str, list[tuple[str, bool]]]:
    """The check's sets from the test split's texts: ``(text, harmful)`` for every text whose toxic
    label is known, and COCO's captions (all benign)."""

    def labelled(source: str) -> list[tuple[str, bool]]:
        return [(e.text, e.targets[-1] == 1.0) for e in test if e.source == source and e.mask[-1]]

    return {
        "hatexplain": labelled("hatexplain"),
        "convabuse": labelled("convabuse"),
        "toxigen_held_out_group": labelled("toxigen"),
        "coco_captions": [(caption, False) for caption in coco_captions],
    }


def misspelt_texts(
    sets: Mapping[str, Sequence[tuple[str, bool]]], misspellings: Misspellings, *, seed: int
) -> tuple[list[MisspeltText], dict[str, int]]:
    """Every ``(text, harmful)`` of each set with one word misspelt, and per set how many texts
    were left out because the list knows none of their words."""
    rng = random.Random(seed + SEED_OFFSET)
    pairs: list[MisspeltText] = []
    left_out: dict[str, int] = {}
    for name, texts in sets.items():
        left_out[name] = 0
        for text, harmful in texts:
            misspelt = misspellings.misspell(text, rng)
            if misspelt is None:
                left_out[name] += 1
            else:
                pairs.append(MisspeltText(name, text, misspelt, harmful))
    return pairs, left_out


def _summary(harmful: np.ndarray, clean: np.ndarray, misspelt: np.ndarray, *, seed: int) -> dict[str, Any]:
    """Caught / flagged rates as written and misspelt, and the paired change with its interval."""
    out: dict[str, Any] = {"texts": int(len(harmful)), "harmful": int(harmful.sum())}
    for name, rows in (("harmful_caught", harmful), ("benign_flagged", ~harmful)):
        index = np.flatnonzero(rows)
        if not len(index):
            out[name] = None
            continue
        before, after = clean[index], misspelt[index]

        def change(idx: np.ndarray, before: np.ndarray = before, after: np.ndarray = after) -> float:
            return float(after[idx].mean() - before[idx].mean())

        out[name] = {
            "as_written": float(before.mean()),
            "misspelt": float(after.mean()),
            "change": float(after.mean() - before.mean()),
            "change_interval_95": list(bootstrap_interval(change, len(index), seed=seed)),
        }
    out["verdicts_flipped"] = float((clean != misspelt).mean()) if len(harmful) else None
    return out


def typo_report(
    pairs: Sequence[MisspeltText],
    clean_flagged: np.ndarray,
    misspelt_flagged: np.ndarray,
    *,
    left_out: Mapping[str, int],
    source: str,
    seed: int,
    examples: int = 5,
) -> dict[str, Any]:
    """The report row from each pair's verdicts (flagged at the review thresholds) as written and
    misspelt; ``examples`` flipped verdicts of each direction are listed."""
    if not len(pairs) == len(clean_flagged) == len(misspelt_flagged):
        raise ValueError(f"{len(pairs)} texts but {len(clean_flagged)} and {len(misspelt_flagged)} verdicts")
    names = np.array([p.set_name for p in pairs])
    harmful = np.array([p.harmful for p in pairs], dtype=bool)
    clean, misspelt = np.asarray(clean_flagged, dtype=bool), np.asarray(misspelt_flagged, dtype=bool)
    by_set = {}
    for name in dict.fromkeys(p.set_name for p in pairs):
        rows = names == name
        by_set[name] = {
            **_summary(harmful[rows], clean[rows], misspelt[rows], seed=seed),
            "left_out": left_out[name],
        }

    def flips(now_flagged: bool) -> list[dict[str, str]]:
        hits = np.flatnonzero((clean != misspelt) & (misspelt == now_flagged))
        return [
            {"set": pairs[i].set_name, "as_written": pairs[i].text, "misspelt": pairs[i].misspelt}
            for i in hits[:examples]
        ]

    return {
        "misspellings": source,
        "all": _summary(harmful, clean, misspelt, seed=seed),
        "by_set": by_set,
        "newly_flagged_examples": flips(True),
        "newly_missed_examples": flips(False),
    }


#: compare_reports' names for the two changes, as its metric rows title them.
CAUGHT_CHANGE = "misspelt: harmful caught, change"
FLAGGED_CHANGE = "misspelt: benign flagged, change"


def paired_change_differences(
    before: tuple[np.ndarray, np.ndarray, np.ndarray],
    after: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    seed: int,
) -> dict[str, tuple[float, float]]:
    """95 % intervals of (after's change − before's change) under one misspelling, for harmful
    caught and benign flagged, resampling the same texts for both checkpoints. Each is
    ``(harmful, flagged as written, flagged misspelt)`` over the very same texts."""
    harmful = np.asarray(before[0], dtype=bool)
    if len(before[0]) != len(after[0]) or not np.array_equal(harmful, np.asarray(after[0], dtype=bool)):
        raise ValueError("the two checkpoints' misspelling checks did not score the same texts")
    intervals = {}
    for offset, (name, rows) in enumerate(((CAUGHT_CHANGE, harmful), (FLAGGED_CHANGE, ~harmful))):
        index = np.flatnonzero(rows)
        if not len(index):
            continue
        old_written, old_misspelt = before[1][index], before[2][index]
        new_written, new_misspelt = after[1][index], after[2][index]

        def difference(
            idx: np.ndarray,
            ow: np.ndarray = old_written,
            om: np.ndarray = old_misspelt,
            nw: np.ndarray = new_written,
            nm: np.ndarray = new_misspelt,
        ) -> float:
            return float((nm[idx].mean() - nw[idx].mean()) - (om[idx].mean() - ow[idx].mean()))

        intervals[name] = bootstrap_interval(difference, len(index), seed=seed + offset)
    return intervals


def format_typo_report(report: Mapping[str, Any]) -> str:
    """One line per set: caught and flagged as written -> misspelt, with the change's interval."""

    def cell(stat: Mapping[str, Any] | None) -> str:
        if stat is None:
            return "-"
        low, high = stat["change_interval_95"]
        return (
            f"{stat['as_written']:.3f} -> {stat['misspelt']:.3f} "
            f"({100 * stat['change']:+.1f} pts [{100 * low:+.1f}, {100 * high:+.1f}])"
        )

    lines = [f"one real misspelling per text ({report['misspellings']}):"]
    width = max(len(name) for name in [*report["by_set"], "all"])
    lines.append(f"{'set'.ljust(width)}  {'texts':>5}  harmful caught{' ' * 32}benign flagged")
    for name, stat in [*report["by_set"].items(), ("all", report["all"])]:
        lines.append(
            f"{name.ljust(width)}  {stat['texts']:>5}  {cell(stat['harmful_caught']):<46}{cell(stat['benign_flagged'])}"
        )
    return "\n".join(lines)
