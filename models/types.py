"""Plain data types exchanged between the classifier and its callers (the service, evaluation, tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image

#: Names of the three inputs the classifier sees. Attribution shares are keyed by these.
MODALITIES: tuple[str, str, str] = ("caption", "image_pixels", "image_text")


@dataclass(frozen=True)
class PostContent:
    """One post as the classifier sees it: an optional caption and an optional decoded image.

    ``ocr_text`` may be given when the text inside the image is already known (cached or extracted
    elsewhere); when it is ``None`` and an image is present, the processor runs OCR itself. A given
    text is repaired as OCR output is (noise rows, misread and glued words), unless
    ``ocr_text_repaired`` says it already was: the text :meth:`Moderator.read_image_text` returns
    (the service's OCR lane), which a second repair could change (the repair reads its own output
    differently in about 1 read in 500), so the service would score other words than the
    evaluation does.
    """

    text: str | None = None
    image: Image.Image | None = None
    ocr_text: str | None = None
    ocr_text_repaired: bool = False


@dataclass(frozen=True)
class ModerationResult:
    """Scores of one post.

    ``scores`` maps each category to a probability in [0, 1]. ``attribution`` maps each category to
    the share (summing to 1 over the modalities that are present, all 0 when none moved the score)
    that the caption, the image pixels and the text inside the image had in that score, measured
    as leave-one-modality-out deltas.
    """

    scores: dict[str, float]
    attribution: dict[str, dict[str, float]]
    ocr_text: str | None
    modalities_present: tuple[str, ...] = field(default_factory=tuple)
