"""``python -m models.language_check``: how well the language check (models/language.py) tells
posts the English-only classifier cannot judge, and what it changes.

Prints one table and writes JSON (default ``models/eval/language.json``):

- **English posts read as another language** (the check's cost: each would go to review for its
  language alone): the test splits of every English text source in the data directory, the
  functional suite, the supportive statements, the bland captions; and English suite texts
  rendered into memes and read back by real OCR (OCR's broken words are the hard case).
- **Other-language posts told** (``models/suite/other_languages.txt``, the project's own posts in
  15 languages), by kind and by language, as captions and rendered into memes through real OCR.
- **What the classifier alone does with them**: the share the bundled checkpoint's review
  thresholds flag (text only), against the share flagged by the thresholds or the language rule.
- The identifier's time per text.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .architecture import ModerationModel
from .checkpoint import load_checkpoint
from .data.memes import random_spec, render_meme
from .data.sources import BENIGN, FULL_MASK, TextExample, default_data_dir, load_coco, load_text_corpus
from .features import encode_texts, predict, text_only_features
from .language import MAX_SUPPORTED_SHARE, MIN_LETTERS, MIN_TOP_CONFIDENCE, language_identifier
from .preprocessing import ModerationProcessor
from .suite import build_suite
from .suite.other_languages import OtherLanguagePost, other_language_posts
from .suite.supportive import supportive_cases
from .suite.templates import BLAND_CAPTIONS

SUPPORTED = ("en",)
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "eval" / "language.json"
ENGLISH_SOURCES = ("hatexplain", "davidson", "convabuse", "toxigen", "harmeme")
SEED = 2026


def english_sets(data_dir: Path) -> dict[str, list[str]]:
    """English texts by set: test splits of the text sources, the suite, supportive, bland."""
    corpus = load_text_corpus(data_dir)
    sets = {
        name: [e.text for e in corpus if e.source == name and e.split == "test"] for name in ENGLISH_SOURCES
    }
    sets["coco_captions"] = [c.captions[0] for c in load_coco(data_dir) if c.captions]
    sets["functional_suite"] = [c.text for c in build_suite()]
    sets["supportive_statements"] = [c.text for c in supportive_cases()]
    sets["bland_captions"] = list(BLAND_CAPTIONS)
    return sets


def read_by_ocr(texts: Sequence[str], photos: list[Path], processor: ModerationProcessor) -> list[str]:
    """Each text rendered into a meme (the evaluation's held-out fonts and layouts), read back by
    the checkpoint's OCR and cleaned as the service cleans image text."""
    if processor.ocr is None:
        raise SystemExit("this checkpoint reads no image text (OCR off): run with --ocr-posts 0")
    rng = np.random.default_rng(SEED)
    read = []
    for index, text in enumerate(texts, start=1):
        image = render_meme(random_spec(text, rng, photos, layouts="held_out"))
        read.append(processor.clean_image_text(processor.ocr.read(image)))
        if index % 50 == 0 or index == len(texts):
            print(f"  OCR {index}/{len(texts)}", file=sys.stderr, flush=True)
    return read


def flagged_by_classifier(
    model: ModerationModel, processor: ModerationProcessor, texts: Sequence[str]
) -> np.ndarray:
    """Whether the checkpoint's review thresholds flag each text posted alone (any category)."""
    examples = [TextExample(t, BENIGN, FULL_MASK, "language_check", "test", "") for t in texts]
    embeddings = encode_texts(model, processor, [processor.read_caption(" ".join(t.split())) for t in texts])
    scores = predict(model, text_only_features(embeddings, examples, model.image_dim))
    labels = model.config.labels
    limits = np.array([model.config.review_thresholds.get(label, 0.5) for label in labels])
    return np.asarray((scores >= limits).any(axis=1), dtype=bool)


def told_shares(
    posts: Sequence[OtherLanguagePost], told: Sequence[bool]
) -> tuple[dict[str, float], dict[str, float]]:
    """The share of ``posts`` told as another language, by kind, and by language (everyday and
    hostile posts only: the kinds every language has)."""
    by_kind: dict[str, list[bool]] = defaultdict(list)
    by_language: dict[str, list[bool]] = defaultdict(list)
    for post, other in zip(posts, told, strict=True):
        by_kind[post.kind].append(other)
        if post.kind in ("everyday", "hostile"):
            by_language[post.language].append(other)
    return (
        {kind: float(np.mean(v)) for kind, v in by_kind.items()},
        {language: float(np.mean(v)) for language, v in sorted(by_language.items())},
    )


def run(data_dir: Path, checkpoint: Path, ocr_posts: int) -> dict[str, Any]:
    identifier = language_identifier()
    started = time.perf_counter()

    def other(text: str) -> bool:
        return identifier.read(text, SUPPORTED).other

    sets = english_sets(data_dir)
    english: dict[str, Any] = {}
    timings: list[float] = []
    for name, texts in sets.items():
        read_as_other = []
        for text in texts:
            tick = time.perf_counter()
            read_as_other.append(other(text))
            timings.append(time.perf_counter() - tick)
        examples = [t for t, o in zip(texts, read_as_other, strict=True) if o]
        english[name] = {
            "n": len(texts),
            "other": len(examples),
            "rate": len(examples) / len(texts),
            "examples": examples[:8],
        }
    posts = other_language_posts()
    told_posts = [other(p.text) for p in posts]
    told_by_kind, told_by_language = told_shares(posts, told_posts)
    model, processor, _ = load_checkpoint(checkpoint)
    classifier = flagged_by_classifier(model, processor, [p.text for p in posts])
    decisions: dict[str, Any] = {}
    for kind in told_by_kind:
        rows = [i for i, p in enumerate(posts) if p.kind == kind]
        decisions[kind] = {
            "n": len(rows),
            "flagged_by_classifier": float(classifier[rows].mean()),
            "flagged_with_language_rule": float(np.mean([classifier[i] or told_posts[i] for i in rows])),
        }
    ocr: dict[str, Any] = {}
    if ocr_posts > 0:
        photos = [c.path for c in load_coco(data_dir) if c.coco_split == "val2017"]
        suite_texts = sets["functional_suite"]
        sample = [
            suite_texts[i] for i in np.random.default_rng(SEED).permutation(len(suite_texts))[:ocr_posts]
        ]
        print(
            f"rendering and reading {len(sample)} English suite texts and {len(posts)} other-language posts",
            file=sys.stderr,
        )
        english_read = read_by_ocr(sample, photos, processor)
        english_told = [t for t in english_read if other(t)]
        memes_by_kind, memes_by_language = told_shares(
            posts, [other(t) for t in read_by_ocr([p.text for p in posts], photos, processor)]
        )
        ocr = {
            "english_suite_memes": {
                "n": len(sample),
                "other": len(english_told),
                "rate": len(english_told) / len(sample),
                "examples": english_told[:8],
            },
            "other_language_memes": memes_by_kind,
            "other_language_memes_by_language": memes_by_language,
        }
    english_total = sum(v["n"] for v in english.values())
    return {
        "checkpoint": model.config.version,
        "rule": {
            "supported": list(SUPPORTED),
            "min_letters": MIN_LETTERS,
            "max_supported_share": MAX_SUPPORTED_SHARE,
            "min_top_confidence": MIN_TOP_CONFIDENCE,
        },
        "english": english,
        "english_overall_rate": sum(v["other"] for v in english.values()) / english_total,
        "other_language_told": told_by_kind,
        "other_language_told_by_language": told_by_language,
        "other_language_decisions": decisions,
        "ocr": ocr,
        "identifier_us_per_text": {
            "median": statistics.median(timings) * 1e6,
            "p99": float(np.percentile(timings, 99)) * 1e6,
        },
        "seconds": time.perf_counter() - started,
    }


def format_report(report: dict[str, Any]) -> str:
    lines = ["English posts read as another language (each would go to review for its language alone):"]
    for name, row in report["english"].items():
        lines.append(f"  {name:24s} {row['other']:4d} / {row['n']:5d}  {row['rate']:.2%}")
    lines.append(f"  {'all':24s} {report['english_overall_rate']:.3%}")
    if report["ocr"]:
        row = report["ocr"]["english_suite_memes"]
        lines.append(
            f"  {'suite memes through OCR':24s} {row['other']:4d} / {row['n']:5d}  {row['rate']:.2%}"
        )
    lines.append(
        "Other-language posts told (as captions" + (" | as memes through OCR" if report["ocr"] else "") + "):"
    )
    for kind, rate in report["other_language_told"].items():
        decision = report["other_language_decisions"][kind]
        through_ocr = f" | {report['ocr']['other_language_memes'][kind]:.0%}" if report["ocr"] else ""
        lines.append(
            f"  {kind:10s} n={decision['n']:3d} told {rate:.0%}{through_ocr}; flagged by the classifier alone "
            f"{decision['flagged_by_classifier']:.0%}, with the language rule {decision['flagged_with_language_rule']:.0%}"
        )
    by_language = report["other_language_told_by_language"]
    lines.append(
        "  by language (everyday + hostile, captions): "
        + ", ".join(f"{k} {v:.0%}" for k, v in by_language.items())
    )
    if report["ocr"]:
        lines.append(
            "  by language (memes through OCR): "
            + ", ".join(
                f"{k} {v:.0%}" for k, v in sorted(report["ocr"]["other_language_memes_by_language"].items())
            )
        )
    timing = report["identifier_us_per_text"]
    lines.append(f"Identifier: {timing['median']:.0f} us per text (median), {timing['p99']:.0f} us (p99)")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.language_check", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="the shared data folder (default: ../shared/data)"
    )
    parser.add_argument(
        "--checkpoint", type=Path, default=Path(__file__).resolve().parent / "default_checkpoint"
    )
    parser.add_argument(
        "--ocr-posts", type=int, default=300, help="English suite texts rendered and read by OCR (0: none)"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    if data_dir is None or not data_dir.is_dir():
        parser.error(
            f"--data-dir {data_dir or '(none given; ../shared/data not found)'} is not a folder of the shared data"
        )
    report = run(data_dir, args.checkpoint, args.ocr_posts)
    print(format_report(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
