"""Give a checkpoint the sure correction of typed words in captions, without retraining.

``python -m models.add_typed_spelling --version NEW [--checkpoint DIR] [--output DIR] [--remove]``

A checkpoint that carries a typed-text spelling (models/typed_spelling.py) corrects a caption's
word before scoring it when the correction is sure: the word is in none of the checkpoint's
vocabulary (its OCR vocabulary: the training texts' words and general English), and one general
English word one edit away is far commoner than any other. This command writes a copy of the
checkpoint with the general-English ranking it needs (from the ``symspellpy`` package, the list
training widens the OCR vocabulary with: :mod:`models.english_words`) under a new version
string, so the audit trail tells the two readings apart; ``--remove`` writes a copy without it.
The weights and thresholds are copied unchanged. It prints a few corrections as a check.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .checkpoint import save_checkpoint
from .checkpoint_copy import copy_parser, load_for_copy
from .typed_spelling import SureSpelling

#: Typed sentences printed with their correction, so the person running this sees what it does.
EXAMPLES = (
    "america is a melting pot and it should be cellebrated",
    "i am against thge war",
    "wypipo be like",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = copy_parser("python -m models.add_typed_spelling", __doc__)
    parser.add_argument(
        "--remove", action="store_true", help="write the copy without the correction (captions as typed)"
    )
    ns = parser.parse_args(argv)
    model, processor = load_for_copy(parser, ns)
    if ns.remove:
        processor.typed_spelling = None
    else:
        if processor.segmenter is None:
            parser.error(
                f"{ns.checkpoint} has no OCR vocabulary (ocr_vocabulary.txt): without its words the "
                "correction would rewrite the training texts' own spellings; rebuild it first "
                "(python -m models.rebuild_ocr_vocabulary)"
            )
        processor.typed_spelling = SureSpelling.with_english_words(processor.segmenter.words)
        for text in EXAMPLES:
            print(f"  {text!r} -> {processor.read_caption(text)!r}")
    output = ns.output or ns.checkpoint
    sha256 = save_checkpoint(model, processor, output)
    reading = "as typed" if ns.remove else "with sure corrections of typed words"
    print(f"checkpoint {ns.version} ({reading}) written to {output} (sha256 {sha256})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
