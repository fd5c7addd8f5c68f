"""Rebuild a checkpoint's OCR vocabulary from its training data, without retraining.

``python -m models.rebuild_ocr_vocabulary --version NEW [--checkpoint DIR] [--output DIR]``

The vocabulary (``ocr_vocabulary.txt``) ranks the words the OCR repair reads image text with
(models/ocr_spelling.py). ``models.train`` builds it from the training texts less the obfuscated
ones, followed by the general English words they lack (:func:`models.train.ocr_vocabulary`,
:mod:`models.english_words`); checkpoints trained before took the obfuscated texts in too, whose
spellings then passed for words, or lacked the English words, so that a word the tweets never use
was cut into pieces. This command rebuilds it the way training does now (the data directory,
seed and user data of the checkpoint's own training record, the other options at their
defaults) and writes a copy of the checkpoint with the new vocabulary under a new version string. The weights are copied unchanged; decisions record the version, so
the audit trail tells the two apart. It prints how the vocabulary changed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from .checkpoint import load_checkpoint, save_checkpoint
from .inference import DEFAULT_CHECKPOINT
from .preprocessing import ModerationProcessor
from .train import ocr_vocabulary, parse_args, text_corpus

log = logging.getLogger("models.rebuild_ocr_vocabulary")


def training_arguments(training: dict[str, object], data_dir: Path | None) -> list[str]:
    """``models.train`` arguments that reproduce the checkpoint's source texts."""
    argv = ["--seed", str(training.get("seed", 13))]
    source = data_dir if data_dir is not None else training.get("data_dir")
    argv += ["--data-dir", str(source)] if source else ["--no-shared-data"]
    if training.get("train_jsonl"):
        argv += ["--train-jsonl", str(training["train_jsonl"])]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.rebuild_ocr_vocabulary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument(
        "--output", type=Path, help="where the new checkpoint goes (default: replace --checkpoint)"
    )
    parser.add_argument("--version", required=True, help="the new checkpoint's version string")
    parser.add_argument(
        "--data-dir", type=Path, help="the training data (default: the folder the checkpoint was trained on)"
    )
    ns = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    model, processor, _ = load_checkpoint(ns.checkpoint)
    if ns.version == model.config.version:
        parser.error(f"--version must differ from the checkpoint's own ({model.config.version})")
    args = parse_args(training_arguments(model.config.training, ns.data_dir))
    if args.data_dir is not None and not args.data_dir.is_dir():
        parser.error(f"training data folder {args.data_dir} not found: pass --data-dir")
    corpus, _ = text_corpus(args)
    vocabulary = ocr_vocabulary(corpus)
    old = set(processor.segmenter.words) if processor.segmenter is not None else set()
    new = set(vocabulary.words)
    print(
        f"OCR vocabulary: {len(old):,} -> {len(new):,} words "
        f"({len(old - new):,} dropped, {len(new - old):,} added)"
    )
    if old - new:
        print("dropped, for example:", ", ".join(sorted(old - new)[:: max(1, len(old - new) // 20)][:20]))
    rebuilt = ModerationProcessor(model.config, processor.tokenizer, ocr=processor.ocr, segmenter=vocabulary)
    model.config.version = ns.version
    output = ns.output or ns.checkpoint
    sha256 = save_checkpoint(model, rebuilt, output)
    print(f"checkpoint {ns.version} written to {output} (sha256 {sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
