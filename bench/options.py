"""Each speed option of the model measured alone: its gain on the bare model and its accuracy delta.

    .venv/bin/python -m bench.options [--posts 300] [--eval-texts 300] [--eval-mixed 120] [--checkpoint DIR]

1. OCR gate: recall of "has text" on rendered memes, share of plain photos skipped, ms per image.
2. Speed: ``Moderator.score`` on the benchmark mix (same generator as bench.run) at the service's
   batch size, with each option alone and with the service's defaults, in one process.
3. Accuracy: a small held-out set scored through ``Moderator.score`` (HateXplain test texts and
   composed multimodal test posts, real OCR once, shared by every variant): toxic AUROC, macro-F1
   at the checkpoint's thresholds, and how many posts change their flagged/not-flagged outcome.
   Needs the shared data folder (``models.data.sources.default_data_dir``).

Writes bench/results/options.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from bench.posts import build_mix, load_photos, load_texts
from models.data.memes import random_spec, render_meme
from models.data.multimodal import compose
from models.data.sources import default_data_dir, load_coco, load_text_corpus
from models.image_decoding import decode_image
from models.inference import DEFAULT_CHECKPOINT, InferenceOptions, Moderator
from models.metrics import auroc, macro_f1_at
from models.text_gate import DEFAULT_THRESHOLD, text_likelihood
from models.types import PostContent

RESULTS = Path(__file__).resolve().parent / "results"
SERVICE_DEFAULTS = InferenceOptions(
    ocr_gate_threshold=DEFAULT_THRESHOLD,
    cache_entries=4096,
    ocr_detection_max_side=640,
    ocr_simplified_graphs=True,
    ocr_recognition_batch=1,
    text_runtime="onnxruntime",
    text_chunk=4,
    image_chunk=2,
)
VARIANTS: dict[str, InferenceOptions] = {
    "plain": InferenceOptions(),
    "ocr_gate": InferenceOptions(ocr_gate_threshold=DEFAULT_THRESHOLD),
    "ocr_fast_detection": InferenceOptions(ocr_detection_max_side=640),
    "ocr_detection_480": InferenceOptions(ocr_detection_max_side=480),
    "ocr_simplified_graphs": InferenceOptions(ocr_simplified_graphs=True),
    "ocr_recognition_batch_1": InferenceOptions(ocr_recognition_batch=1),
    "cache": InferenceOptions(cache_entries=4096),
    "ocr_overlap": InferenceOptions(overlap_ocr=True),
    "quantize_text": InferenceOptions(quantize_text=True),
    "text_onnxruntime": InferenceOptions(text_runtime="onnxruntime"),
    "text_chunk_4": InferenceOptions(text_chunk=4),
    "image_chunk_2": InferenceOptions(image_chunk=2),
    # the service's defaults until 28 Nov 2026: RapidOCR's graphs as shipped, 6 lines a call
    "service_defaults_before": replace(
        SERVICE_DEFAULTS,
        ocr_simplified_graphs=False,
        ocr_recognition_batch=None,
        text_runtime="torch",
        text_chunk=None,
        image_chunk=None,
    ),
    # the service's defaults until the text tower moved to onnxruntime (28 Nov 2026, later)
    "service_defaults_torch_text": replace(
        SERVICE_DEFAULTS, text_runtime="torch", text_chunk=None, image_chunk=None
    ),
    # the service's defaults until images were encoded two at a time (28 Nov 2026, session 7)
    "service_defaults_whole_image_batch": replace(SERVICE_DEFAULTS, image_chunk=None),
    "service_defaults+detection_480": replace(SERVICE_DEFAULTS, ocr_detection_max_side=480),
    "service_defaults": SERVICE_DEFAULTS,
    "service_defaults+overlap": replace(SERVICE_DEFAULTS, overlap_ocr=True),
    "service_defaults+quantize": replace(SERVICE_DEFAULTS, quantize_text=True, text_runtime="torch"),
}


def log(message: str) -> None:
    print(f"[options {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def gate_recall(memes: int) -> dict[str, Any]:
    data = default_data_dir()
    photo_paths = [c.path for c in load_coco(data)] if data is not None else []
    texts = load_texts()
    rng = np.random.default_rng(11)
    meme_images = [render_meme(random_spec(texts[i * 7], rng, photo_paths)) for i in range(memes)]
    photo_images = [Image.open(p).convert("RGB") for p in photo_paths]
    started = time.perf_counter()
    meme_scores = [text_likelihood(m) for m in meme_images]
    per_image_ms = 1000 * (time.perf_counter() - started) / max(1, len(meme_images))
    photo_scores = [text_likelihood(p) for p in photo_images]
    return {
        "threshold": DEFAULT_THRESHOLD,
        "memes": len(meme_scores),
        "meme_recall": float(np.mean([s >= DEFAULT_THRESHOLD for s in meme_scores])),
        "min_meme_score": round(min(meme_scores), 4),
        "photos": len(photo_scores),
        "photos_skipped": float(np.mean([s < DEFAULT_THRESHOLD for s in photo_scores]))
        if photo_scores
        else None,
        "gate_ms_per_image": round(per_image_ms, 2),
    }


def speed(checkpoint: Path, posts: int, batch: int) -> dict[str, Any]:
    """Posts/s of every variant on the same mix, interleaved batch by batch so load drifts hit all alike."""
    texts, photos = load_texts(), load_photos()
    mix = build_mix(posts, seed=1, prefix="mix", texts=texts, photos=photos)
    contents = [PostContent(text=p.text, image=decode_image(p.image) if p.image else None) for p in mix]
    moderators = {name: Moderator.load(checkpoint, options=options) for name, options in VARIANTS.items()}
    for moderator in moderators.values():
        moderator.score(contents[:2])
        moderator.clear_caches()
    seconds = dict.fromkeys(moderators, 0.0)
    names = list(moderators)
    loads = []
    for round_, start in enumerate(range(0, len(contents), batch)):
        chunk = contents[start : start + batch]
        loads.append(os.getloadavg()[0])
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # rotate the order
            started = time.perf_counter()
            moderators[name].score(chunk)
            seconds[name] += time.perf_counter() - started
        if round_ % 3 == 0:
            log(f"speed: {start + len(chunk)}/{len(contents)} posts")
    out: dict[str, Any] = {
        name: {"posts_per_s": round(len(contents) / spent, 2), "seconds": round(spent, 1)}
        for name, spent in seconds.items()
    }
    out["load_average_1min_mean"] = round(float(np.mean(loads)), 2)
    out["posts"] = len(contents)
    return out


def accuracy(checkpoint: Path, n_texts: int, n_mixed: int) -> dict[str, Any]:
    data = default_data_dir()
    if data is None:
        return {"skipped": "the shared data folder is not available"}
    corpus = [e for e in load_text_corpus(data) if e.split == "test"]
    hatexplain = [e for e in corpus if e.source == "hatexplain"]
    rng = np.random.default_rng(5)
    chosen = [hatexplain[i] for i in rng.permutation(len(hatexplain))[:n_texts]]
    coco = load_coco(data)
    photos = [c.path for c in coco if c.coco_split == "val2017"]
    captions = [cap for c in coco if c.coco_split == "val2017" for cap in c.captions]
    pool = [e for e in corpus if e.source in ("hatexplain", "harmeme")]
    mixed = compose(pool, photos, captions, count=n_mixed, split="test", seed=2027)
    posts = [PostContent(text=e.text) for e in chosen]
    posts += [
        PostContent(text=e.caption, image=render_meme(e.image) if e.image is not None else None)
        for e in mixed
    ]
    # Posts whose caption is empty and that have no image cannot be scored: compose never makes them.
    targets = np.array([e.targets[-1] for e in chosen] + [e.targets[-1] for e in mixed])
    plain = Moderator.load(checkpoint, options=VARIANTS["plain"])
    thresholds = plain.review_thresholds
    labels = plain.labels

    def run(moderator: Moderator, inputs: Sequence[PostContent]) -> tuple[np.ndarray, list[str | None]]:
        scores, ocr = [], []
        for start in range(0, len(inputs), 32):
            for result in moderator.score(inputs[start : start + 32]):
                scores.append([result.scores[label] for label in labels])
                ocr.append(result.ocr_text)
        return np.array(scores), ocr

    log(f"accuracy: scoring {len(posts)} posts with real OCR (once per OCR setting)")
    base_scores, base_ocr = run(plain, posts)
    # OCR text per OCR setting (detection cap, simplified graphs, recognition batch), read once
    # each; every variant reuses the text of its setting (exact: OCR is deterministic), except
    # where the gate would have skipped OCR — there it gets no image text, as in production.
    ocr_by_setting: dict[tuple[int | None, bool, int | None], list[str | None]] = {
        (None, False, None): base_ocr
    }

    def ocr_texts_for(options: InferenceOptions) -> list[str | None]:
        setting = (
            options.ocr_detection_max_side,
            options.ocr_simplified_graphs,
            options.ocr_recognition_batch,
        )
        if setting not in ocr_by_setting:
            reader = Moderator.load(
                checkpoint,
                options=replace(
                    VARIANTS["plain"],
                    ocr_detection_max_side=setting[0],
                    ocr_simplified_graphs=setting[1],
                    ocr_recognition_batch=setting[2],
                ),
            )
            log(f"accuracy: reading the images with OCR setting {setting}")
            _, ocr_by_setting[setting] = run(reader, posts)
        return ocr_by_setting[setting]

    out: dict[str, Any] = {}
    toxic = labels.index("toxic")
    flag_thresholds = np.array([thresholds.get(label, 0.5) for label in labels])
    base_flags = (base_scores >= flag_thresholds).any(axis=1)
    for name, options in VARIANTS.items():
        ocr_texts = base_ocr
        if name == "plain":
            scores = base_scores
        else:
            moderator = Moderator.load(checkpoint, options=options)
            ocr_texts = ocr_texts_for(options)
            inputs = []
            for post, text in zip(posts, ocr_texts, strict=True):
                if post.image is None:
                    inputs.append(post)
                    continue
                gated = (
                    options.ocr_gate_threshold is not None
                    and text_likelihood(post.image) < options.ocr_gate_threshold
                )
                inputs.append(
                    PostContent(text=post.text, image=post.image, ocr_text="" if gated else (text or ""))
                )
            scores, _ = run(moderator, inputs)
        flags = (scores >= flag_thresholds).any(axis=1)
        out[name] = {
            "toxic_auroc": round(auroc(targets, scores[:, toxic]), 4),
            "toxic_macro_f1": round(macro_f1_at(targets, scores[:, toxic], thresholds.get("toxic", 0.5)), 4),
            "max_abs_score_delta": round(float(np.abs(scores - base_scores).max()), 4),
            "flag_changes": int((flags != base_flags).sum()),
            # images whose OCR text differs from RapidOCR's default (before any gate)
            "ocr_text_changes": sum(a != b for a, b in zip(ocr_texts, base_ocr, strict=True)),
        }
        log(f"accuracy {name}: {out[name]}")
    out["posts"] = {"hatexplain_texts": len(chosen), "mixed_multimodal": len(mixed)}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    global VARIANTS
    parser = argparse.ArgumentParser(
        prog="python -m bench.options",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--posts", type=int, default=300, help="posts of the mix for the speed comparison")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--eval-texts", type=int, default=300)
    parser.add_argument("--eval-mixed", type=int, default=120)
    parser.add_argument("--gate-memes", type=int, default=300)
    parser.add_argument("--skip", nargs="*", default=[], choices=["gate", "speed", "accuracy"])
    parser.add_argument(
        "--variants", nargs="*", choices=list(VARIANTS), help="measure only these (plain is always measured)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch and OCR threads (see bench.run)")
    parser.add_argument("--output", type=Path, default=RESULTS / "options.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    chosen = {"plain", *args.variants} if args.variants else set(VARIANTS)
    VARIANTS = {
        name: replace(options, ocr_threads=args.threads)
        for name, options in VARIANTS.items()
        if name in chosen
    }
    result: dict[str, Any] = {
        "checkpoint": str(args.checkpoint),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }
    if "gate" not in args.skip:
        result["ocr_gate"] = gate_recall(args.gate_memes)
        log(f"gate: {result['ocr_gate']}")
    if "speed" not in args.skip:
        result["speed"] = speed(args.checkpoint, args.posts, args.batch)
    if "accuracy" not in args.skip:
        result["accuracy"] = accuracy(args.checkpoint, args.eval_texts, args.eval_mixed)
    result["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
