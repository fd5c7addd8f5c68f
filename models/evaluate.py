"""Evaluate the classifier: ``python -m models.evaluate`` prints one table and writes models/eval/report.json.

Test sets (all built from test splits only):

- ``hatexplain``: HateXplain test, text only (toxic-vs-normal, per category, and the 3-class macro-F1).
- ``memes_image_only``: HateXplain test texts rendered into images, no caption — harm only in pixels.
- ``memes_as_captions``: the very same texts as plain captions, to compare recall with the line above.
- ``mixed``: composed multimodal posts (caption harm, image harm, split harm, benign, confounders).
- ``harmeme``: HarMeme test meme texts (``toxic`` = harmful).
- ``coco_benign``: every COCO val2017 photo (none was seen in training) with each of its own
  captions — the false-positive rate.
- ``memes_held_out`` / ``memes_held_out_as_captions``: the image-only memes again, rendered with
  fonts and layouts training never uses (models/data/memes.py), and their texts as captions.
- ``ood_benign``: out-of-distribution benign images (models/suite/benign_images.py: sample
  photos, icons, unseen art families, charts, document screenshots), alone and with bland
  captions (636 bland-caption posts: enough for 0 flagged to settle the 1 % target). For it and
  ``coco_benign`` the report lists the five posts closest to review (models/near_misses.py).
- ``toxigen_held_out_group`` / ``convabuse``: ToxiGen statements about a group no training
  statement is about, and ConvAbuse's test split (abuse aimed at a person).
- ``functional``: the functional suite (models/suite): every case as a text post and as an image
  (held-out fonts and layouts) with a bland caption; accuracy per functionality.
- ``functional_image_rendered_text``: the same image posts with the text each image shows in
  place of OCR's read (pixels unchanged): the image path's ceiling with perfect OCR, so the
  report tells OCR damage apart from the model's judgement.
- ``functional_text_with_stray``: every suite case as a text post with one stray word beside it
  (a sign, a number, a handle: what OCR reads off a photo besides a meme's words;
  models/suite/strays.py): the verdict must not change.
- ``supportive_statements``: supportive and rights-supporting statements about every protected
  group of the suite, many in hate speech's sentence shapes (models/suite/supportive.py; written
  for evaluation by a writer who saw no training template): the share sent to review.
- ``misspellings``: HateXplain, ConvAbuse and ToxiGen test texts and COCO's val2017 captions as
  text posts, as written and with one word misspelt the way people misspell it (Wikipedia's list
  of common misspellings, models/suite/misspellings.py): harmful caught and benign flagged both
  ways, and the paired change (models/typo_robustness.py).

Rows: every variant trained by ``models.train`` (four fusion modes, their ensemble when trained with ``--ensemble``, and the text-only and
image-only baselines) found in ``--variants-dir`` that the default checkpoint's own training run
wrote (versions ``{version}-{variant}``; another run's are left out with a warning), else the
default checkpoint alone. Images go
through real OCR (cached on disk by image key, so a second run is fast).

Targets: the issue-17 targets of the default checkpoint, each with its 95 % interval over
resampled test posts and whether that interval settles the verdict (models/target_intervals.py),
then the category and open_nsfw targets from their own reports.

Beside the report (``report.json``) goes ``report.outcomes.npz``: every variant's per-post
outcomes and a fingerprint of the posts (models/report_outcomes.py), so that
``python -m models.compare_reports`` can give paired intervals for the changes between two reports
of the same posts.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .architecture import ModerationModel
from .categories.embedding import CategoryEmbedder
from .category_targets import category_targets
from .checkpoint import load_checkpoint
from .data.memes import is_plain_background, random_spec
from .data.multimodal import MultimodalExample, coco_benign_pairs, compose, image_only_memes
from .data.sources import BENIGN, FULL_MASK, TextExample, default_data_dir, load_coco, load_text_corpus
from .features import FeatureSet, OcrCache, encode_texts, multimodal_features, predict, text_only_features
from .inference import DEFAULT_CATEGORIES, DEFAULT_CHECKPOINT
from .metrics import (
    auroc,
    false_positive_rate_at,
    macro_f1_at,
    precision_at,
    recall_at,
    three_class_cut,
    three_class_report,
)
from .near_misses import closest_to_review, format_near_misses
from .preprocessing import ModerationProcessor
from .read_quality import ReadQuality
from .report_outcomes import outcomes_path, posts_fingerprint, save_outcomes
from .suite import BLAND_CAPTIONS, FUNCTIONALITIES, FunctionalCase, build_suite
from .suite.benign_images import ood_benign_posts
from .suite.strays import with_stray
from .suite.supportive import SupportiveCase, supportive_cases, supportive_report
from .target_intervals import VariantOutcomes, settled, target_intervals
from .typo_robustness import build_check, format_typo_report, typo_report

log = logging.getLogger("models.evaluate")
#: The checkout the bundled checkpoint lies in (the report names checkpoints relative to it).
REPOSITORY = Path(__file__).resolve().parents[1]
MODALITY_NAMES = ("caption", "image_pixels", "image_text")

#: The feature sets of the misspelling check: the same texts as written and with one word misspelt.
MISSPELT_AS_WRITTEN, MISSPELT = "misspelt_as_written", "misspelt"
#: The benign image sets whose false positives the report counts and whose near misses it lists.
BENIGN_IMAGE_SETS = ("coco_benign", "ood_benign")
TARGETS = {
    "hatexplain_toxic_auroc": 0.86,
    "hatexplain_3class_macro_f1": 0.66,
    "image_text_recall_gap_points": 5.0,
    "held_out_image_text_recall_gap_points": 3.0,
    "mixed_fusion_gain_auroc_points": 10.0,
    "coco_false_positive_rate": 0.02,
    "ood_benign_bland_caption_flag_rate": 0.01,
    "functional_text_accuracy": 0.85,
    "functional_image_accuracy": 0.80,
    "functional_worst_functionality_accuracy": 0.60,
    "functional_hateful_caught": 0.85,
    "functional_non_hateful_left_alone": 0.85,
}
#: Harm share of a platform's traffic at which precision is also reported ("precision_at_10pct").
REALISTIC_HARM_SHARE = 0.1


def _text_weights_key(model: ModerationModel) -> str:
    """Identifies the text tower's fine-tuned weights, so variants sharing them share features."""
    layer = model.text_layers[-1]
    with torch.no_grad():
        return f"{float(sum(p.double().sum() for p in layer.parameters())):.6f}"


