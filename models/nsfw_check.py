"""How often open_nsfw flags benign images: ``python -m models.nsfw_check``.

No labelled sexual images exist in this project, so open_nsfw's recall cannot be measured here;
what can be measured is what a precision-first threshold needs: its scores on every benign image
set we have, and its cost per image. Prints a table and writes ``models/eval/nsfw.json``:

- ``coco``: the COCO mini subset's photos (people, food, animals, streets; train and val);
- ``ood``: the out-of-distribution benign set (scikit-image and matplotlib samples, icons,
  procedural art, document screenshots; models/suite/benign_images.py);
- ``memes``: HateXplain's normal test posts rendered as memes (classic and held-out layouts, on
  photos and plain or gradient backgrounds);
- ``skin_tones``: flat and gradient images in skin-like colours (the model's known weak spot:
  a flat skin-coloured image scores ~0.2);
- ``samples``: the images shipped for the demo.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .data.memes import random_spec, render_meme
from .data.sources import default_data_dir, load_coco, load_hatexplain
from .nsfw import BLOCK_AT, REVIEW_AT, NsfwDetector
from .suite.benign_images import ood_benign_images

DEFAULT_REPORT = Path(__file__).resolve().parent / "eval" / "nsfw.json"
SAMPLES = Path(__file__).resolve().parents[1] / "devtools" / "samples" / "images"
#: The issue's bound: at most this share of any benign image set may reach the review point.
MAX_BENIGN_FPR = 0.005


def skin_tone_images(count: int, seed: int = 0) -> list[Image.Image]:
    """Flat colours and two-colour gradients drawn around skin tones, various sizes."""
    rng = np.random.default_rng(seed)
    tones = np.array(
        [[255, 224, 196], [234, 192, 134], [224, 172, 105], [198, 134, 66], [141, 85, 36], [96, 56, 19]]
    )
    images = []
    for index in range(count):
        width, height = int(rng.integers(160, 640)), int(rng.integers(160, 640))
        a = np.clip(tones[rng.integers(len(tones))] + rng.normal(0, 12, 3), 0, 255)
        if index % 2 == 0:
            pixels = np.broadcast_to(a, (height, width, 3))
        else:
            b = np.clip(tones[rng.integers(len(tones))] + rng.normal(0, 12, 3), 0, 255)
            ramp = np.linspace(0, 1, width)[None, :, None]
            pixels = np.broadcast_to(a * (1 - ramp) + b * ramp, (height, width, 3))
        images.append(Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)))
    return images


def benign_sets(data_dir: Path | None, *, memes: int, seed: int = 0) -> dict[str, list[Image.Image]]:
    sets: dict[str, list[Image.Image]] = {}
    if data_dir is not None:
        photos = [c.path for c in load_coco(data_dir)]
        sets["coco"] = [Image.open(p).convert("RGB") for p in photos]
        rng = np.random.default_rng(seed)
        normal = [
            e.text for e in load_hatexplain(data_dir) if e.split == "test" and e.source_label == "normal"
        ]
        picked = [normal[i] for i in rng.permutation(len(normal))[:memes]]
        sets["memes"] = [
            render_meme(
                random_spec(text, rng, photos, gradients=True, layouts="held_out" if i % 2 else "classic")
            )
            for i, text in enumerate(picked)
        ]
    sets["ood"] = [render_meme(image.spec) for image in ood_benign_images(seed=seed)]
    sets["skin_tones"] = skin_tone_images(100, seed)
    sets["samples"] = [
        Image.open(p).convert("RGB") for p in sorted(SAMPLES.glob("benign_*")) if p.suffix != ".gif"
    ]
    return sets


def rate(scores: np.ndarray, threshold: float) -> float:
    return float((scores >= threshold).mean()) if len(scores) else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.nsfw_check", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="the shared datasets")
    parser.add_argument("--memes", type=int, default=400, help="benign memes to render (default 400)")
    parser.add_argument("--output", type=Path, default=DEFAULT_REPORT)
    args = parser.parse_args(argv)
    detector = NsfwDetector(threads=1)
    sets = benign_sets(args.data_dir, memes=args.memes)
    report: dict[str, Any] = {"review_at": REVIEW_AT, "block_at": BLOCK_AT, "sets": {}}
    print(f"{'set':<11} {'images':>6}  {'p50':>6} {'p99':>6} {'max':>6}  {'≥ review':>8} {'≥ block':>8}")
    seconds, count = 0.0, 0
    for name, images in sets.items():
        started = time.perf_counter()
        scores = np.concatenate([detector.score(images[i : i + 8]) for i in range(0, len(images), 8)])
        seconds += time.perf_counter() - started
        count += len(images)
        row = {
            "images": len(images),
            "p50": round(float(np.median(scores)), 4),
            "p99": round(float(np.quantile(scores, 0.99)), 4),
            "max": round(float(scores.max()), 4),
            "flagged_at_review": round(rate(scores, REVIEW_AT), 4),
            "flagged_at_block": round(rate(scores, BLOCK_AT), 4),
            "within_bound": rate(scores, REVIEW_AT) <= MAX_BENIGN_FPR,
        }
        report["sets"][name] = row
        print(
            f"{name:<11} {len(images):>6}  {row['p50']:>6.3f} {row['p99']:>6.3f} {row['max']:>6.3f}"
            f"  {row['flagged_at_review']:>8.1%} {row['flagged_at_block']:>8.1%}"
        )
    report["ms_per_image_one_thread"] = round(1000 * seconds / max(count, 1), 1)
    report["all_within_bound"] = all(row["within_bound"] for row in report["sets"].values())
    print(
        f"open_nsfw: {report['ms_per_image_one_thread']} ms per image (one thread, batches of 8, preprocessing included)"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.output}", file=sys.stderr)
    return 0 if report["all_within_bound"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
