"""The policy-coverage targets (example-defined categories and open_nsfw), checked for the report
of ``python -m models.evaluate``.

The numbers come from the two commands that measure them — ``python -m models.categories.build``
(``models/eval/categories.json``) and ``python -m models.nsfw_check`` (``models/eval/nsfw.json``)
— and are checked here against the targets, so that ``models/eval/report.json`` holds every
target of the model in one place. A category report made for another bundle than the one shipped
is stale: its targets are reported as not measured (``met: null``) with the reason, never as met.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .categories.bundle import BundleError, load_bundle

EVAL_DIR = Path(__file__).resolve().parent / "eval"
CATEGORY_REPORT = EVAL_DIR / "categories.json"
NSFW_REPORT = EVAL_DIR / "nsfw.json"

#: Text categories defined by the team's own examples (target: AUROC on their held-out examples).
TEXT_CATEGORIES = ("self_harm", "violence", "sexual")
BENIGN_SOURCES = ("hatexplain", "convabuse", "coco")
TARGETS: dict[str, tuple[float, bool]] = {  # name -> (target, higher is better)
    "spam_held_out_auroc": (0.97, True),
    "spam_in_images_auroc": (0.90, True),
    "text_categories_worst_held_out_auroc": (0.90, True),
    "text_categories_worst_benign_fpr": (0.02, False),
    "nsfw_worst_benign_image_set_flag_rate": (0.005, False),
}


def _verdict(measured: float | None, name: str, source: str, note: str | None = None) -> dict[str, Any]:
    target, higher = TARGETS[name]
    met = None if measured is None else bool(measured >= target if higher else measured <= target)
    verdict: dict[str, Any] = {
        "measured": measured,
        "target": target,
        "higher_is_better": higher,
        "met": met,
        "source": source,
    }
    if note:
        verdict["note"] = note
    return verdict


def category_targets(
    bundle: Path,
    *,
    encoder_fingerprint: str | None = None,
    categories_report: Path = CATEGORY_REPORT,
    nsfw_report: Path = NSFW_REPORT,
) -> dict[str, dict[str, Any]]:
    """Every policy-coverage target with what was measured for ``bundle`` (None where nothing
    was, with a ``note`` saying why); with ``encoder_fingerprint``, the bundle must have been fit
    on that text tower (the checkpoint evaluated)."""
    source = str(categories_report.name)
    stale: str | None = None
    report: dict[str, Any] = {}
    if not categories_report.is_file():
        stale = f"{categories_report} is missing: run python -m models.categories.build"
    else:
        report = json.loads(categories_report.read_text(encoding="utf-8"))
        try:
            version = load_bundle(bundle, encoder_fingerprint=encoder_fingerprint).version
        except BundleError as exc:
            version, stale = None, f"the bundle does not load: {exc}"
        if version is not None and report.get("bundle_version") != version:
            stale = (
                f"{categories_report.name} measured bundle {report.get('bundle_version')}, "
                f"the bundle is {version}: run python -m models.categories.build"
            )
    rows = report.get("categories", {}) if stale is None else {}

    def measured(read: Any) -> float | None:
        try:
            return float(read())
        except (KeyError, TypeError, ValueError):
            return None

    out = {
        "spam_held_out_auroc": _verdict(
            measured(lambda: rows["spam"]["held_out_sets"]["dataset_test"]["auroc"]),
            "spam_held_out_auroc",
            source,
            stale,
        ),
        "spam_in_images_auroc": _verdict(
            measured(lambda: rows["spam"]["in_images"]["auroc_image"]), "spam_in_images_auroc", source, stale
        ),
        "text_categories_worst_held_out_auroc": _verdict(
            measured(
                lambda: min(
                    held["auroc"] for name in TEXT_CATEGORIES for held in rows[name]["held_out_sets"].values()
                )
            ),
            "text_categories_worst_held_out_auroc",
            source,
            stale,
        ),
        "text_categories_worst_benign_fpr": _verdict(
            measured(
                lambda: max(
                    rows[name]["held_out"]["benign_fpr_at_review"][s]
                    for name in TEXT_CATEGORIES
                    for s in BENIGN_SOURCES
                )
            ),
            "text_categories_worst_benign_fpr",
            source,
            stale,
        ),
    }
    nsfw_note = (
        None if nsfw_report.is_file() else f"{nsfw_report} is missing: run python -m models.nsfw_check"
    )
    nsfw = json.loads(nsfw_report.read_text(encoding="utf-8")) if nsfw_report.is_file() else {}
    out["nsfw_worst_benign_image_set_flag_rate"] = _verdict(
        measured(lambda: max(s["flagged_at_review"] for s in nsfw["sets"].values())),
        "nsfw_worst_benign_image_set_flag_rate",
        nsfw_report.name,
        nsfw_note,
    )
    return out