class Evaluator:
    def __init__(
        self, data_dir: Path, *, image_only: int, mixed: int, seed: int, ocr_cache: OcrCache, every: int = 1
    ) -> None:
        """``every`` > 1 keeps every n-th functional case and every (n/2)-th out-of-distribution
        post (a smoke run)."""
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
        self.memes_held_out = image_only_memes(
            self.hatexplain, photos, count=image_only, seed=seed + 2, layouts="held_out"
        )
        self.toxigen = [e for e in self.test_texts if e.source == "toxigen"]
        self.convabuse = [e for e in self.test_texts if e.source == "convabuse"]
        self.ood_benign = ood_benign_posts(BLAND_CAPTIONS, seed=seed)[:: max(1, every // 2)]
        self.suite = build_suite()[::every]
        self.suite_images = suite_image_posts(self.suite, photos, self.ood_benign, seed=seed + 3)
        stray_rng = np.random.default_rng(seed + 4)
        self.suite_with_strays = [with_stray(c.text, stray_rng) for c in self.suite]
        self.supportive = supportive_cases()[::every]
        check = build_check(self.test_texts, captions, seed=seed)
        self.misspelling_check = replace(check, pairs=check.pairs[::every])
        self.misspelt = self.misspelling_check.pairs
        self.seed = seed
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
            "memes_held_out": len(self.memes_held_out),
            "ood_benign": len(self.ood_benign),
            "toxigen_held_out_group": len(self.toxigen),
            "convabuse": len(self.convabuse),
            "functional_cases": len(self.suite),
            "functional_images": len(self.suite_images),
            "supportive_statements": len(self.supportive),
            "misspelt_texts": len(self.misspelt),
        }

    def posts_fingerprint(self) -> str:
        """What every set evaluated, post by post (texts, captions and image specs; a photo by its
        file name, so another checkout of the same data gives the same fingerprint)."""

        def post(example: MultimodalExample) -> str:
            image = example.image
            if image is not None and not is_plain_background(image.background):
                image = replace(image, background=Path(image.background).name)
            return f"{example.caption}\t{image!r}"

        return posts_fingerprint(
            {
                "texts": (e.text for e in self.test_texts),
                "memes_image_only": map(post, self.memes_image_only),
                "mixed": map(post, self.mixed),
                "coco_benign": map(post, self.coco),
                "memes_held_out": map(post, self.memes_held_out),
                "ood_benign": map(post, self.ood_benign),
                "functional_cases": (f"{c.case_id}\t{c.text}" for c in self.suite),
                "functional_images": map(post, self.suite_images),
                "functional_strays": iter(self.suite_with_strays),
                "supportive_statements": (c.text for c in self.supportive),
                "misspelt_texts": (f"{p.text}\t{p.misspelt}" for p in self.misspelt),
            }
        )

    def features(self, model: ModerationModel, processor: ModerationProcessor) -> dict[str, FeatureSet]:
        # the same weights read captions differently with and without a typed-text spelling
        key = f"{_text_weights_key(model)} {processor.caption_reading}"
        if key in self._features:
            return self._features[key]
        image_dim = model.image_dim

        def texts(examples: Sequence[TextExample], desc: str) -> FeatureSet:
            # each text is scored as a text post: read as the checkpoint reads captions
            embeddings = encode_texts(
                model, processor, [processor.read_caption(e.text) for e in examples], desc=desc
            )
            return text_only_features(embeddings, examples, image_dim)

        def posts(examples: Sequence[MultimodalExample], desc: str) -> FeatureSet:
            result = multimodal_features(
                model, processor, examples, ocr="real", ocr_cache=self.ocr_cache, desc=desc
            )
            self.ocr_cache.save()
            return result

        def as_captions(posts: Sequence[MultimodalExample]) -> list[TextExample]:
            return [
                TextExample(e.image.text, e.targets, e.mask, "memes", "test", "") for e in posts if e.image
            ]

        caption_versions = as_captions(self.memes_image_only)
        suite_texts = [
            TextExample(c.text, _case_targets(c), (1.0, 1.0, 1.0), "functional", "test", c.functionality)
            for c in self.suite
        ]
        sets = {
            "hatexplain": texts(self.hatexplain, "hatexplain test"),
            "harmeme": texts(self.harmeme, "harmeme test"),
            "memes_as_captions": texts(caption_versions, "memes as captions"),
            "memes_image_only": posts(self.memes_image_only, "memes image only (OCR)"),
            "mixed": posts(self.mixed, "mixed posts (OCR)"),
            "coco_benign": posts(self.coco, "coco benign pairs"),
            "memes_held_out_as_captions": texts(
                as_captions(self.memes_held_out), "held-out memes as captions"
            ),
            "memes_held_out": posts(self.memes_held_out, "held-out fonts/layouts memes (OCR)"),
            "ood_benign": posts(self.ood_benign, "out-of-distribution benign images (OCR)"),
            "toxigen_held_out_group": texts(self.toxigen, "toxigen held-out group"),
            "convabuse": texts(self.convabuse, "convabuse test"),
            "functional_text": texts(suite_texts, "functional suite: texts"),
            "functional_text_with_stray": texts(
                [replace(e, text=t) for e, t in zip(suite_texts, self.suite_with_strays, strict=True)],
                "functional suite: texts with a stray word",
            ),
            "functional_image": posts(self.suite_images, "functional suite: images (OCR)"),
            "supportive_statements": texts(supportive_texts(self.supportive), "supportive statements"),
            MISSPELT_AS_WRITTEN: texts(
                [TextExample(p.text, BENIGN, FULL_MASK, p.set_name, "test", "") for p in self.misspelt],
                "texts as written",
            ),
            MISSPELT: texts(
                [TextExample(p.misspelt, BENIGN, FULL_MASK, p.set_name, "test", "") for p in self.misspelt],
                "texts misspelt",
            ),
        }
        sets["functional_image_rendered_text"] = with_rendered_text(
            sets["functional_image"],
            sets["functional_text"],
            [p.case is not None and p.case.functionality != "bland_caption" for p in self.suite_images],
        )
        self._features[key] = sets
        return sets

    def read_quality(self, processor: ModerationProcessor) -> dict[str, dict[str, float | int]]:
        """OCR's reads of the rendered images, repaired as ``processor`` repairs them, against the
        text each image shows (models/read_quality.py), per set. Reads come from the OCR cache,
        which :meth:`features` fills."""
        sets: dict[str, Sequence[MultimodalExample]] = {
            "memes_image_only": self.memes_image_only,
            "memes_held_out": self.memes_held_out,
            "mixed": self.mixed,
            "functional_image": self.suite_images,
        }
        reads = self.ocr_cache.entries
        return {
            name: ReadQuality.of(
                (processor.clean_image_text(reads[post.image.key()]), post.image.text)
                for post in posts
                if post.image is not None and post.image.key() in reads
            ).as_dict()
            for name, posts in sets.items()
        }


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
            "precision": precision_at(y, s, t),
            "precision_at_10pct": precision_at(y, s, t, positive_share=REALISTIC_HARM_SHARE),
            "threshold": t,
            "n": int(known.sum()),
            "positives": int(y.sum()),
        }
    return out


