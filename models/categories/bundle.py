"""A category bundle: the example-defined categories a deployment scores, in one directory.

::

    bundle/
      manifest.json                  format, version, encoder fingerprint, every file's sha256
      <name>/head.safetensors        weight (dim,) and bias (1,)
      <name>/card.json               definition, thresholds, what fitting measured, counts
      <name>/examples.jsonl          the examples it was fit on (so it can be refit)

The version is derived from the content (``categories-`` + 10 hex digits of the manifest's
sha256), so the same heads always have the same version, and any change gives a new one; the
service records it in every decision's model version.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..checkpoint import file_sha256
from ..errors import CheckpointError
from .examples import CategoryExample, read_examples, write_examples
from .head import CategoryHead

FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
HEAD_FILE = "head.safetensors"
CARD_FILE = "card.json"
EXAMPLES_FILE = "examples.jsonl"
#: Category names: lower-case snake case, as policy keys, metric labels and JSON keys use them.
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class BundleError(CheckpointError):
    """A category bundle is missing, damaged, or does not fit the text tower it is loaded with."""

    code = "categories_invalid"

    def __init__(self, message: str, *, other_tower: bool = False) -> None:
        super().__init__(message)
        #: True when the bundle is sound but its heads were fit on another text tower.
        self.other_tower = other_tower


def check_name(name: str, *, reserved: Iterable[str] = ()) -> str:
    if not NAME_PATTERN.fullmatch(name):
        raise BundleError(
            f"category name {name!r} must be 2-40 characters of a-z, 0-9 and _, starting with a letter"
        )
    if name in set(reserved):
        raise BundleError(f"category {name!r} is already scored by the checkpoint itself")
    return name


@dataclass(frozen=True)
class CategoryBundle:
    """Loaded heads (in a fixed order: by name) plus the bundle's identity."""

    heads: tuple[CategoryHead, ...]
    version: str
    encoder_fingerprint: str
    directory: Path | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(head.name for head in self.heads)

    def score(self, features: np.ndarray) -> np.ndarray:
        """(n, len(heads)) probabilities from (n, dim) embeddings."""
        if not self.heads:
            return np.zeros((len(features), 0), dtype=np.float32)
        weights = np.stack([head.weight for head in self.heads], axis=1)  # (dim, k)
        biases = np.array([head.bias for head in self.heads], dtype=np.float32)
        logits = features @ weights + biases
        return 1.0 / (1.0 + np.exp(-np.clip(logits, -50.0, 50.0)))


