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

import sys
from collections.abc import Sequence
from pathlib import Path

from .checkpoint import save_checkpoint
from .checkpoint_copy import copy_parser, load_for_copy
from .preprocessing import ModerationProcessor
from .train import ocr_vocabulary, parse_args, text_corpus
from .typed_spelling import SureSpelling


def training_arguments(training: dict[str, object], data_dir: Path | None) -> list[str]:
    """``models.train`` arguments that reproduce the checkpoint's source texts."""
    argv = ["--seed", str(training.get("seed", 13))]
    source = data_dir if data_dir is not None else training.get("data_dir")
    argv += ["--data-dir", str(source)] if source else ["--no-shared-data"]
    if training.get("train_jsonl"):
        argv += ["--train-jsonl", str(training["train_jsonl"])]
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    parser = copy_parser("python -m models.rebuild_ocr_vocabulary", __doc__)
    parser.add_argument(
        "--data-dir", type=Path, help="the training data (default: the folder the checkpoint was trained on)"
    )
    ns = parser.parse_args(argv)
    model, processor = load_for_copy(parser, ns)
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
    # a typed-text spelling never corrects the vocabulary's words: it follows the new vocabulary
    typed = processor.typed_spelling
    rebuilt = ModerationProcessor(
        model.config,
        processor.tokenizer,
        ocr=processor.ocr,
        segmenter=vocabulary,
        typed_spelling=SureSpelling(vocabulary.words, typed.ranked) if typed is not None else None,
    )
    output = ns.output or ns.checkpoint
    sha256 = save_checkpoint(model, rebuilt, output)
    print(f"checkpoint {ns.version} written to {output} (sha256 {sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
