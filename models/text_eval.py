"""``python -m models.text_eval --checkpoint A [--checkpoint B ...]``: the text rows of
``models.evaluate`` in minutes, to compare checkpoints while iterating on the text tower.

Same test sets, seed and metrics as the full report (HateXplain test with the 3-class macro-F1,
the functional suite as texts and with a stray word beside each text, ToxiGen's held-out group,
ConvAbuse test, supportive statements about groups, the texts with one real misspelling), none
of the image sets (they need OCR: an hour cold). A recipe is adopted on the full
``python -m models.evaluate`` only; this prints one table and writes JSON.

Every text is read as the checkpoint reads a caption (:meth:`ModerationProcessor.read_caption`:
with a typed-text spelling in the checkpoint, the words whose correction is sure are corrected,
models/typed_spelling.py), as the service and the full report read it. Other readings, to measure
what a reading changes: ``--as-typed`` scores every text exactly as typed; ``--correct-typed-text``
applies the sure corrections even to a checkpoint without them (with the words of its own OCR
vocabulary); ``--repair-typed-text`` reads every text with the OCR repair (the one-edit spelling
correction, leetspeak read back, glued words apart: models/ocr_spelling.py), as the service reads
text in images, an experiment the service does not do. With any reading that changes text, the
misspelling row also gives the paired interval of its change against reading as typed.

Each retrain tunes its own review thresholds, so a text tower that ranks better can still catch
less at its thresholds. ``hate_ranking`` separates the two: the hate AUROC of the suite's hateful
cases against its non-hateful cases and the supportive statements (together and each), and the
hateful cases caught at the threshold that 5 % and 10 % of those non-hateful texts reach.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from .checkpoint import load_checkpoint
from .data.sources import BENIGN, FULL_MASK, TextExample, default_data_dir, load_coco, load_text_corpus
from .evaluate import (
    _case_targets,
    _category_metrics,
    _flagged,
    functional_report,
    supportive_texts,
)
from .features import encode_texts, predict, text_only_features
from .metrics import auroc, recall_at_negative_rate, three_class_cut, three_class_report
from .suite import build_suite
from .suite.strays import with_stray
from .suite.supportive import supportive_cases, supportive_report
from .typed_spelling import SureSpelling
from .typo_robustness import build_check, format_typo_report, paired_change_differences, typo_report

#: How text_eval can read typed text before scoring it: as the checkpoint reads captions (the
#: default, what the service does), ``--as-typed``, ``--repair-typed-text``, ``--correct-typed-text``.
CHECKPOINT, AS_TYPED, REPAIRED, CORRECTED = "checkpoint", "as typed", "repaired", "corrected"
TYPED_TEXT_READINGS = (CHECKPOINT, AS_TYPED, REPAIRED, CORRECTED)

#: The full report's seed (models/evaluate.py), so the stray words are the same ones.
SEED = 2026

#: Shares of the non-hateful texts at which ``hate_ranking`` compares hateful cases caught.
NON_HATEFUL_FLAG_RATES = (0.05, 0.10)


def hate_ranking(hateful: np.ndarray, non_hateful: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Threshold-free comparison of hate scores: AUROC against all the non-hateful sets together
    and against each, and hateful caught at equal rates of all the non-hateful texts flagged."""
    pooled = np.concatenate(list(non_hateful.values()))

    def auroc_against(negatives: np.ndarray) -> float:
        labels = np.r_[np.ones(len(hateful)), np.zeros(len(negatives))]
        return auroc(labels, np.r_[hateful, negatives])

    return {
        "hateful": len(hateful),
        "non_hateful": len(pooled),
        "auroc": auroc_against(pooled),
        "auroc_by_non_hateful_set": {name: auroc_against(scores) for name, scores in non_hateful.items()},
        "hateful_caught_at_non_hateful_flagged": {
            f"{rate:.2f}": recall_at_negative_rate(hateful, pooled, rate) for rate in NON_HATEFUL_FLAG_RATES
        },
    }