def _write_head(directory: Path, head: CategoryHead, examples: Iterable[CategoryExample]) -> None:
    folder = directory / head.name
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {
            "weight": torch.from_numpy(np.ascontiguousarray(head.weight, dtype=np.float32)),
            "bias": torch.tensor([head.bias], dtype=torch.float32),
        },
        str(folder / HEAD_FILE),
    )
    card = {**head.card, "name": head.name, "review": head.review, "block": head.block}
    (folder / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    write_examples(folder / EXAMPLES_FILE, examples)


def _write_manifest(directory: Path, encoder_fingerprint: str) -> str:
    names = sorted(p.name for p in directory.iterdir() if p.is_dir())
    files = {
        f"{name}/{file}": file_sha256(directory / name / file)
        for name in names
        for file in (HEAD_FILE, CARD_FILE, EXAMPLES_FILE)
    }
    overall = hashlib.sha256(
        (encoder_fingerprint + "".join(f"{k}:{v}\n" for k, v in sorted(files.items()))).encode()
    ).hexdigest()
    version = f"categories-{overall[:10]}"
    manifest = {
        "format": FORMAT_VERSION,
        "version": version,
        "encoder_fingerprint": encoder_fingerprint,
        "categories": names,
        "sha256": overall,
        "files": files,
    }
    (directory / MANIFEST_FILE).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    for path in directory.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # safetensors writes 0600; the service user reads it
    return version


def save_category(
    directory: Path,
    head: CategoryHead,
    examples: Iterable[CategoryExample],
    *,
    encoder_fingerprint: str,
) -> str:
    """Add (or replace) one category in the bundle at ``directory`` (created if needed); returns
    the bundle's new version. Refuses a bundle whose heads were fit on another text tower."""
    check_name(head.name)
    if (directory / MANIFEST_FILE).is_file():
        manifest = _read_manifest(directory)
        if manifest["encoder_fingerprint"] != encoder_fingerprint:
            raise BundleError(
                f"{directory} holds heads fit on another text tower; refit them first "
                "(`postguard categories refit`) or use a new bundle"
            )
    directory.mkdir(parents=True, exist_ok=True)
    _write_head(directory, head, examples)
    return _write_manifest(directory, encoder_fingerprint)


def refit_bundle(
    directory: Path,
    fit: Callable[[str, list[CategoryExample], str], CategoryHead],
    *,
    encoder_fingerprint: str,
) -> str:
    """Refit every category of the bundle at ``directory`` from the examples it keeps, with
    ``fit(name, examples, description)`` (on another text tower: after a retrained checkpoint).
    Every head is fit before any file is written, so a failure leaves the bundle as it was.
    Returns the bundle's new version."""
    manifest = verify_bundle(directory)
    refitted = []
    for name in manifest["categories"]:
        examples = bundle_examples(directory, name)
        card = json.loads((directory / name / CARD_FILE).read_text(encoding="utf-8"))
        refitted.append((fit(name, examples, str(card.get("description", ""))), examples))
    for head, examples in refitted:
        _write_head(directory, head, examples)
    return _write_manifest(directory, encoder_fingerprint)


def remove_category(directory: Path, name: str) -> str:
    """Delete one category from the bundle; returns the bundle's new version."""
    manifest = verify_bundle(directory)
    if name not in manifest["categories"]:
        raise BundleError(
            f"{directory} has no category {name!r} (it has: {', '.join(manifest['categories'])})"
        )
    shutil.rmtree(directory / name)
    return _write_manifest(directory, str(manifest["encoder_fingerprint"]))


def copy_bundle(source: Path, target: Path) -> None:
    """Copy a verified bundle to a new directory (to extend the read-only bundled one)."""
    verify_bundle(source)
    if target.exists() and any(target.iterdir()):
        raise BundleError(f"{target} exists and is not empty")
    shutil.copytree(source, target, dirs_exist_ok=True)


def _read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise BundleError(f"{directory} is not a category bundle: {MANIFEST_FILE} is missing")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION:
        raise BundleError(
            f"category bundle format {manifest.get('format')!r} is not supported ({FORMAT_VERSION})"
        )
    return dict(manifest)


def verify_bundle(directory: Path) -> dict[str, Any]:
    """Check every file against the manifest; return the manifest."""
    if not directory.is_dir():
        raise BundleError(f"category bundle not found: {directory}")
    manifest = _read_manifest(directory)
    for name, expected in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise BundleError(f"category bundle file missing: {path}")
        if file_sha256(path) != expected:
            raise BundleError(f"category bundle file {path} is damaged (sha256 differs from the manifest)")
    return manifest


def load_bundle(
    directory: Path, *, encoder_fingerprint: str | None = None, dim: int | None = None
) -> CategoryBundle:
    """Load and verify a bundle; with ``encoder_fingerprint``, refuse heads fit on another tower."""
    manifest = verify_bundle(directory)
    if encoder_fingerprint is not None and manifest["encoder_fingerprint"] != encoder_fingerprint:
        raise BundleError(
            f"the categories in {directory} were fit on another text tower than the one loaded "
            f"(fingerprint {manifest['encoder_fingerprint'][:12]}… != {encoder_fingerprint[:12]}…); "
            "refit them on it with `postguard categories refit` (the bundle keeps their examples)",
            other_tower=True,
        )
    heads = []
    for name in sorted(manifest["categories"]):
        tensors = load_file(str(directory / name / HEAD_FILE))
        weight = tensors["weight"].numpy().astype(np.float32)
        if dim is not None and weight.shape != (dim,):
            raise BundleError(f"category {name!r} has {weight.shape} weights, the text tower gives ({dim},)")
        card = json.loads((directory / name / CARD_FILE).read_text(encoding="utf-8"))
        heads.append(
            CategoryHead(
                name=name,
                weight=weight,
                bias=float(tensors["bias"][0]),
                review=float(card["review"]),
                block=float(card["block"]),
                card=card,
            )
        )
    return CategoryBundle(
        heads=tuple(heads),
        version=str(manifest["version"]),
        encoder_fingerprint=str(manifest["encoder_fingerprint"]),
        directory=directory,
    )


def bundle_examples(directory: Path, name: str) -> list[CategoryExample]:
    return read_examples(directory / name / EXAMPLES_FILE)


def describe(bundle: CategoryBundle) -> list[Mapping[str, Any]]:
    """One row per category for listings: name, thresholds and what fitting measured."""
    return [{"name": h.name, "review": h.review, "block": h.block, **h.card} for h in bundle.heads]