def with_rendered_text(images: FeatureSet, texts: FeatureSet, rendered: Sequence[bool]) -> FeatureSet:
    """The image posts with OCR's read replaced by the text each image shows, pixels unchanged:
    what the image path would score if OCR read perfectly (a diagnostic that separates OCR damage
    from the model's judgement). Row i of ``texts`` is the text rendered into image i; rows not
    ``rendered`` (a bland caption on a photo) keep their OCR read."""
    rows = torch.tensor(rendered, dtype=torch.bool)
    image_text = images.image_text.clone()
    image_text[rows] = texts.caption[rows]
    present = images.present.clone()
    present[rows, 2] = True
    return FeatureSet(
        images.caption, images.image_pixels, image_text, present, images.targets, images.mask, images.kinds
    )


def evaluate_variant(
    name: str, model: ModerationModel, processor: ModerationProcessor, evaluator: Evaluator
) -> tuple[dict[str, Any], VariantOutcomes]:
    """One variant's report row, and the per-post outcomes behind its targets (for intervals)."""
    sets = evaluator.features(model, processor)
    allowed = tuple(m in model.config.training.get("modalities", MODALITY_NAMES) for m in MODALITY_NAMES)
    labels = model.config.labels
    thresholds = model.config.review_thresholds or {label: 0.5 for label in labels}
    row: dict[str, Any] = {
        "version": model.config.version,
        "fusion": "+".join(model.config.head_fusions),
        "modalities": [m for m, a in zip(MODALITY_NAMES, allowed, strict=True) if a],
    }
    row["image_text_reads"] = evaluator.read_quality(processor)
    per_post: dict[str, Any] = {"toxic_flagged": {}, "functional_passed": {}}
    toxic = labels.index("toxic")
    for dataset, features in sets.items():
        if dataset in (MISSPELT_AS_WRITTEN, MISSPELT):
            continue
        view = features.restrict(allowed)  # type: ignore[arg-type]
        scores = predict(model, view)
        known = view.mask[:, toxic].numpy() > 0
        toxic_labels, toxic_scores = view.targets[known, toxic].numpy(), scores[known, toxic]
        if dataset == "supportive_statements":  # all benign: no AUROC, the share flagged
            row[dataset] = supportive_report(evaluator.supportive, scores, labels, thresholds)
            continue
        row[dataset] = _category_metrics(scores, view, labels, thresholds)
        if dataset == "hatexplain":
            truth, pred, three = three_class_report(
                [e.source_label for e in evaluator.hatexplain],
                scores,
                labels,
                three_class_cut(model.config.training, thresholds),
            )
            row[dataset].update(three)
            per_post["hatexplain_toxic"] = (toxic_labels, toxic_scores)
            per_post["hatexplain_classes"] = (truth, pred)
        if dataset == "mixed":
            per_post["mixed_toxic"] = (toxic_labels, toxic_scores)
        if dataset.startswith("memes_"):
            per_post["toxic_flagged"][dataset] = (toxic_labels, toxic_scores >= thresholds.get("toxic", 0.5))
        if dataset in BENIGN_IMAGE_SETS:
            flagged = _flagged(scores, labels, thresholds)
            row[dataset]["any_category_false_positive_rate"] = float(flagged.mean())
            row[dataset]["closest_to_review"] = closest_to_review(
                scores,
                labels,
                thresholds,
                evaluator.coco if dataset == "coco_benign" else evaluator.ood_benign,
                evaluator.ocr_cache.entries,
            )
            if dataset == "coco_benign":
                per_post["coco_flagged"] = flagged
        if dataset == "ood_benign":
            captioned = view.present[:, 0].numpy()
            kinds = np.array(view.kinds)
            # a variant that sees no captions (image_only) has no captioned posts: NaN, not a warning
            row[dataset]["bland_caption_flag_rate"] = (
                float(flagged[captioned].mean()) if captioned.any() else math.nan
            )
            per_post["ood_bland_caption_flagged"] = flagged[captioned]
            row[dataset]["no_caption_flag_rate"] = (
                float(flagged[~captioned].mean()) if (~captioned).any() else math.nan
            )
            row[dataset]["bland_caption_flag_rate_by_source"] = {
                kind: float(flagged[captioned & (kinds == kind)].mean())
                for kind in sorted(set(view.kinds))
                if (captioned & (kinds == kind)).any()
            }
        if dataset in ("hatexplain", "mixed"):
            row[dataset]["threshold_sweep"] = _threshold_sweep(scores, view, labels)
        if dataset.startswith("functional_"):
            cases = (
                evaluator.suite
                if dataset in ("functional_text", "functional_text_with_stray")
                else [p.case for p in evaluator.suite_images if p.case is not None]
            )
            row[dataset] = functional_report(cases, scores, labels, thresholds)
            if dataset in ("functional_text", "functional_image"):
                per_post["functional_passed"][dataset] = functional_passes(cases, scores, labels, thresholds)
                per_post["functional_labels"] = np.array([c.label for c in cases])
                per_post["functionalities"] = np.array([c.functionality for c in cases])
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
    as_written, misspelt = (
        _flagged(predict(model, sets[name].restrict(allowed)), labels, thresholds)  # type: ignore[arg-type]
        for name in (MISSPELT_AS_WRITTEN, MISSPELT)
    )
    row["misspellings"] = typo_report(
        evaluator.misspelt,
        as_written,
        misspelt,
        left_out=evaluator.misspelling_check.left_out,
        source=evaluator.misspelling_check.source,
        seed=evaluator.seed,
    )
    per_post["misspelt"] = (
        np.array([p.harmful for p in evaluator.misspelt], dtype=bool),
        as_written,
        misspelt,
    )
    return row, VariantOutcomes(**per_post)


