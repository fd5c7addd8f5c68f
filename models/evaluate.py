"""Evaluate the classifier: ``python -m models.evaluate`` prints one table and writes models/eval/report.json.

Test sets (all built from test splits only):

- ``hatexplain``: HateXplain test, text only (toxic-vs-normal, per category, and the 3-class macro-F1).
- ``memes_image_only``: HateXplain test texts rendered into images, no caption — harm only in pixels.
- ``memes_as_captions``: the very same texts as plain captions, to compare recall with the line above.
- ``mixed``: composed multimodal posts (caption harm, image harm, split harm, benign, confounders).
- ``harmeme``: HarMeme test meme texts (``toxic`` = harmful).
- ``coco_benign``: every COCO val2017 photo (none was seen in training) with each of its own
  captions — the false-positive rate.

Rows: every variant trained by ``models.train`` (four fusion modes and the text-only and
image-only baselines) found in ``--variants-dir``, else the default checkpoint alone. Images go
through real OCR (cached on disk by image key, so a second run is fast).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .architecture import ModerationModel
from .checkpoint import load_checkpoint
from .data.multimodal import MultimodalExample, coco_benign_pairs, compose, image_only_memes
from .data.sources import TextExample, default_data_dir, load_coco, load_text_corpus
from .features import FeatureSet, OcrCache, encode_texts, multimodal_features, predict, text_only_features
from .inference import DEFAULT_CHECKPOINT
from .metrics import auroc, false_positive_rate_at, macro_f1_at, recall_at, three_class
from .preprocessing import ModerationProcessor

log = logging.getLogger("models.evaluate")
MODALITY_NAMES = ("caption", "image_pixels", "image_text")

TARGETS = {
    "hatexplain_toxic_auroc": 0.85,
    "hatexplain_3class_macro_f1": 0.65,
    "image_text_recall_gap_points": 5.0,
    "mixed_fusion_gain_auroc_points": 10.0,
    "coco_false_positive_rate": 0.02,
}


def _text_weights_key(model: ModerationModel) -> str:
    """Identifies the text tower's fine-tuned weights, so variants sharing them share features."""
    layer = model.text_layers[-1]
    with torch.no_grad():
        return f"{float(sum(p.double().sum() for p in layer.parameters())):.6f}"


class Evaluator:
    def __init__(
        self, data_dir: Path, *, image_only: int, mixed: int, seed: int, ocr_cache: OcrCache
    ) -> None:
        corpus = load_text_corpus(data_dir)
        self.test_texts = [e for e in corpus if e.split == "test"]
        coco = load_coco(data_dir)
        photos = [c.path for c in coco if c.coco_split == "val2017"]
        captions = [cap for c in coco if c.coco_split == "val2017" for cap in c.captions]
        self.hatexplain = [e for e in self.test_texts if e.source == "hatexplain"]
        self.harmeme = [e for e in self.test_texts if e.source == "harmeme"]
        pool = [e for e in self.test_texts if e.source in ("hatexplain", "harmeme")]
        self.memes_image_only = image_only_memes(self.hatexplain, photos, count=image_only, seed=seed)
        self.mixed = compose(pool, photos, captions, count=mixed, split="test", seed=seed + 1)
        # only photos training never saw: the train2017 ones back the training posts
        self.coco = coco_benign_pairs([c for c in coco if c.coco_split == "val2017"])
        self.ocr_cache = ocr_cache
        self._features: dict[str, dict[str, FeatureSet]] = {}

    def sizes(self) -> dict[str, int]:
        return {
            "hatexplain": len(self.hatexplain),
            "memes_image_only": len(self.memes_image_only),
            "memes_as_captions": len(self.memes_image_only),
            "mixed": len(self.mixed),
            "harmeme": len(self.harmeme),
            "coco_benign": len(self.coco),
        }

    def features(self, model: ModerationModel, processor: ModerationProcessor) -> dict[str, FeatureSet]:
        key = _text_weights_key(model)
        if key in self._features:
            return self._features[key]
        image_dim = model.image_dim

        def texts(examples: Sequence[TextExample], desc: str) -> FeatureSet:
            embeddings = encode_texts(
                model, processor, [" ".join(e.text.split()) for e in examples], desc=desc
            )
            return text_only_features(embeddings, examples, image_dim)

        def posts(examples: Sequence[MultimodalExample], desc: str) -> FeatureSet:
            result = multimodal_features(
                model, processor, examples, ocr="real", ocr_cache=self.ocr_cache, desc=desc
            )
            self.ocr_cache.save()
            return result

        caption_versions = [
            TextExample(e.image.text, e.targets, e.mask, "memes", "test", "")
            for e in self.memes_image_only
            if e.image
        ]
        sets = {
            "hatexplain": texts(self.hatexplain, "hatexplain test"),
            "harmeme": texts(self.harmeme, "harmeme test"),
            "memes_as_captions": texts(caption_versions, "memes as captions"),
            "memes_image_only": posts(self.memes_image_only, "memes image only (OCR)"),
            "mixed": posts(self.mixed, "mixed posts (OCR)"),
            "coco_benign": posts(self.coco, "coco benign pairs"),
        }
        self._features[key] = sets
        return sets


