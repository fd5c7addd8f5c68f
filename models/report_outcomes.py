"""Per-post outcomes saved beside an evaluation report, for paired comparisons between reports.

``python -m models.evaluate --output X.json`` also writes ``X.outcomes.npz``: every variant's
:class:`~models.target_intervals.VariantOutcomes` (the per-post scores, flags and passes behind
the targets) and the fingerprint of the posts evaluated. Two reports whose fingerprints match
scored the very same posts, so ``python -m models.compare_reports`` can resample the posts once
for both and give each target's change a paired 95 % interval — far narrower than two reports'
own intervals side by side, because most of each set's sampling noise is shared.

The file holds plain arrays only (numbers, booleans, short strings; no pickles), so loading one
runs no code.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .target_intervals import VariantOutcomes

FORMAT = 1
_PAIRS = ("hatexplain_toxic", "hatexplain_classes", "mixed_toxic")
_ARRAYS = ("coco_flagged", "ood_bland_caption_flagged", "functional_labels", "functionalities")
_SEP = "|"


class OutcomesError(ValueError):
    """An outcomes file that is missing, unreadable or of another format."""


def outcomes_path(report: Path) -> Path:
    """``report.json`` -> ``report.outcomes.npz`` (the file beside it)."""
    return report.with_name(f"{report.stem}.outcomes.npz")


def posts_fingerprint(sets: Mapping[str, Iterable[str]]) -> str:
    """A digest of every evaluated post's identity, set by set (what two reports must share before
    their per-post outcomes can be paired)."""
    digest = hashlib.sha256()
    for name in sorted(sets):
        digest.update(f"\0set:{name}".encode())
        for identity in sets[name]:
            digest.update(b"\0" + identity.encode())
    return digest.hexdigest()[:32]


def save_outcomes(path: Path, outcomes: Mapping[str, VariantOutcomes], fingerprint: str) -> None:
    # Any, not ndarray: numpy's stub types savez's keyword arguments as its own flags
    arrays: dict[str, Any] = {"format": np.array(FORMAT), "fingerprint": np.array(fingerprint)}
    for variant, item in outcomes.items():
        if _SEP in variant:
            raise ValueError(f"variant name {variant!r} contains {_SEP!r}")
        for field in _PAIRS:
            first, second = getattr(item, field)
            arrays[_SEP.join((variant, field, "0"))] = np.asarray(first)
            arrays[_SEP.join((variant, field, "1"))] = np.asarray(second)
        for name, (labels, flagged) in item.toxic_flagged.items():
            arrays[_SEP.join((variant, "toxic_flagged", name, "0"))] = np.asarray(labels)
            arrays[_SEP.join((variant, "toxic_flagged", name, "1"))] = np.asarray(flagged)
        for name, passed in item.functional_passed.items():
            arrays[_SEP.join((variant, "functional_passed", name))] = np.asarray(passed)
        for field in _ARRAYS:
            arrays[_SEP.join((variant, field))] = np.asarray(getattr(item, field))
        if item.misspelt is not None:
            for index, values in enumerate(item.misspelt):
                arrays[_SEP.join((variant, "misspelt", str(index)))] = np.asarray(values)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        np.savez_compressed(handle, **arrays)


def _variant(arrays: Mapping[str, np.ndarray], variant: str) -> VariantOutcomes:
    def get(*parts: str) -> np.ndarray:
        return arrays[_SEP.join((variant, *parts))]

    def pair(*parts: str) -> tuple[np.ndarray, np.ndarray]:
        return get(*parts, "0"), get(*parts, "1")

    def names(field: str) -> list[str]:
        prefix = _SEP.join((variant, field, ""))
        return sorted({key[len(prefix) :].split(_SEP)[0] for key in arrays if key.startswith(prefix)})

    return VariantOutcomes(
        hatexplain_toxic=pair("hatexplain_toxic"),
        hatexplain_classes=pair("hatexplain_classes"),
        mixed_toxic=pair("mixed_toxic"),
        toxic_flagged={name: pair("toxic_flagged", name) for name in names("toxic_flagged")},
        coco_flagged=get("coco_flagged"),
        ood_bland_caption_flagged=get("ood_bland_caption_flagged"),
        functional_passed={name: get("functional_passed", name) for name in names("functional_passed")},
        functional_labels=get("functional_labels"),
        functionalities=get("functionalities"),
        # optional: outcomes written before the misspelling check have none
        misspelt=(
            (get("misspelt", "0"), get("misspelt", "1"), get("misspelt", "2"))
            if _SEP.join((variant, "misspelt", "0")) in arrays
            else None
        ),
    )


def load_outcomes(path: Path) -> tuple[dict[str, VariantOutcomes], str]:
    """The variants' outcomes and the posts' fingerprint."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise OutcomesError(f"{path}: no per-post outcomes (python -m models.evaluate writes them)") from None
    except (OSError, ValueError) as error:
        raise OutcomesError(f"{path}: not an outcomes file ({error})") from None
    if "format" not in arrays or int(arrays.pop("format")) != FORMAT or "fingerprint" not in arrays:
        raise OutcomesError(f"{path}: not an outcomes file of format {FORMAT}")
    fingerprint = str(arrays.pop("fingerprint"))
    try:
        outcomes = {
            variant: _variant(arrays, variant) for variant in sorted({k.split(_SEP)[0] for k in arrays})
        }
    except KeyError as error:
        raise OutcomesError(f"{path}: incomplete outcomes (no {error})") from None
    return outcomes, fingerprint