def _flagged(scores: np.ndarray, labels: Sequence[str], thresholds: dict[str, float]) -> np.ndarray:
    """Posts that reach a review threshold in any category."""
    flagged = np.zeros(len(scores), dtype=bool)
    for j, label in enumerate(labels):
        flagged |= scores[:, j] >= thresholds.get(label, 0.5)
    return flagged


def _threshold_sweep(
    scores: np.ndarray, features: FeatureSet, labels: Sequence[str]
) -> dict[str, list[dict[str, float]]]:
    """Precision (measured and at 10 % harm), recall and FPR per category at thresholds 0.1..0.9."""
    out = {}
    for j, label in enumerate(labels):
        known = features.mask[:, j].numpy() > 0
        y, s = features.targets[known, j].numpy(), scores[known, j]
        out[label] = [
            {
                "threshold": float(t),
                "precision": precision_at(y, s, float(t)),
                "precision_at_10pct": precision_at(y, s, float(t), positive_share=REALISTIC_HARM_SHARE),
                "recall": recall_at(y, s, float(t)),
                "false_positive_rate": false_positive_rate_at(y, s, float(t)),
            }
            for t in np.round(np.arange(0.1, 0.91, 0.1), 2)
        ]
    return out


def supportive_texts(cases: Sequence[SupportiveCase]) -> list[TextExample]:
    """The supportive statements as benign text posts (every label claimed 0)."""
    return [TextExample(c.text, BENIGN, FULL_MASK, "supportive", "test", "supportive") for c in cases]


