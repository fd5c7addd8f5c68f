"""Build and measure the bundled example-defined categories: ``python -m models.categories.build``.

1. Writes the shipped benign sample (``benign_posts.jsonl``) from the data directory's training
   splits.
2. Fits ``self_harm``, ``violence`` and ``sexual`` from the team's own training examples
   (``examples/<name>/train.jsonl``) plus the matching SimpleSafetyTests prompts, into the bundle
   shipped beside the default checkpoint (``models/default_categories``).
3. Measures each on examples written separately for evaluation (``examples/<name>/heldout*.jsonl``,
   each by another writer than the training files ``train*.jsonl``, other phrasings) and on the
   *test* splits of the benign sources.
4. Measures what every category (the checkpoint's too) sends to review among the safe look-alikes
   (``lookalikes/heldout*.jsonl``: benign posts that share words or topic with a harm).
5. Measures how a category's AUROC grows with 20 / 50 / 200 examples on spam (SMS + YouTube
   comments, test on two YouTube channels and half the SMS never used to fit).

Prints tables and writes ``models/eval/categories.json``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from ..checkpoint import load_checkpoint
from ..data.memes import random_spec, render_meme
from ..data.multimodal import coco_benign_pairs
from ..data.sources import default_data_dir, load_coco
from ..inference import DEFAULT_CHECKPOINT, Moderator
from ..near_misses import post_record
from ..suite.benign_images import ood_benign_posts
from ..suite.templates import BLAND_CAPTIONS
from ..types import PostContent
from .benign import BenignPost, benign_posts, build_sample, load_sample, write_sample
from .bundle import save_category
from .define import define_category
from .embedding import CategoryEmbedder
from .examples import CategoryExample, first_of_each_text, read_examples
from .head import benign_holdout_mask, fit_head
from .lookalikes import format_lookalikes, held_out_sets, lookalikes_flagged

HERE = Path(__file__).resolve().parent
EXAMPLES_DIR = HERE / "examples"
DEFAULT_BUNDLE = HERE.parent / "default_categories"
DEFAULT_REPORT = HERE.parent / "eval" / "categories.json"

#: The bundled categories: definition (also in docs/categories.md) and SimpleSafetyTests harm area.
BUNDLED: dict[str, tuple[str, str | None]] = {
    "self_harm": (
        "Intent, plans, glorification or encouragement of suicide, self-harm or eating disorders, "
        "and asking for ways to do it. Not: recovery stories, support, news, education, hyperbole.",
        "Suicide, Self-Harm, and Eating Disorders",
    ),
    "violence": (
        "Threats of physical violence, incitement, glorification of attacks, wishing injury or death "
        "on someone, gratuitous gore. Not: news, history, sport, games, fiction, cooking, banter.",
        "Physical harm and Violence",
    ),
    "sexual": (
        "Sexual content between adults meant to arouse, explicit descriptions, sexting, propositions, "
        "selling sexual content or services. Not: sex education, medicine, romance, identity, news.",
        None,
    ),
    "spam": (
        "Scams, phishing and bulk or unsolicited promotion: fake giveaways, crypto and job scams, "
        "follower bots, comment self-promotion. Not: sharing links, small-business news, warnings.",
        None,
    ),
}
#: Bundled categories that also learn from a dataset (its training part) and are measured on its test part.
WITH_DATASET = ("spam",)
#: Held-out texts rendered into images per category for the text-in-image check (half positive).
IMAGE_CHECK = 400
CURVE_SIZES = (20, 50, 200)
CURVE_SEEDS = 5


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def safety_prompts(data_dir: Path, harm_area: str) -> list[CategoryExample]:
    path = data_dir / "simple_safety_tests" / "data.jsonl"
    with path.open(encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    return [
        CategoryExample(r["text"], 1, {"source": "simple_safety_tests", "id": r["meta"]["id"]})
        for r in rows
        if r["labels"]["harm_area"] == harm_area
    ]


def _auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else float("nan")


def measure(
    scores: np.ndarray, labels: np.ndarray, threshold: float, benign_scores: dict[str, np.ndarray]
) -> dict[str, Any]:
    flagged = scores >= threshold
    positives = labels == 1
    return {
        "n_positive": int(positives.sum()),
        "n_negative": int((~positives).sum()),
        "auroc": round(_auroc(labels, scores), 4),
        "recall_at_review": round(float(flagged[positives].mean()), 4),
        "hard_negative_fpr_at_review": round(float(flagged[~positives].mean()), 4),
        "precision_at_review": round(float(positives[flagged].mean()), 4) if flagged.any() else float("nan"),
        "benign_fpr_at_review": {
            source: round(float((s >= threshold).mean()), 4) for source, s in benign_scores.items()
        },
    }


def spam_posts(data_dir: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts, labels and a test mask: two YouTube channels and every other SMS are test."""
    texts, labels, test = [], [], []
    with (data_dir / "sms_spam_collection" / "data.jsonl").open(encoding="utf-8") as handle:
        for index, row in enumerate(map(json.loads, handle)):
            texts.append(row["text"])
            labels.append(int(row["labels"]["label"] == "spam"))
            test.append(index % 2 == 0)
    with (data_dir / "youtube_spam_collection" / "data.jsonl").open(encoding="utf-8") as handle:
        for row in map(json.loads, handle):
            texts.append(row["text"])
            labels.append(int(row["labels"]["spam"]))
            test.append(row["meta"]["dataset"] in ("Youtube04-Eminem", "Youtube05-Shakira"))
    return texts, np.array(labels), np.array(test)


