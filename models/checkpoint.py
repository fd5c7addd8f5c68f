"""Saving and loading a checkpoint: config + weights + preprocessing + label names + version + sha256.

Layout of a checkpoint directory::

    config.json          ModerationConfig (labels, towers, fusion, version, review thresholds)
    weights.safetensors  everything trained (the fusion heads: projections, fusion, head; top text layers)
    preprocessor.json    tokenizer/image/OCR facts;  tokenizer/  the tokenizer files
    manifest.json        sha256 of every file above and of the checkpoint as a whole

The frozen pretrained towers are not copied: they come from their packages, which keeps the
checkpoint small. Loading verifies every checksum, so a damaged checkpoint is refused, not used.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from safetensors.torch import load_file, save_file

from .architecture import ModerationModel, current_weight_name
from .config import ModerationConfig
from .errors import CheckpointError
from .preprocessing import ModerationProcessor

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, read 1 MiB at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checkpoint_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST_FILE)


def save_checkpoint(model: ModerationModel, processor: ModerationProcessor, directory: Path) -> str:
    """Write a checkpoint to ``directory`` and return its sha256 (also stored in manifest.json)."""
    directory.mkdir(parents=True, exist_ok=True)
    model.config.save(directory / CONFIG_FILE)
    # Half precision halves the size of the fine-tuned text layers; scores move by < 1e-3.
    weights = {
        name: (tensor.half() if tensor.is_floating_point() and name.startswith("text_encoder.") else tensor)
        for name, tensor in model.persisted_state_dict().items()
    }
    save_file(weights, str(directory / WEIGHTS_FILE), metadata={"format": str(FORMAT_VERSION)})
    processor.save_pretrained(directory)
    for path in _checkpoint_files(directory):
        path.chmod(0o644)  # safetensors writes 0600; a non-root service user must be able to read it
    files = {str(p.relative_to(directory)): file_sha256(p) for p in _checkpoint_files(directory)}
    overall = hashlib.sha256(
        "".join(f"{name}:{digest}\n" for name, digest in sorted(files.items())).encode()
    ).hexdigest()
    manifest = {
        "format": FORMAT_VERSION,
        "version": model.config.version,
        "labels": list(model.config.labels),
        "sha256": overall,
        "files": files,
    }
    (directory / MANIFEST_FILE).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return overall


def verify_checkpoint(directory: Path) -> dict[str, object]:
    """Check that every file listed in the manifest is present and unchanged; return the manifest."""
    manifest_path = directory / MANIFEST_FILE
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint directory not found: {directory}")
    if not manifest_path.is_file():
        raise CheckpointError(f"{directory} is not a postguard checkpoint: {MANIFEST_FILE} is missing")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint format {manifest.get('format')!r} is not supported (expected {FORMAT_VERSION})"
        )
    for name, expected in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"checkpoint file missing: {path}")
        actual = file_sha256(path)
        if actual != expected:
            raise CheckpointError(
                f"checkpoint file {path} is damaged: sha256 {actual[:12]}… != {expected[:12]}…"
            )
    return manifest


def load_checkpoint(directory: Path) -> tuple[ModerationModel, ModerationProcessor, str]:
    """Load model (eval mode) and processor from ``directory``; returns them with the checkpoint sha256."""
    manifest = verify_checkpoint(directory)
    config = ModerationConfig.load(directory / CONFIG_FILE)
    model = ModerationModel(config)
    weights = {
        current_weight_name(name): tensor for name, tensor in load_file(str(directory / WEIGHTS_FILE)).items()
    }
    own = model.state_dict()
    for name, tensor in weights.items():
        if name not in own:
            raise CheckpointError(f"checkpoint weight {name!r} does not belong to this architecture")
        if own[name].shape != tensor.shape:
            raise CheckpointError(
                f"checkpoint weight {name!r} has shape {tuple(tensor.shape)}, expected {tuple(own[name].shape)}"
            )
    missing = set(model.persisted_state_dict()) - set(weights)
    if missing:
        raise CheckpointError(f"checkpoint lacks {len(missing)} weights, e.g. {sorted(missing)[:3]}")
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in weights.items()}, strict=False)
    model.eval()
    processor = ModerationProcessor.from_pretrained(directory, config)
    return model, processor, str(manifest["sha256"])