def _case_targets(case: FunctionalCase) -> tuple[float, float, float]:
    hateful = case.label == "hateful"
    return (1.0 if hateful else 0.0, 0.0, 1.0 if case.label != "benign" else 0.0)


def case_passes(
    case: FunctionalCase, score: np.ndarray, labels: Sequence[str], thresholds: dict[str, float]
) -> bool:
    """hateful: ``hate`` fires; non_hateful_offensive: ``hate`` does not; benign: nothing fires."""
    fires = {label: bool(score[j] >= thresholds.get(label, 0.5)) for j, label in enumerate(labels)}
    if case.label == "hateful":
        return fires["hate"]
    if case.label == "non_hateful_offensive":
        return not fires["hate"]
    return not any(fires.values())


def functional_passes(
    cases: Sequence[FunctionalCase], scores: np.ndarray, labels: Sequence[str], thresholds: dict[str, float]
) -> np.ndarray:
    """Whether each case passes (:func:`case_passes`), in the order of ``cases``."""
    return np.array([case_passes(c, scores[i], labels, thresholds) for i, c in enumerate(cases)], dtype=bool)


def functional_report(
    cases: Sequence[FunctionalCase], scores: np.ndarray, labels: Sequence[str], thresholds: dict[str, float]
) -> dict[str, Any]:
    """Accuracy overall, per label and per functionality (each with its label and count)."""
    passed = functional_passes(cases, scores, labels, thresholds)
    case_labels = np.array([c.label for c in cases])
    functionalities = np.array([c.functionality for c in cases])
    per_functionality: dict[str, dict[str, Any]] = {
        name: {
            "accuracy": float(passed[functionalities == name].mean()),
            "n": int((functionalities == name).sum()),
            "label": str(case_labels[functionalities == name][0]),
        }
        for name in FUNCTIONALITIES
        if (functionalities == name).any()
    }
    hateful = case_labels == "hateful"
    return {
        "accuracy": float(passed.mean()),
        "hateful_caught": float(passed[hateful].mean()) if hateful.any() else math.nan,
        "non_hateful_left_alone": float(passed[~hateful].mean()) if (~hateful).any() else math.nan,
        "by_label": {
            lab: float(passed[case_labels == lab].mean()) for lab in sorted(set(case_labels.tolist()))
        },
        "worst_functionality": min(per_functionality, key=lambda n: float(per_functionality[n]["accuracy"])),
        "worst_functionality_accuracy": min(float(v["accuracy"]) for v in per_functionality.values()),
        "by_functionality": per_functionality,
        "n": len(cases),
    }


@dataclass(frozen=True)
class SuiteImagePost(MultimodalExample):
    """A functional-suite case as an image post (the case it renders travels with it)."""

    case: FunctionalCase | None = None