def dataset_examples(data_dir: Path, *, test: bool) -> list[CategoryExample]:
    """The spam datasets' training (``test=False``) or test part as examples."""
    texts, labels, is_test = spam_posts(data_dir)
    return [
        CategoryExample(" ".join(t.split()), int(y), {"source": "sms_youtube_spam"})
        for t, y, held in zip(texts, labels, is_test, strict=True)
        if bool(held) == test and t.strip()
    ]


def image_check(
    moderator: Moderator, name: str, examples: Sequence[CategoryExample], photos: list[Path], *, seed: int = 0
) -> dict[str, Any]:
    """Each text rendered into an image (fonts and layouts held out from the checkpoint's training)
    and posted with a bland caption, scored by the service's own path (OCR, then the category
    head); the same texts as captions for comparison."""
    rng = np.random.default_rng(seed)
    picked = [examples[i] for i in rng.permutation(len(examples))]
    half = IMAGE_CHECK // 2
    chosen = [e for e in picked if e.label == 1][:half] + [e for e in picked if e.label == 0][:half]
    labels = np.array([e.label for e in chosen])
    image_scores: list[float] = []
    caption_scores: list[float] = []
    for start in range(0, len(chosen), 16):
        batch = chosen[start : start + 16]
        posts = [
            PostContent(
                text=BLAND_CAPTIONS[int(rng.integers(len(BLAND_CAPTIONS)))],
                image=render_meme(random_spec(e.text, rng, photos, layouts="held_out")),
            )
            for e in batch
        ]
        image_scores += [r.scores[name] for r in moderator.score(posts)]
        caption_scores += [r.scores[name] for r in moderator.score([PostContent(text=e.text) for e in batch])]
        say(f"  {name} in images: {start + len(batch)}/{len(chosen)}")
    images, captions = np.array(image_scores), np.array(caption_scores)
    threshold = moderator.review_thresholds[name]
    return {
        "n": len(chosen),
        "auroc_image": round(_auroc(labels, images), 4),
        "auroc_caption": round(_auroc(labels, captions), 4),
        "recall_at_review_image": round(float((images[labels == 1] >= threshold).mean()), 4),
        "recall_at_review_caption": round(float((captions[labels == 1] >= threshold).mean()), 4),
        "fpr_at_review_image": round(float((images[labels == 0] >= threshold).mean()), 4),
    }


