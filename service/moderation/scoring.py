"""The classifier as the pipeline sees it: a :class:`Scorer`, and how the service loads one.

The pipeline depends on this small protocol, not on ``models.inference`` directly, so unit tests
can hand it a deterministic fake and the heavy torch import happens only when a real model loads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from models.types import ModerationResult, PostContent
from service.errors import ConfigError
from service.settings import CommonSettings

if TYPE_CHECKING:
    from models.inference import InferenceOptions

logger = logging.getLogger(__name__)


class Scorer(Protocol):
    """Scores posts. ``score`` is blocking (CPU-bound): callers run it in a worker thread."""

    @property
    def labels(self) -> tuple[str, ...]:
        """Category names, in the order the model outputs them."""
        ...

    @property
    def version(self) -> str:
        """Model version recorded with every decision (decisions are unique per post and version)."""
        ...

    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        """One result per post, in order. May raise for a post it cannot score."""
        ...


def load_scorer(settings: CommonSettings) -> Scorer:
    """Load the checkpoint named by ``POSTGUARD_MODEL_PATH`` (default: the bundled one) with the
    category bundle of ``POSTGUARD_CATEGORIES_PATH`` (default: the bundled one).

    Raises :class:`ConfigError` naming the variable when the checkpoint or bundle is missing or invalid.
    """
    # Imported here: importing torch costs seconds and is not needed by the CLI's other commands.
    from models.categories.bundle import BundleError
    from models.errors import CheckpointError
    from models.inference import Moderator

    path = settings.model_path
    if path is not None and not path.is_dir():
        raise ConfigError(f"POSTGUARD_MODEL_PATH: {path} is not a checkpoint directory")
    categories = category_bundle_path(settings)
    try:
        moderator = Moderator.load(
            path,
            torch_threads=settings.torch_threads,
            options=inference_options(settings),
            categories=categories,
            # the bundled categories beside a checkpoint on another tower: a warning, not a failure
            categories_required=settings.categories_path is not None,
            nsfw=settings.nsfw_enabled,
        )
    except BundleError as exc:
        raise ConfigError(f"POSTGUARD_CATEGORIES_PATH: cannot load the categories: {exc}") from exc
    except (CheckpointError, FileNotFoundError) as exc:
        raise ConfigError(f"POSTGUARD_MODEL_PATH: cannot load the checkpoint: {exc}") from exc
    logger.info(
        "model %s loaded (labels: %s, sha256 %s)",
        moderator.version,
        ", ".join(moderator.labels),
        moderator.sha256[:12],
    )
    return moderator


def category_bundle_path(settings: CommonSettings) -> Path | None:
    """The category bundle the service scores: ``POSTGUARD_CATEGORIES_PATH``, else the bundled one;
    None when ``POSTGUARD_CATEGORIES_ENABLED`` is false."""
    if not settings.categories_enabled:
        return None
    if settings.categories_path is not None:
        return settings.categories_path
    from models.inference import DEFAULT_CATEGORIES

    return DEFAULT_CATEGORIES


def inference_options(settings: CommonSettings) -> InferenceOptions:
    """The model's speed options as configured by ``POSTGUARD_*`` (see docs/performance.md)."""
    from models.inference import InferenceOptions

    return InferenceOptions(
        ocr_gate_threshold=settings.ocr_gate_threshold or None,
        cache_entries=settings.encoder_cache_entries,
        quantize_text=settings.quantize_text_encoder,
        overlap_ocr=settings.ocr_overlap,
        ocr_detection_max_side=settings.ocr_detection_max_side or None,
        ocr_threads=settings.ocr_threads,
        ocr_simplified_graphs=settings.ocr_simplified_graphs,
        ocr_recognition_batch=settings.ocr_recognition_batch or None,
        text_runtime=settings.text_encoder_runtime,
        text_chunk=settings.text_encoder_chunk or None,
        image_chunk=settings.image_encoder_chunk or None,
    )
