"""Scoring posts with a checkpoint: the one entry point the service uses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from .architecture import ModerationModel
from .checkpoint import load_checkpoint
from .errors import CheckpointError
from .preprocessing import ModerationProcessor
from .types import MODALITIES, ModerationResult, PostContent

#: The checkpoint shipped inside the package, used whenever no other model path is configured.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "default_checkpoint"


class Moderator:
    """A loaded checkpoint: scores batches of posts with per-modality attribution. Not async; CPU-bound."""

    def __init__(self, model: ModerationModel, processor: ModerationProcessor, *, sha256: str) -> None:
        self.model = model.eval()
        self.processor = processor
        self.sha256 = sha256

    @classmethod
    def load(cls, path: Path | str | None = None, *, torch_threads: int | None = None) -> Moderator:
        """Load a checkpoint (default: the bundled one) for inference."""
        directory = Path(path) if path is not None else DEFAULT_CHECKPOINT
        if path is None and not (directory / "manifest.json").is_file():
            raise CheckpointError(
                f"the bundled checkpoint is missing from {directory}; train one with `python -m models.train`"
            )
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        model, processor, sha256 = load_checkpoint(directory)
        return cls(model, processor, sha256=sha256)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.model.config.labels

    @property
    def version(self) -> str:
        return self.model.config.version

    @property
    def review_thresholds(self) -> dict[str, float]:
        return dict(self.model.config.review_thresholds)

    @torch.inference_mode()
    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        """Score a batch. Raises :class:`models.errors.InputError` subclasses for posts it cannot score."""
        if not posts:
            return []
        batch = self.processor.prepare(posts)
        model = self.model
        size = len(posts)
        text_dim = model.text_dim
        caption = torch.zeros(size, text_dim)
        image_text = torch.zeros(size, text_dim)
        image_pixels = torch.zeros(size, model.image_dim)
        if batch.caption_inputs is not None:
            caption[batch.caption_rows] = model.encode_text(**batch.caption_inputs)
        if batch.image_text_inputs is not None:
            image_text[batch.image_text_rows] = model.encode_text(**batch.image_text_inputs)
        if batch.pixel_values is not None:
            image_pixels[batch.image_rows] = model.encode_image(batch.pixel_values)
        probs, deltas = model.leave_one_out(
            caption=caption, image_pixels=image_pixels, image_text=image_text, present=batch.present
        )
        return [self._result(row, probs, deltas, batch.present, batch.ocr_texts[row]) for row in range(size)]

    def _result(
        self, row: int, probs: torch.Tensor, deltas: torch.Tensor, present: torch.Tensor, ocr_text: str | None
    ) -> ModerationResult:
        scores = {label: round(float(probs[row, j]), 6) for j, label in enumerate(self.labels)}
        attribution: dict[str, dict[str, float]] = {}
        for j, label in enumerate(self.labels):
            # Only modalities that pushed the score up get a share; shares sum to 1 (or are all 0).
            pushes = deltas[row, :, j].clamp(min=0.0)
            total = float(pushes.sum())
            attribution[label] = {
                name: (round(float(pushes[m]) / total, 4) if total > 1e-6 else 0.0)
                for m, name in enumerate(MODALITIES)
            }
        present_names = tuple(name for m, name in enumerate(MODALITIES) if bool(present[row, m]))
        return ModerationResult(
            scores=scores, attribution=attribution, ocr_text=ocr_text, modalities_present=present_names
        )