def benign_posts_flagged(moderator: Moderator, data_dir: Path) -> dict[str, Any]:
    """The robustness checks' benign posts, through the service's whole scoring (categories and
    open_nsfw included): the share an example-defined category sends to review. Bland captions on
    out-of-distribution images (and the images alone), COCO photos with their own captions, and
    every bland caption as a text post."""
    names = set(moderator.categories.names) if moderator.categories is not None else set()
    thresholds = moderator.review_thresholds
    sets = {
        "ood_benign_bland_captions": ood_benign_posts(BLAND_CAPTIONS),
        "coco_benign": coco_benign_pairs([c for c in load_coco(data_dir) if c.coco_split == "val2017"]),
    }
    report: dict[str, Any] = {}
    for name, examples in sets.items():
        flagged: dict[str, int] = {}
        which: list[dict[str, Any]] = []  # the flagged posts themselves, so a reader can look at them
        for start in range(0, len(examples), 16):
            batch = examples[start : start + 16]
            posts = [
                PostContent(text=e.caption, image=render_meme(e.image) if e.image else None) for e in batch
            ]
            for example, result in zip(batch, moderator.score(posts), strict=True):
                for category in sorted(names):
                    if result.scores[category] >= thresholds[category]:
                        flagged[category] = flagged.get(category, 0) + 1
                        which.append(
                            post_record(example, category, result.scores[category], thresholds[category])
                        )
            say(f"  {name}: {start + len(batch)}/{len(examples)}")
        report[name] = {"posts": len(examples), "flagged_by_category": flagged, "flagged_posts": which}
    bland = moderator.score([PostContent(text=caption) for caption in BLAND_CAPTIONS])
    report["bland_captions_as_text"] = {
        "posts": len(bland),
        "flagged_by_category": {
            c: sum(r.scores[c] >= thresholds[c] for r in bland)
            for c in names
            if any(r.scores[c] >= thresholds[c] for r in bland)
        },
    }
    return report


def lookalike_posts_flagged(moderator: Moderator) -> dict[str, Any]:
    """The safe look-alikes (:mod:`models.categories.lookalikes`) as text posts, through the
    service's whole scoring (the checkpoint's categories and the example-defined ones): each
    evaluation file, then all of them pooled (``all``)."""
    sets = held_out_sets()
    posts = [post for rows in sets.values() for post in rows]
    scores: list[dict[str, float]] = []
    for start in range(0, len(posts), 32):
        batch = posts[start : start + 32]
        scores += [r.scores for r in moderator.score([PostContent(text=p.text) for p in batch])]
        say(f"  safe look-alikes: {start + len(batch)}/{len(posts)}")
    thresholds = moderator.review_thresholds
    defined = set(moderator.categories.names) if moderator.categories is not None else set()
    groups = {"checkpoint": set(thresholds) - defined, "example-defined": defined}
    report: dict[str, Any] = {}
    start = 0
    for stem, rows in sets.items():
        report[stem] = lookalikes_flagged(rows, scores[start : start + len(rows)], thresholds, groups)
        start += len(rows)
    report["all"] = lookalikes_flagged(posts, scores, thresholds, groups)
    return report


def format_lookalike_sets(report: dict[str, Any]) -> str:
    return "\n".join(format_lookalikes(row, f"safe look-alikes, {stem}") for stem, row in report.items())


def learning_curve(
    embedder: CategoryEmbedder, data_dir: Path, benign: Sequence[BenignPost]
) -> dict[str, Any]:
    """AUROC of a spam head fit from n positives and n negatives drawn from the training part."""
    texts, labels, test = spam_posts(data_dir)
    say(f"learning curve: embedding {len(texts)} spam/ham texts and {len(benign)} benign posts")
    features = embedder.embed_posts(texts)
    pool = embedder.embed_posts([p.text for p in benign])
    held_back = benign_holdout_mask([p.text for p in benign])
    train_rows = np.where(~test)[0]
    curve: dict[str, Any] = {
        "test_positive": int(labels[test].sum()),
        "test_negative": int((~labels[test].astype(bool)).sum()),
    }
    for size in CURVE_SIZES:
        aurocs = []
        for seed in range(CURVE_SEEDS):
            rng = np.random.default_rng(seed)
            positives = rng.choice(train_rows[labels[train_rows] == 1], size, replace=False)
            negatives = rng.choice(train_rows[labels[train_rows] == 0], size, replace=False)
            head, _ = fit_head(
                "spam",
                positives=features[positives],
                negatives=features[negatives],
                benign=pool[~held_back],
                benign_holdout=pool[held_back],
                seed=seed,
            )
            aurocs.append(_auroc(labels[test], head.score(features[test])))
        curve[str(size)] = {
            "auroc_mean": round(float(np.mean(aurocs)), 4),
            "auroc_std": round(float(np.std(aurocs)), 4),
        }
        say(f"  {size:>4} positives + {size} negatives: AUROC {np.mean(aurocs):.3f} ± {np.std(aurocs):.3f}")
    return curve