def _category_metrics(
    scores: np.ndarray, features: FeatureSet, labels: Sequence[str], thresholds: dict[str, float]
) -> dict[str, dict[str, float]]:
    out = {}
    for j, label in enumerate(labels):
        known = features.mask[:, j].numpy() > 0
        y, s = features.targets[known, j].numpy(), scores[known, j]
        t = thresholds.get(label, 0.5)
        if not known.any():
            continue
        out[label] = {
            "auroc": auroc(y, s),
            "macro_f1": macro_f1_at(y, s, t),
            "recall": recall_at(y, s, t),
            "false_positive_rate": false_positive_rate_at(y, s, t),
            "threshold": t,
            "n": int(known.sum()),
            "positives": int(y.sum()),
        }
    return out


def evaluate_variant(
    name: str, model: ModerationModel, processor: ModerationProcessor, evaluator: Evaluator
) -> dict[str, Any]:
    sets = evaluator.features(model, processor)
    allowed = tuple(m in model.config.training.get("modalities", MODALITY_NAMES) for m in MODALITY_NAMES)
    labels = model.config.labels
    thresholds = model.config.review_thresholds or {label: 0.5 for label in labels}
    row: dict[str, Any] = {
        "version": model.config.version,
        "fusion": model.config.fusion,
        "modalities": [m for m, a in zip(MODALITY_NAMES, allowed, strict=True) if a],
    }
    for dataset, features in sets.items():
        view = features.restrict(allowed)  # type: ignore[arg-type]
        scores = predict(model, view)
        row[dataset] = _category_metrics(scores, view, labels, thresholds)
        if dataset == "hatexplain":
            sources = {"normal": 0, "hatespeech": 1, "offensive": 2}
            truth = np.array([sources[e.source_label] for e in evaluator.hatexplain])
            pred = three_class(
                scores[:, labels.index("hate")],
                scores[:, labels.index("offensive")],
                scores[:, labels.index("toxic")],
                float(
                    model.config.training.get("three_class_toxic_threshold") or thresholds.get("toxic", 0.5)
                ),
            )
            from sklearn.metrics import f1_score

            row[dataset]["three_class_macro_f1"] = float(f1_score(truth, pred, average="macro"))
        if dataset == "coco_benign":
            flagged = np.zeros(len(view), dtype=bool)
            for j, label in enumerate(labels):
                flagged |= scores[:, j] >= thresholds.get(label, 0.5)
            row[dataset]["any_category_false_positive_rate"] = float(flagged.mean())
        if dataset == "mixed":
            kinds = np.array(view.kinds)
            row[dataset]["toxic_recall_by_kind"] = {
                kind: recall_at(
                    view.targets[kinds == kind, -1].numpy(),
                    scores[kinds == kind, -1],
                    thresholds.get("toxic", 0.5),
                )
                for kind in sorted(set(view.kinds))
                if view.targets[kinds == kind, -1].sum() > 0
            }
            row[dataset]["toxic_false_positive_rate_by_kind"] = {
                kind: false_positive_rate_at(
                    view.targets[kinds == kind, -1].numpy(),
                    scores[kinds == kind, -1],
                    thresholds.get("toxic", 0.5),
                )
                for kind in sorted(set(view.kinds))
                if (view.targets[kinds == kind, -1] == 0).any()
            }
    return row


def check_targets(rows: dict[str, dict[str, Any]], default: str) -> dict[str, dict[str, Any]]:
    row = rows[default]
    hx = row["hatexplain"]
    image_recall = row["memes_image_only"]["toxic"]["recall"]
    caption_recall = row["memes_as_captions"]["toxic"]["recall"]
    unimodal = [rows[n]["mixed"]["toxic"]["auroc"] for n in ("text_only", "image_only") if n in rows]
    fused = row["mixed"]["toxic"]["auroc"]
    gain = 100 * (fused - max(unimodal)) if unimodal else math.nan
    coco = row["coco_benign"]["any_category_false_positive_rate"]

    def verdict(value: float, target: float, higher_is_better: bool) -> dict[str, Any]:
        ok = (value >= target) if higher_is_better else (value <= target)
        return {"measured": value, "target": target, "met": bool(ok) if not math.isnan(value) else None}

    return {
        "hatexplain_toxic_auroc": verdict(hx["toxic"]["auroc"], TARGETS["hatexplain_toxic_auroc"], True),
        "hatexplain_3class_macro_f1": verdict(
            hx["three_class_macro_f1"], TARGETS["hatexplain_3class_macro_f1"], True
        ),
        "image_text_recall_gap_points": verdict(
            100 * (caption_recall - image_recall), TARGETS["image_text_recall_gap_points"], False
        ),
        "mixed_fusion_gain_auroc_points": verdict(gain, TARGETS["mixed_fusion_gain_auroc_points"], True),
        "coco_false_positive_rate": verdict(coco, TARGETS["coco_false_positive_rate"], False),
    }


