"""The command line of the commands that write a copy of a checkpoint under a new version string
(``models.rebuild_ocr_vocabulary``, ``models.add_typed_spelling``): which checkpoint, where the copy
goes and its version, which must differ from the checkpoint's own (decisions record the version,
so the audit trail must tell the two apart)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .architecture import ModerationModel
from .checkpoint import load_checkpoint
from .inference import DEFAULT_CHECKPOINT
from .preprocessing import ModerationProcessor


def copy_parser(prog: str, description: str | None) -> argparse.ArgumentParser:
    """A parser with ``--checkpoint``, ``--output`` and ``--version``; add the command's own options."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument(
        "--output", type=Path, help="where the new checkpoint goes (default: replace --checkpoint)"
    )
    parser.add_argument("--version", required=True, help="the new checkpoint's version string")
    return parser


def load_for_copy(
    parser: argparse.ArgumentParser, ns: argparse.Namespace
) -> tuple[ModerationModel, ModerationProcessor]:
    """The checkpoint to copy, its version already replaced by ``--version`` (refused, with a
    usage error, when it is the checkpoint's own)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    model, processor, _ = load_checkpoint(ns.checkpoint)
    if ns.version == model.config.version:
        parser.error(f"--version must differ from the checkpoint's own ({model.config.version})")
    model.config.version = ns.version
    return model, processor