def evaluate_text_paths(checkpoint: Path, data_dir: Path, *, typed_text: str = CHECKPOINT) -> dict[str, Any]:
    """The text rows for one checkpoint; ``typed_text`` says how every text is read first
    (:data:`TYPED_TEXT_READINGS`)."""
    model, processor, _ = load_checkpoint(checkpoint)
    read = _reader(typed_text, processor, checkpoint)
    labels = model.config.labels
    thresholds = model.config.review_thresholds or {label: 0.5 for label in labels}
    test = [e for e in load_text_corpus(data_dir) if e.split == "test"]
    suite = build_suite()
    supportive = supportive_cases()
    stray_rng = np.random.default_rng(SEED + 4)
    suite_texts = [
        TextExample(c.text, _case_targets(c), (1.0, 1.0, 1.0), "functional", "test", c.functionality)
        for c in suite
    ]
    sets = {
        "hatexplain": [e for e in test if e.source == "hatexplain"],
        "toxigen_held_out_group": [e for e in test if e.source == "toxigen"],
        "convabuse": [e for e in test if e.source == "convabuse"],
        "functional_text": suite_texts,
        "functional_text_with_stray": [
            replace(e, text=with_stray(c.text, stray_rng)) for e, c in zip(suite_texts, suite, strict=True)
        ],
        "supportive_statements": supportive_texts(supportive),
    }
    row: dict[str, Any] = {
        "version": model.config.version,
        "typed_text": typed_text if typed_text != CHECKPOINT else processor.caption_reading,
    }
    hate_scores: dict[str, np.ndarray] = {}
    for name, examples in sets.items():
        embeddings = encode_texts(
            model, processor, [read(" ".join(e.text.split())) for e in examples], desc=name
        )
        features = text_only_features(embeddings, examples, model.image_dim)
        scores = predict(model, features)
        hate_scores[name] = scores[:, labels.index("hate")]
        if name == "supportive_statements":
            row[name] = supportive_report(supportive, scores, labels, thresholds)
            continue
        if name.startswith("functional_"):
            row[name] = functional_report(suite, scores, labels, thresholds)
            continue
        row[name] = _category_metrics(scores, features, labels, thresholds)
        if name == "hatexplain":
            _, _, report = three_class_report(
                [e.source_label for e in examples],
                scores,
                labels,
                three_class_cut(model.config.training, thresholds),
            )
            row[name].update(report)
    hateful = np.array([c.label == "hateful" for c in suite])
    suite_hate = hate_scores["functional_text"]
    row["misspellings"] = misspellings_row(model, processor, test, data_dir, thresholds, read=read)
    row["hate_ranking"] = hate_ranking(
        suite_hate[hateful],
        {
            "functional_non_hateful": suite_hate[~hateful],
            "supportive_statements": hate_scores["supportive_statements"],
        },
    )
    return row


def _as_typed(text: str) -> str:
    return text


def _reader(typed_text: str, processor: Any, checkpoint: Path) -> Callable[[str], str]:
    if typed_text not in TYPED_TEXT_READINGS:
        raise ValueError(f"typed_text must be one of {TYPED_TEXT_READINGS}, got {typed_text!r}")
    if typed_text == CHECKPOINT and processor.typed_spelling is not None:
        return cast(Callable[[str], str], processor.read_caption)
    if typed_text in (CHECKPOINT, AS_TYPED):
        return _as_typed
    if processor.spelling is None:
        raise ValueError(f"{checkpoint} has no OCR vocabulary to read typed text with")
    if typed_text == REPAIRED:
        return cast(Callable[[str], str], processor.spelling.repair)
    return SureSpelling.with_english_words(processor.spelling.segmenter.words).read


