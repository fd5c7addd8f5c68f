"""OCR on RapidOCR's graphs as shipped against :mod:`models.ocr_graph`'s simplification, one image at a time.

    .venv/bin/python -m bench.ocr_graphs [--memes 60] [--threads 1]

Renders benchmark-like memes (the generator of ``bench.posts``, its own seed), reads each with
both engines (the service's OCR settings by default: detection capped at 640 px, one line per
recognition call, no angle classifier), in
alternating order so load drifts hit both alike, and reports the time per image (median, mean),
how many texts are identical, and the share of the rendered words each engine read back.
Writes bench/results/ocr_graphs.json and prints a table.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.posts import _encode, _photo_files, load_texts
from models.data.memes import random_spec, render_meme
from models.ocr import OcrEngine

RESULTS = Path(__file__).resolve().parent / "results"


def log(message: str) -> None:
    print(f"[ocr_graphs {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def memes(count: int, seed: int) -> list[tuple[str, Image.Image]]:
    """(rendered text, decoded image) pairs, encoded as the benchmark encodes them."""
    rng, np_rng = random.Random(seed), np.random.default_rng(seed)
    texts, photos = load_texts(), [Path(p) for p in _photo_files()]
    out: list[tuple[str, Image.Image]] = []
    for _ in range(count):
        text = rng.choice(texts)
        image = Image.open(io.BytesIO(_encode(render_meme(random_spec(text, np_rng, photos)), rng)))
        image.load()
        out.append((text, image))
    return out


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_recall(truth: str, read: str) -> float:
    """Share of the rendered words found in what OCR read."""
    wanted, found = words(truth), set(words(read))
    return sum(word in found for word in wanted) / max(1, len(wanted))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ocr_graphs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--memes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime threads (see bench.run)")
    parser.add_argument("--detection-max-side", type=int, default=640)
    parser.add_argument("--recognition-batch", type=int, default=1, help="0: RapidOCR's 6")
    parser.add_argument("--output", type=Path, default=RESULTS / "ocr_graphs.json")
    args = parser.parse_args(argv)
    if args.memes < 1:
        parser.error("--memes must be at least 1")

    log(f"rendering {args.memes} memes")
    samples = memes(args.memes, args.seed)
    engines = {
        name: OcrEngine(
            detection_max_side=args.detection_max_side,
            angle_classifier=False,
            threads=args.threads,
            simplified_graphs=simplified,
            recognition_batch=args.recognition_batch or None,
        )
        for name, simplified in (("shipped", False), ("simplified", True))
    }
    for engine in engines.values():
        engine.read(samples[0][1])  # load and warm up
    seconds: dict[str, list[float]] = {name: [] for name in engines}
    read: dict[str, list[str]] = {name: [] for name in engines}
    loads = []
    for index, (_, image) in enumerate(samples):
        order = list(engines) if index % 2 == 0 else list(reversed(engines))
        for name in order:
            started = time.perf_counter()
            read[name].append(engines[name].read(image))
            seconds[name].append(time.perf_counter() - started)
        loads.append(os.getloadavg()[0])
        if (index + 1) % 10 == 0:
            log(f"{index + 1}/{len(samples)} memes")

    result: dict[str, Any] = {
        "memes": len(samples),
        "threads": args.threads,
        "seed": args.seed,
        "detection_max_side": args.detection_max_side,
        "recognition_batch": args.recognition_batch or 6,
    }
    for name in engines:
        result[name] = {
            "median_ms": round(1000 * statistics.median(seconds[name]), 1),
            "mean_ms": round(1000 * statistics.mean(seconds[name]), 1),
            "word_recall": round(
                statistics.mean(word_recall(t, r) for (t, _), r in zip(samples, read[name], strict=True)), 4
            ),
        }
    result["speedup_median"] = round(result["shipped"]["median_ms"] / result["simplified"]["median_ms"], 2)
    result["identical_texts"] = sum(a == b for a, b in zip(read["shipped"], read["simplified"], strict=True))
    result["load_average_1min_mean"] = round(statistics.mean(loads), 2)

    print(f"{'graphs':<12} {'median ms':>10} {'mean ms':>9} {'word recall':>12}")
    for name in engines:
        row = result[name]
        print(f"{name:<12} {row['median_ms']:>10.1f} {row['mean_ms']:>9.1f} {row['word_recall']:>12.4f}")
    print(
        f"speed-up (median) {result['speedup_median']:.2f} x; "
        f"identical texts {result['identical_texts']}/{len(samples)}"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