def suite_image_posts(
    cases: Sequence[FunctionalCase],
    photos: Sequence[Path],
    ood_benign: Sequence[MultimodalExample],
    *,
    seed: int,
) -> list[SuiteImagePost]:
    """Every case rendered into an image (held-out fonts and layouts) posted with a bland caption;
    a bland-caption case is instead that caption on an out-of-distribution benign image."""
    rng = np.random.default_rng(seed)
    benign_images = [p.image for p in ood_benign if p.caption is None and p.image is not None]
    posts = []
    for index, case in enumerate(cases):
        targets = _case_targets(case)
        if case.functionality == "bland_caption" and benign_images:
            image, caption = benign_images[index % len(benign_images)], case.text
        else:
            image = random_spec(case.text, rng, list(photos), layouts="held_out")
            caption = BLAND_CAPTIONS[int(rng.integers(len(BLAND_CAPTIONS)))]
        posts.append(
            SuiteImagePost(caption, image, targets, (1.0, 1.0, 1.0), case.functionality, "test", case=case)
        )
    return posts


def sibling_variants(variants_dir: Path, version: str) -> dict[str, Path]:
    """The checkpoints in ``variants_dir`` that the training run of ``version`` wrote (named
    ``{version}-{variant}``, or ``version`` itself). A folder left by another run is skipped with a
    warning: its heads in the report would be compared as if they were this checkpoint's siblings."""
    found: dict[str, Path] = {}
    for path in sorted(variants_dir.iterdir()):
        config = path / "config.json"
        if not (path / "manifest.json").is_file() or not config.is_file():
            continue
        other = str(json.loads(config.read_text(encoding="utf-8")).get("version", ""))
        if other == version or other.startswith(f"{version}-"):
            found[path.name] = path
        else:
            log.warning("%s: a variant of %s, not of %s; left out of the report", path, other, version)
    return found


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
        return {
            "measured": value,
            "target": target,
            "higher_is_better": higher_is_better,
            "met": bool(ok) if not math.isnan(value) else None,
        }

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
        "held_out_image_text_recall_gap_points": verdict(
            100
            * (
                row["memes_held_out_as_captions"]["toxic"]["recall"]
                - row["memes_held_out"]["toxic"]["recall"]
            ),
            TARGETS["held_out_image_text_recall_gap_points"],
            False,
        ),
        "ood_benign_bland_caption_flag_rate": verdict(
            row["ood_benign"]["bland_caption_flag_rate"], TARGETS["ood_benign_bland_caption_flag_rate"], False
        ),
        "functional_text_accuracy": verdict(
            row["functional_text"]["accuracy"], TARGETS["functional_text_accuracy"], True
        ),
        "functional_image_accuracy": verdict(
            row["functional_image"]["accuracy"], TARGETS["functional_image_accuracy"], True
        ),
        "functional_worst_functionality_accuracy": verdict(
            min(
                row["functional_text"]["worst_functionality_accuracy"],
                row["functional_image"]["worst_functionality_accuracy"],
            ),
            TARGETS["functional_worst_functionality_accuracy"],
            True,
        ),
        "functional_hateful_caught": verdict(
            min(row["functional_text"]["hateful_caught"], row["functional_image"]["hateful_caught"]),
            TARGETS["functional_hateful_caught"],
            True,
        ),
        "functional_non_hateful_left_alone": verdict(
            min(
                row["functional_text"]["non_hateful_left_alone"],
                row["functional_image"]["non_hateful_left_alone"],
            ),
            TARGETS["functional_non_hateful_left_alone"],
            True,
        ),
    }


def with_intervals(
    targets: dict[str, dict[str, Any]], outcomes: Mapping[str, VariantOutcomes], default: str, *, seed: int
) -> dict[str, dict[str, Any]]:
    """The verdicts with each one's 95 % interval (``interval_95``) and whether the whole interval
    gives the same verdict (``settled``; false: another draw of test posts could flip it)."""
    measured = {name: float(verdict["measured"]) for name, verdict in targets.items()}
    intervals = target_intervals(outcomes, default, measured, seed=seed)
    for name, interval in intervals.items():
        verdict = targets[name]
        verdict["interval_95"] = list(interval)
        verdict["settled"] = settled(interval, verdict["target"], verdict["higher_is_better"])
    return targets