def format_table(rows: dict[str, dict[str, Any]], default: str) -> str:
    columns = [
        ("HX toxic AUROC", lambda r: r["hatexplain"]["toxic"]["auroc"]),
        ("HX 3-cls F1", lambda r: r["hatexplain"]["three_class_macro_f1"]),
        ("HX hate AUROC", lambda r: r["hatexplain"]["hate"]["auroc"]),
        ("img-only recall", lambda r: r["memes_image_only"]["toxic"]["recall"]),
        ("as-caption recall", lambda r: r["memes_as_captions"]["toxic"]["recall"]),
        ("mixed AUROC", lambda r: r["mixed"]["toxic"]["auroc"]),
        ("mixed F1", lambda r: r["mixed"]["toxic"]["macro_f1"]),
        ("HarMeme AUROC", lambda r: r["harmeme"]["toxic"]["auroc"]),
        ("COCO FPR", lambda r: r["coco_benign"]["any_category_false_positive_rate"]),
    ]
    name_width = max(len(n) for n in rows) + 2
    header = "variant".ljust(name_width) + " ".join(c[0].rjust(max(len(c[0]), 7)) for c in columns)
    lines = [header, "-" * len(header)]
    for name, row in rows.items():
        cells = []
        for title, get in columns:
            try:
                value = float(get(row))
                cells.append(("nan" if math.isnan(value) else f"{value:.3f}").rjust(max(len(title), 7)))
            except (KeyError, TypeError):
                cells.append("-".rjust(max(len(title), 7)))
        label = name + ("*" if name == default else "")
        lines.append(label.ljust(name_width) + " ".join(cells))
    lines.append(
        "* default checkpoint. toxic unless named; recall/F1/FPR at each variant's review thresholds."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.evaluate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir", type=Path, default=default_data_dir(), help="the shared datasets folder"
    )
    parser.add_argument(
        "--variants-dir",
        type=Path,
        default=Path("artifacts/train/variants"),
        help="checkpoints written by models.train (one folder per variant)",
    )
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT, help="the default checkpoint")
    parser.add_argument("--output", type=Path, default=Path("models/eval/report.json"))
    parser.add_argument("--ocr-cache", type=Path, default=Path("artifacts/eval/ocr_cache.json"))
    parser.add_argument("--image-only", type=int, default=300, help="posts in the image-only meme test set")
    parser.add_argument("--mixed", type=int, default=400, help="posts in the mixed multimodal test set")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--threads", type=int)
    ns = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if ns.data_dir is None or not Path(ns.data_dir).is_dir():
        parser.error("--data-dir is required (the shared datasets folder was not found)")
    if ns.threads:
        torch.set_num_threads(ns.threads)
    started = time.time()
    default_model, default_processor, sha256 = load_checkpoint(ns.checkpoint)
    candidates: dict[str, Path] = {}
    if ns.variants_dir.is_dir():
        candidates = {p.name: p for p in sorted(ns.variants_dir.iterdir()) if (p / "manifest.json").is_file()}
    default_name = str(default_model.config.training.get("variant", "default"))
    evaluator = Evaluator(
        ns.data_dir, image_only=ns.image_only, mixed=ns.mixed, seed=ns.seed, ocr_cache=OcrCache(ns.ocr_cache)
    )
    rows: dict[str, dict[str, Any]] = {
        default_name: evaluate_variant(default_name, default_model, default_processor, evaluator)
    }
    for name, path in candidates.items():
        if name == default_name:
            continue
        model, processor, _ = load_checkpoint(path)
        rows[name] = evaluate_variant(name, model, processor, evaluator)
    order = ["concat", "sum", "gated", "attention", "text_only", "image_only"]
    rows = dict(sorted(rows.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    report = {
        "checkpoint": {
            "path": str(ns.checkpoint),
            "version": default_model.config.version,
            "sha256": sha256,
            "variant": default_name,
        },
        "datasets": evaluator.sizes(),
        "targets": check_targets(rows, default_name),
        "rows": rows,
        "seed": ns.seed,
        "seconds": round(time.time() - started, 1),
    }
    ns.output.parent.mkdir(parents=True, exist_ok=True)
    ns.output.write_text(json.dumps(report, indent=2, default=float, allow_nan=True) + "\n", encoding="utf-8")
    print(format_table(rows, default_name))
    print()
    for name, verdict in report["targets"].items():
        status = {True: "met", False: "MISSED", None: "n/a"}[verdict["met"]]
        print(f"{name:34s} measured {verdict['measured']:.4f}  target {verdict['target']}  {status}")
    print(f"\nreport written to {ns.output} ({report['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
