"""Compare two evaluation reports: ``python -m models.compare_reports BEFORE.json AFTER.json``.

A retrained checkpoint is worth shipping only if it beats the one it replaces on the same
benchmarks. ``models.evaluate`` writes one report per run (models/eval/report.json); this prints
what moved between two of them, for the default variant of each:

- the targets (measured before and after, with the 95 % interval in brackets where the report has
  one, the target, met or missed; "not settled" where the
  report's 95 % interval holds the target, so another draw of test posts could flip the verdict),
- the headline metrics of every test set, and how one real misspelling per test text moves the
  harmful caught and the benign flagged (``models/typo_robustness.py``),
- accuracy per functionality of the functional suite, text posts and image posts.

Where both reports have their per-post outcomes beside them (``X.outcomes.npz``, written by
``models.evaluate``) and scored the very same posts, each target's change gets a paired 95 %
interval: the same resampled posts for both checkpoints, so the noise the two share cancels. A
change whose interval excludes 0 is marked "beyond noise"; otherwise the output says why no
paired interval could be given. The misspelling rows get the same: the interval of the difference
between the two checkpoints' changes, over the same resampled texts.

``--markdown`` prints the same as Markdown tables (the model card's format). The reports must
come from the same evaluation (same seed, both full or both ``--quick``): otherwise the test sets
differ and the comparison is refused.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .report_outcomes import OutcomesError, load_outcomes, outcomes_path
from .target_intervals import paired_difference_intervals
from .typo_robustness import CAUGHT_CHANGE, FLAGGED_CHANGE, paired_change_differences

Interval = tuple[float, float]

Report = dict[str, Any]
Row = dict[str, Any]


class ReportError(ValueError):
    """A report cannot be read or the two reports do not measure the same thing."""


@dataclass(frozen=True)
class Metric:
    title: str
    get: Callable[[Row], float]
    higher_is_better: bool


def _field(dataset: str, key: str) -> Callable[[Row], float]:
    return lambda row: float(row[dataset][key])


def _read_error(dataset: str) -> Callable[[Row], float]:
    return lambda row: float(row["image_text_reads"][dataset]["word_error_rate"])


#: Headline metrics of the default variant, in the order ``models.evaluate`` prints them.
METRICS: tuple[Metric, ...] = (
    Metric("HateXplain toxic AUROC", lambda r: r["hatexplain"]["toxic"]["auroc"], True),
    Metric("HateXplain 3-class macro-F1", lambda r: r["hatexplain"]["three_class_macro_f1"], True),
    Metric("HateXplain hate AUROC", lambda r: r["hatexplain"]["hate"]["auroc"], True),
    Metric("image-only memes: toxic recall", lambda r: r["memes_image_only"]["toxic"]["recall"], True),
    Metric("same texts as captions: toxic recall", lambda r: r["memes_as_captions"]["toxic"]["recall"], True),
    Metric("held-out layouts: image recall", lambda r: r["memes_held_out"]["toxic"]["recall"], True),
    Metric(
        "held-out layouts: caption recall",
        lambda r: r["memes_held_out_as_captions"]["toxic"]["recall"],
        True,
    ),
    Metric("mixed posts: toxic AUROC", lambda r: r["mixed"]["toxic"]["auroc"], True),
    Metric("HarMeme toxic AUROC", lambda r: r["harmeme"]["toxic"]["auroc"], True),
    Metric("COCO benign FPR", lambda r: r["coco_benign"]["any_category_false_positive_rate"], False),
    Metric("OOD benign + bland caption FPR", lambda r: r["ood_benign"]["bland_caption_flag_rate"], False),
    Metric(
        "supportive statements sent to review",
        lambda r: r["supportive_statements"]["any_flagged_rate"],
        False,
    ),
    Metric(
        "ToxiGen held-out group toxic AUROC", lambda r: r["toxigen_held_out_group"]["toxic"]["auroc"], True
    ),
    Metric("ConvAbuse toxic AUROC", lambda r: r["convabuse"]["toxic"]["auroc"], True),
    # one real misspelling per test text (models/typo_robustness.py): the verdicts should not move
    Metric(CAUGHT_CHANGE, lambda r: r["misspellings"]["all"]["harmful_caught"]["change"], True),
    Metric(FLAGGED_CHANGE, lambda r: r["misspellings"]["all"]["benign_flagged"]["change"], False),
    # how well image text is read (OCR, then the repair) against the text each image shows
    *(
        Metric(f"image text read, {title}: word error rate", _read_error(dataset), False)
        for title, dataset in (
            ("image-only memes", "memes_image_only"),
            ("held-out layouts", "memes_held_out"),
            ("mixed posts", "mixed"),
            ("functional images", "functional_image"),
        )
    ),
    # the functional suite as text posts, as images, as images with the rendered text in place
    # of OCR's read (how much OCR costs), and as text posts with a stray word
    *(
        Metric(f"functional, {posts}: {title}", _field(dataset, key), True)
        for posts, dataset in (
            ("text", "functional_text"),
            ("image", "functional_image"),
            ("image as rendered", "functional_image_rendered_text"),
            ("text with a stray word", "functional_text_with_stray"),
        )
        for title, key in (
            ("accuracy", "accuracy"),
            ("hateful caught", "hateful_caught"),
            ("non-hateful left alone", "non_hateful_left_alone"),
        )
    ),
)


def load_report(path: Path) -> Report:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{path}: no such report (write one with python -m models.evaluate)") from None
    except json.JSONDecodeError as error:
        raise ReportError(f"{path}: not JSON ({error})") from None
    if not isinstance(report, dict) or not {"checkpoint", "rows", "targets"} <= report.keys():
        raise ReportError(f"{path}: not a models.evaluate report (needs checkpoint, rows and targets)")
    if report["checkpoint"].get("variant") not in report["rows"]:
        raise ReportError(f"{path}: the default variant's row is missing")
    return report


def check_comparable(before: Report, after: Report) -> None:
    """Refuse reports whose test sets differ: their numbers would not measure the same posts."""
    for key in ("seed", "quick"):
        if before.get(key) != after.get(key):
            raise ReportError(
                f"the reports differ in {key!r} ({before.get(key)!r} vs {after.get(key)!r}): "
                "evaluate both checkpoints with the same options"
            )
    # A set only one report has (added to the evaluation later) shows as "-"; the shared sets must match.
    sizes_before, sizes_after = before.get("datasets") or {}, after.get("datasets") or {}
    shared = set(sizes_before) & set(sizes_after)
    differing = sorted(k for k in shared if sizes_before[k] != sizes_after[k])
    if differing or not shared:
        raise ReportError(
            f"the reports' test sets differ in size ({', '.join(differing) or 'no set in common'}): "
            "evaluate both checkpoints with the same data directory and options"
        )


def default_row(report: Report) -> Row:
    row: Row = report["rows"][report["checkpoint"]["variant"]]
    return row


def _value(get: Callable[[Row], float], row: Row) -> float:
    try:
        return float(get(row))
    except (KeyError, TypeError):
        return math.nan


def _cell(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"


def _change(before: float, after: float, higher_is_better: bool | None) -> str:
    if math.isnan(before) or math.isnan(after):
        return ""
    delta = after - before
    if abs(delta) < 5e-4:
        return "="
    if higher_is_better is None:
        return f"{delta:+.3f}"
    return f"{delta:+.3f} {'better' if (delta > 0) == higher_is_better else 'worse'}"


def _met(verdict: dict[str, Any] | None) -> str:
    if verdict is None:
        return "-"
    text = {True: "met", False: "missed", None: "n/a"}[verdict.get("met")]
    # a report with intervals says when its own sampling noise could flip the verdict
    return f"{text} (not settled)" if verdict.get("settled") is False else text


def _measured(verdict: dict[str, Any]) -> str:
    """The measured value, with its 95 % interval where the report has one."""
    interval = verdict.get("interval_95")
    value = _cell(verdict["measured"])
    return f"{value} [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else value


def _paired(interval: Interval | None) -> str:
    """A change's paired interval, and whether it is beyond the test sets' noise (excludes 0)."""
    if interval is None or math.isnan(interval[0]):
        return ""
    low, high = interval
    return f" [{low:+.3f}, {high:+.3f}]" + (" beyond noise" if low > 0 or high < 0 else "")


def paired_changes(
    before_path: Path, before: Report, after_path: Path, after: Report
) -> tuple[dict[str, Interval], str]:
    """Each target's paired 95 % change interval, and a line saying what they are, or why there
    are none (no outcomes beside a report, or reports that scored different posts)."""
    loaded = []
    for path, report in ((before_path, before), (after_path, after)):
        try:
            outcomes, fingerprint = load_outcomes(outcomes_path(path))
        except OutcomesError as error:
            return {}, f"changes without paired intervals: {error}"
        if fingerprint != report.get("posts_fingerprint"):
            return (
                {},
                f"changes without paired intervals: {outcomes_path(path)} is not the outcomes of {path}",
            )
        loaded.append(outcomes)
    if before.get("posts_fingerprint") != after.get("posts_fingerprint"):
        return {}, "changes without paired intervals: the two reports scored different posts"
    old, new = loaded[0][before["checkpoint"]["variant"]], loaded[1][after["checkpoint"]["variant"]]
    intervals = paired_difference_intervals(
        loaded[0],
        before["checkpoint"]["variant"],
        loaded[1],
        after["checkpoint"]["variant"],
        seed=int(after["seed"]),
    )
    if old.misspelt is not None and new.misspelt is not None:
        intervals.update(paired_change_differences(old.misspelt, new.misspelt, seed=int(after["seed"])))
    return intervals, (
        "changes with paired 95 % intervals (the same resampled posts for both checkpoints); "
        '"beyond noise": the interval excludes 0'
    )


def target_rows(before: Report, after: Report, paired: dict[str, Interval] | None = None) -> list[list[str]]:
    rows = []
    for name, new in after["targets"].items():
        old = before["targets"].get(name)
        # Reports written before the direction was recorded get no better/worse marker.
        higher = new.get("higher_is_better")
        change = (
            _change(old["measured"], new["measured"], higher) + _paired((paired or {}).get(name))
            if old
            else ""
        )
        rows.append(
            [
                name,
                _measured(old) if old else "-",
                _measured(new),
                change,
                str(new["target"]),
                _met(old),
                _met(new),
            ]
        )
    return rows


def metric_rows(before: Report, after: Report, paired: dict[str, Interval] | None = None) -> list[list[str]]:
    old, new = default_row(before), default_row(after)
    rows = []
    for metric in METRICS:
        b, a = _value(metric.get, old), _value(metric.get, new)
        change = _change(b, a, metric.higher_is_better)
        rows.append(
            [
                metric.title,
                _cell(b),
                _cell(a),
                change + (_paired((paired or {}).get(metric.title)) if change else ""),
            ]
        )
    return rows


def functionality_rows(before: Report, after: Report) -> list[list[str]]:
    old, new = default_row(before), default_row(after)
    rows = []
    for name, case in new["functional_text"]["by_functionality"].items():
        cells = [name, case["label"], str(case["n"])]
        for modality in ("functional_text", "functional_image"):

            def accuracy(row: Row, m: str = modality, f: str = name) -> float:
                return float(row[m]["by_functionality"][f]["accuracy"])

            cells += [_cell(_value(accuracy, old)), _cell(_value(accuracy, new))]
        rows.append(cells)
    return rows


def _plain(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def _markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render(
    before: Report,
    after: Report,
    markdown: bool = False,
    paired: dict[str, Interval] | None = None,
    paired_note: str = "",
) -> str:
    table = _markdown if markdown else _plain
    b, a = before["checkpoint"]["version"], after["checkpoint"]["version"]
    sections = [
        f"before: {b} ({before['checkpoint']['variant']})   after: {a} ({after['checkpoint']['variant']})",
        "Targets" + (f" — {paired_note}" if paired_note else ""),
        table(
            ["target", "before", "after", "change", "target value", "before", "after"],
            target_rows(before, after, paired),
        ),
        "Test sets (default variant; recall and FPR at each checkpoint's review thresholds)",
        table(["metric", "before", "after", "change"], metric_rows(before, after, paired)),
        "Functional suite: accuracy per functionality",
        table(
            ["functionality", "label", "n", "text before", "text after", "image before", "image after"],
            functionality_rows(before, after),
        ),
    ]
    return "\n\n".join(sections)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.compare_reports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("before", type=Path, help="the earlier report (e.g. the bundled checkpoint's)")
    parser.add_argument("after", type=Path, help="the later report (e.g. your retrained checkpoint's)")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    ns = parser.parse_args(argv)
    try:
        before, after = load_report(ns.before), load_report(ns.after)
        check_comparable(before, after)
    except ReportError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    paired, note = paired_changes(ns.before, before, ns.after, after)
    print(render(before, after, markdown=ns.markdown, paired=paired, paired_note=note))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