def format_table(rows: dict[str, dict[str, Any]], default: str) -> str:
    columns = [
        ("HX toxic AUROC", lambda r: r["hatexplain"]["toxic"]["auroc"]),
        ("HX 3-cls F1", lambda r: r["hatexplain"]["three_class_macro_f1"]),
        ("HX offensive F1", lambda r: r["hatexplain"]["three_class_f1_by_class"]["offensive"]),
        ("HX hate AUROC", lambda r: r["hatexplain"]["hate"]["auroc"]),
        ("img-only recall", lambda r: r["memes_image_only"]["toxic"]["recall"]),
        ("as-caption recall", lambda r: r["memes_as_captions"]["toxic"]["recall"]),
        ("mixed AUROC", lambda r: r["mixed"]["toxic"]["auroc"]),
        ("mixed F1", lambda r: r["mixed"]["toxic"]["macro_f1"]),
        ("HarMeme AUROC", lambda r: r["harmeme"]["toxic"]["auroc"]),
        ("COCO FPR", lambda r: r["coco_benign"]["any_category_false_positive_rate"]),
        ("OOD bland FPR", lambda r: r["ood_benign"]["bland_caption_flag_rate"]),
        ("held-out img rec", lambda r: r["memes_held_out"]["toxic"]["recall"]),
        ("held-out cap rec", lambda r: r["memes_held_out_as_captions"]["toxic"]["recall"]),
        ("func text acc", lambda r: r["functional_text"]["accuracy"]),
        ("func img acc", lambda r: r["functional_image"]["accuracy"]),
        ("supportive flagged", lambda r: r["supportive_statements"]["any_flagged_rate"]),
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


def format_read_quality(row: dict[str, Any]) -> str:
    """The default checkpoint's image-text reads against the text shown, one line per set."""
    lines = ["image text as read (OCR, then the repair) against the text each image shows:"]
    for name, quality in row.get("image_text_reads", {}).items():
        lines.append(
            f"  {name:18s} {quality['images']:5d} images  word error rate {quality['word_error_rate']:.3f}"
            f"  read exactly {quality['read_exactly']:.3f}"
        )
    return "\n".join(lines)


def format_functional_table(row: dict[str, Any]) -> str:
    """Per-functionality accuracy of one variant: text posts and image posts side by side, the
    image posts again with the rendered text in place of OCR's read, and the text posts with a
    stray word (the last two where the report has them)."""
    text, image = row["functional_text"], row["functional_image"]
    rendered = row.get("functional_image_rendered_text")
    stray = row.get("functional_text_with_stray")
    names = list(text["by_functionality"])
    width = max(len(n) for n in names) + 2

    def cell(result: dict[str, Any] | None, key: str) -> str:
        value = None if result is None else result.get(key)
        return (f"{value:.3f}" if value is not None else "-").rjust(9)

    lines = [
        "functionality".ljust(width)
        + "label".ljust(24)
        + "n".rjust(5)
        + "text".rjust(9)
        + "image".rjust(9)
        + "rendered".rjust(9)
        + "+stray".rjust(9),
        "-" * (width + 65),
    ]
    for name in names:
        t = text["by_functionality"][name]
        i = image["by_functionality"].get(name)
        r = rendered["by_functionality"].get(name) if rendered else None
        w = stray["by_functionality"].get(name) if stray else None
        lines.append(
            name.ljust(width)
            + t["label"].ljust(24)
            + str(t["n"]).rjust(5)
            + cell(t, "accuracy")
            + cell(i, "accuracy")
            + cell(r, "accuracy")
            + cell(w, "accuracy")
        )
    for title, key in (
        ("overall", "accuracy"),
        ("hateful caught", "hateful_caught"),
        ("non-hateful left alone", "non_hateful_left_alone"),
    ):
        lines.append(
            title.ljust(width + 29)
            + cell(text, key)
            + cell(image, key)
            + cell(rendered, key)
            + cell(stray, key)
        )
    lines.append(
        "rendered: the image posts scored with the text each image shows in place of OCR's read "
        "(pixels unchanged): the image column's ceiling if OCR read perfectly. +stray: the text "
        "posts with one stray word (a sign, a number, a handle: models/suite/strays.py)."
    )
    return "\n".join(lines)


def _shown_path(path: Path) -> str:
    """``path`` as the report records it: relative to the repository when inside it (the default,
    the bundled checkpoint, is an absolute path, and the committed report must not name the
    machine it ran on)."""
    try:
        return str(path.resolve().relative_to(REPOSITORY))
    except ValueError:
        return str(path)


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
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 30 image-only memes, 40 mixed posts, every 10th functional case and "
        "every 5th out-of-distribution post (numbers are not comparable with a full run)",
    )
    parser.add_argument("--threads", type=int)
    parser.add_argument(
        "--categories",
        type=Path,
        default=DEFAULT_CATEGORIES,
        help="the category bundle whose targets the report checks (measured by models.categories.build)",
    )
    parser.add_argument(
        "--categories-only",
        action="store_true",
        help="only re-check the policy-coverage targets (categories, open_nsfw) in the existing --output",
    )
    ns = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    if ns.categories_only:
        return _refresh_category_targets(ns.output, ns.checkpoint, ns.categories)
    if ns.data_dir is None or not Path(ns.data_dir).is_dir():
        parser.error("--data-dir is required (the shared datasets folder was not found)")
    if ns.threads:
        torch.set_num_threads(ns.threads)
    started = time.time()
    default_model, default_processor, sha256 = load_checkpoint(ns.checkpoint)
    candidates: dict[str, Path] = {}
    if ns.variants_dir.is_dir():
        candidates = sibling_variants(ns.variants_dir, default_model.config.version)
    default_name = str(default_model.config.training.get("variant", "default"))
    evaluator = Evaluator(
        ns.data_dir,
        image_only=30 if ns.quick else ns.image_only,
        mixed=40 if ns.quick else ns.mixed,
        seed=ns.seed,
        ocr_cache=OcrCache(ns.ocr_cache),
        every=10 if ns.quick else 1,
    )
    rows: dict[str, dict[str, Any]] = {}
    outcomes: dict[str, VariantOutcomes] = {}
    rows[default_name], outcomes[default_name] = evaluate_variant(
        default_name, default_model, default_processor, evaluator
    )
    for name, path in candidates.items():
        if name == default_name:
            continue
        model, processor, _ = load_checkpoint(path)
        rows[name], outcomes[name] = evaluate_variant(name, model, processor, evaluator)
    fingerprint = evaluator.posts_fingerprint()
    order = ["concat", "sum", "gated", "attention", "text_only", "image_only"]
    rows = dict(sorted(rows.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
    report = {
        "checkpoint": {
            "path": _shown_path(ns.checkpoint),
            "version": default_model.config.version,
            "sha256": sha256,
            "variant": default_name,
        },
        "datasets": evaluator.sizes(),
        "posts_fingerprint": fingerprint,
        "targets": with_intervals(check_targets(rows, default_name), outcomes, default_name, seed=ns.seed),
        "category_targets": _category_targets(default_model, default_processor, ns.categories),
        "rows": rows,
        "seed": ns.seed,
        "quick": ns.quick,
        "seconds": round(time.time() - started, 1),
    }
    ns.output.parent.mkdir(parents=True, exist_ok=True)
    ns.output.write_text(json.dumps(report, indent=2, default=float, allow_nan=True) + "\n", encoding="utf-8")
    save_outcomes(outcomes_path(ns.output), outcomes, fingerprint)
    print(format_table(rows, default_name))
    print()
    print(format_read_quality(rows[default_name]))
    print()
    print(f"functional suite, default checkpoint ({default_name}):")
    print(format_functional_table(rows[default_name]))
    print()
    print(format_typo_report(rows[default_name]["misspellings"]))
    print()
    print(
        format_near_misses(
            {name: rows[default_name][name]["closest_to_review"] for name in BENIGN_IMAGE_SETS}
        )
    )
    print()
    print_targets(report["targets"])
    print(
        "[low, high]: 95 % interval over resampled test posts (models/target_intervals.py); "
        "not settled: the target lies inside it, so another draw of posts could flip the verdict"
    )
    print_targets(report["category_targets"])
    print(f"\nreport written to {ns.output} ({report['seconds']:.0f} s)")
    return 0


def print_targets(targets: dict[str, dict[str, Any]]) -> None:
    for name, verdict in targets.items():
        status = {True: "met", False: "MISSED", None: "n/a"}[verdict["met"]]
        measured = "—" if verdict["measured"] is None else f"{verdict['measured']:.4f}"
        interval = verdict.get("interval_95")
        spread = f"[{interval[0]:.4f}, {interval[1]:.4f}]" if interval else ""
        if verdict.get("settled") is False:
            status += ", not settled"
        note = f"  ({verdict['note']})" if verdict.get("note") else ""
        print(f"{name:38s} measured {measured:>7} {spread:>18}  target {verdict['target']}  {status}{note}")


def _category_targets(model: ModerationModel, processor: ModerationProcessor, bundle: Path) -> dict[str, Any]:
    """The policy-coverage targets of ``bundle``, which must fit this checkpoint's text tower."""
    fingerprint = CategoryEmbedder.for_checkpoint(model, processor).fingerprint
    return category_targets(bundle, encoder_fingerprint=fingerprint)


def _refresh_category_targets(output: Path, checkpoint: Path, bundle: Path) -> int:
    """``--categories-only``: re-check the category targets of an existing report, in place."""
    if not output.is_file():
        raise SystemExit(f"--categories-only: {output} does not exist; run python -m models.evaluate first")
    report = json.loads(output.read_text(encoding="utf-8"))
    model, processor, _ = load_checkpoint(checkpoint)
    if report.get("checkpoint", {}).get("version") != model.config.version:
        raise SystemExit(
            f"--categories-only: {output} is the report of {report.get('checkpoint', {}).get('version')}, "
            f"not of {model.config.version} ({checkpoint})"
        )
    report["category_targets"] = _category_targets(model, processor, bundle)
    output.write_text(json.dumps(report, indent=2, default=float, allow_nan=True) + "\n", encoding="utf-8")
    print_targets(report["category_targets"])
    print(f"\ncategory targets written to {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