def misspellings_row(
    model: Any,
    processor: Any,
    test: list[TextExample],
    data_dir: Path,
    thresholds: dict[str, float],
    *,
    read: Callable[[str], str] = _as_typed,
) -> dict[str, Any]:
    """The full report's ``misspellings`` row: the same texts, seed and misspellings. With a
    reading other than as typed, also ``paired_change_vs_as_typed``: the 95 % interval of (this
    reading's change under a misspelling − the change as typed), over the same resampled texts."""
    captions = [cap for c in load_coco(data_dir) if c.coco_split == "val2017" for cap in c.captions]
    check = build_check(test, captions, seed=SEED)
    harmful = np.array([p.harmful for p in check.pairs], dtype=bool)

    def verdicts(reader: Callable[[str], str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        flagged = []
        for desc, texts in (
            ("texts as written", [p.text for p in check.pairs]),
            ("texts misspelt", [p.misspelt for p in check.pairs]),
        ):
            examples = [TextExample(t, BENIGN, FULL_MASK, "misspelt", "test", "") for t in texts]
            embeddings = encode_texts(
                model, processor, [reader(" ".join(t.split())) for t in texts], desc=desc
            )
            scores = predict(model, text_only_features(embeddings, examples, model.image_dim))
            flagged.append(_flagged(scores, model.config.labels, thresholds))
        return harmful, flagged[0], flagged[1]

    own = verdicts(read)
    row = typo_report(check.pairs, own[1], own[2], left_out=check.left_out, source=check.source, seed=SEED)
    if read is not _as_typed:
        row["paired_change_vs_as_typed"] = {
            name: list(interval)
            for name, interval in paired_change_differences(verdicts(_as_typed), own, seed=SEED).items()
        }
    return row


def _line(row: dict[str, Any]) -> list[str]:
    hx, ft, fs = row["hatexplain"], row["functional_text"], row["functional_text_with_stray"]
    return [
        row["version"] + (f" ({row['typed_text']})" if row.get("typed_text", AS_TYPED) != AS_TYPED else ""),
        f"{hx['toxic']['auroc']:.3f}",
        f"{hx['three_class_macro_f1']:.3f}",
        f"{hx['three_class_f1_by_class']['offensive']:.3f}",
        f"{ft['accuracy']:.3f}",
        f"{ft['hateful_caught']:.3f}",
        f"{fs['accuracy']:.3f}",
        f"{fs['hateful_caught']:.3f}",
        f"{row['toxigen_held_out_group']['hate']['auroc']:.3f}",
        f"{row['convabuse']['offensive']['auroc']:.3f}",
        f"{row['supportive_statements']['hate_flagged_rate']:.3f}",
        f"{row['misspellings']['all']['harmful_caught']['change'] * 100:+.1f}",
        f"{row['misspellings']['all']['benign_flagged']['change'] * 100:+.1f}",
        f"{row['hate_ranking']['auroc']:.3f}",
        f"{row['hate_ranking']['hateful_caught_at_non_hateful_flagged']['0.05']:.3f}",
    ]


HEADER = [
    "checkpoint",
    "HX toxic AUROC",
    "HX 3-class F1",
    "HX offensive F1",
    "suite acc",
    "suite hate caught",
    "stray acc",
    "stray hate caught",
    "ToxiGen hate AUROC",
    "ConvAbuse off. AUROC",
    "supportive: hate flagged",
    "misspelt: caught pts",
    "misspelt: benign flagged pts",
    "hate ranking AUROC",
    "hate caught @5% non-hateful",
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.text_eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", type=Path, action="append", required=True, help="repeat to compare")
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--output", type=Path, default=Path("artifacts/eval/text_eval.json"))
    reading = parser.add_mutually_exclusive_group()
    reading.add_argument(
        "--as-typed",
        dest="typed_text",
        action="store_const",
        const=AS_TYPED,
        default=CHECKPOINT,
        help="score every text exactly as typed, even with a checkpoint that corrects typed words",
    )
    reading.add_argument(
        "--repair-typed-text",
        dest="typed_text",
        action="store_const",
        const=REPAIRED,
        help="read every text with the checkpoint's OCR repair first (an experiment; the service scores "
        "typed text as typed)",
    )
    reading.add_argument(
        "--correct-typed-text",
        dest="typed_text",
        action="store_const",
        const=CORRECTED,
        help="correct the words of every text whose correction is sure first (models/typed_spelling.py), "
        "even with a checkpoint that does not",
    )
    args = parser.parse_args(argv)
    missing = [str(c) for c in args.checkpoint if not (c / "config.json").is_file()]
    if missing:
        parser.error(f"not a checkpoint directory: {', '.join(missing)}")
    rows = [evaluate_text_paths(c, args.data_dir, typed_text=args.typed_text) for c in args.checkpoint]
    table = [HEADER] + [_line(r) for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)))
    for row in rows:
        print(f"\n{row['version']}: " + format_typo_report(row["misspellings"]))
        for name, (low, high) in row["misspellings"].get("paired_change_vs_as_typed", {}).items():
            print(
                f"  {row['typed_text']} against as typed, {name}: [{100 * low:+.1f}, {100 * high:+.1f}] points"
            )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