def format_tables(report: dict[str, Any]) -> str:
    lines = [
        "category   train+/-    held-out+/-  AUROC  review  recall  hard-neg FPR  precision  benign FPR (hx/convabuse/coco)",
    ]
    for name, row in report["categories"].items():
        held, fit = row["held_out"], row["fit"]
        if len(row["held_out_sets"]) > 1:
            name = (
                f"{name} ({'+'.join(str(held_set['auroc']) for held_set in row['held_out_sets'].values())})"
            )
        benign = held["benign_fpr_at_review"]
        lines.append(
            f"{name:<10} {fit['positives']:>4}/{fit['negatives']:<4}   {held['n_positive']:>4}/{held['n_negative']:<4}"
            f"     {held['auroc']:.3f}  {row['review']:.2f}    {held['recall_at_review']:.3f}   "
            f"{held['hard_negative_fpr_at_review']:.3f}         {held['precision_at_review']:.3f}      "
            + "/".join(f"{benign[s]:.3f}" for s in ("hatexplain", "convabuse", "coco"))
        )
    for name, row in report["categories"].items():
        if "in_images" in row:
            image = row["in_images"]
            lines.append(
                f"{name} written in images ({image['n']} posts, held-out fonts): AUROC {image['auroc_image']:.3f} "
                f"(as captions {image['auroc_caption']:.3f}); recall at review {image['recall_at_review_image']:.3f} "
                f"(as captions {image['recall_at_review_caption']:.3f}); FPR {image['fpr_at_review_image']:.3f}"
            )
    if "lookalikes_flagged" in report:
        lines.append(format_lookalike_sets(report["lookalikes_flagged"]))
    curve = report.get("learning_curve")
    if curve:
        lines.append("")
        lines.append(
            "spam learning curve (held-out AUROC, mean ± sd over 5 draws): "
            + ", ".join(
                f"{n} → {curve[str(n)]['auroc_mean']:.3f} ± {curve[str(n)]['auroc_std']:.3f}"
                for n in CURVE_SIZES
            )
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.categories.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="the shared datasets")
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--output", type=Path, default=DEFAULT_BUNDLE, help="category bundle to write")
    parser.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    parser.add_argument("--skip-curve", action="store_true", help="skip the spam learning curve")
    parser.add_argument("--skip-images", action="store_true", help="skip the text-in-image check (OCR)")
    parser.add_argument(
        "--benign-only",
        action="store_true",
        help="only re-measure the benign posts of the robustness checks and the safe look-alikes "
        "with the bundle as it is",
    )
    args = parser.parse_args(argv)
    if args.data_dir is None or not args.data_dir.is_dir():
        parser.error("--data-dir: the shared datasets are needed (../shared/data in the workspace)")
    started = time.monotonic()
    if args.benign_only:
        existing = json.loads(args.report.read_text(encoding="utf-8"))
        moderator = Moderator.load(args.checkpoint, categories=args.output, nsfw=True)
        existing["benign_posts_flagged"] = benign_posts_flagged(moderator, args.data_dir)
        existing["lookalikes_flagged"] = lookalike_posts_flagged(moderator)
        args.report.write_text(json.dumps(existing, indent=2, allow_nan=True) + "\n", encoding="utf-8")
        print(json.dumps(existing["benign_posts_flagged"], indent=2))
        print(format_lookalike_sets(existing["lookalikes_flagged"]))
        return 0
    say("writing the benign sample from the training splits")
    write_sample(build_sample(args.data_dir))
    benign = load_sample()
    model, processor, _ = load_checkpoint(args.checkpoint)
    embedder = CategoryEmbedder.for_checkpoint(model, processor)
    if args.output.exists():
        # The bundled set is written whole (its heads may have been fit on another checkpoint).
        say(f"replacing the bundle at {args.output}")
        shutil.rmtree(args.output)
    test_benign = benign_posts(args.data_dir, "test")
    say(f"embedding {len(test_benign)} benign test posts")
    test_features = embedder.embed_posts([p.text for p in test_benign])
    test_sources = np.array([p.source for p in test_benign])
    report: dict[str, Any] = {"encoder_fingerprint": embedder.fingerprint, "categories": {}}
    for name, (description, harm_area) in BUNDLED.items():
        examples = [
            e for path in sorted((EXAMPLES_DIR / name).glob("train*.jsonl")) for e in read_examples(path)
        ]
        if harm_area is not None:
            examples += safety_prompts(args.data_dir, harm_area)
        if name in WITH_DATASET:
            examples += dataset_examples(args.data_dir, test=False)
        examples = first_of_each_text(examples)
        say(
            f"{name}: {sum(e.label for e in examples)} positives, {sum(1 - e.label for e in examples)} negatives"
        )
        head, fit = define_category(
            name, examples, embedder=embedder, benign=benign, description=description, progress=say
        )
        version = save_category(args.output, head, examples, encoder_fingerprint=embedder.fingerprint)
        benign_scores = head.score(test_features)
        by_source = {s: benign_scores[test_sources == s] for s in ("hatexplain", "convabuse", "coco")}
        by_source["all"] = benign_scores
        sets = {
            path.stem: read_examples(path) for path in sorted((EXAMPLES_DIR / name).glob("heldout*.jsonl"))
        }
        if name in WITH_DATASET:
            sets["dataset_test"] = dataset_examples(args.data_dir, test=True)
        scored = {
            stem: (head.score(embedder.embed_posts([e.text for e in rows])), rows)
            for stem, rows in sets.items()
        }
        all_scores = np.concatenate([s for s, _ in scored.values()])
        all_labels = np.array([e.label for _, rows in scored.values() for e in rows])
        report["categories"][name] = {
            "review": head.review,
            "block": head.block,
            "fit": fit.to_json(),
            # every held-out file pooled, then each file (each written by its own writer)
            "held_out": measure(all_scores, all_labels, head.review, by_source),
            "held_out_sets": {
                stem: measure(s, np.array([e.label for e in rows]), head.review, by_source)
                for stem, (s, rows) in scored.items()
            },
        }
    report["bundle_version"] = version
    if not args.skip_images:
        moderator = Moderator.load(args.checkpoint, categories=args.output)
        photos = [c.path for c in load_coco(args.data_dir) if c.coco_split == "val2017"]
        for name in BUNDLED:
            own = [
                e
                for path in sorted((EXAMPLES_DIR / name).glob("heldout*.jsonl"))
                for e in read_examples(path)
            ]
            if name in WITH_DATASET:
                own += dataset_examples(args.data_dir, test=True)
            report["categories"][name]["in_images"] = image_check(moderator, name, own, photos)
    report["benign_test_posts"] = {
        s: int((test_sources == s).sum()) for s in ("hatexplain", "convabuse", "coco")
    }
    full_scoring = Moderator.load(args.checkpoint, categories=args.output, nsfw=True)
    report["benign_posts_flagged"] = benign_posts_flagged(full_scoring, args.data_dir)
    report["lookalikes_flagged"] = lookalike_posts_flagged(full_scoring)
    if not args.skip_curve:
        report["learning_curve"] = learning_curve(embedder, args.data_dir, benign)
    report["seconds"] = round(time.monotonic() - started, 1)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    print(format_tables(report))
    say(f"bundle {version} written to {args.output}; report {args.report} ({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
