"""A post ready to be scored (parsed, its image loaded), and the grouping of a batch's posts by
what they cost to score: text only (milliseconds), images without text (the image tower), images
that need OCR (up to a second each)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace

from PIL import Image

from models.types import PostContent
from service.moderation.contract import Post
from service.moderation.images import LoadedImage
from service.records import RawRecord


@dataclass(frozen=True)
class Candidate:
    """A post that parsed and whose image (if any) loaded: ready to be scored."""

    record: RawRecord
    post: Post
    image: LoadedImage | None
    #: The text in the image when it was already read (by the OCR lane, repaired as the scorer
    #: repairs it) or found absent (by the text gate: "").
    ocr_text: str | None = None


async def cost_groups(
    candidates: list[Candidate], needs_ocr: Callable[[Image.Image], bool] | None, *, cheapest_first: bool
) -> list[list[Candidate]]:
    """Candidates grouped by expected cost: text only, images without text, images with text
    (one group unless cheapest-first is off)."""
    if not cheapest_first:
        return [candidates]
    text_only = [c for c in candidates if c.image is None]
    with_image = [c for c in candidates if c.image is not None]
    if needs_ocr is None or not with_image:
        return [text_only, with_image]
    check = needs_ocr
    slow = await asyncio.gather(
        *(asyncio.to_thread(check, c.image.image) for c in with_image if c.image is not None)
    )
    plain_photos: list[Candidate] = []
    needing_ocr: list[Candidate] = []
    for candidate, has_text in zip(with_image, slow, strict=True):
        if has_text:
            needing_ocr.append(candidate)
        else:
            # The gate found no text: say so (empty image text), so the scorer does not ask it again.
            plain_photos.append(replace(candidate, ocr_text=""))
    return [text_only, plain_photos, needing_ocr]


def position_of(candidate: Candidate) -> tuple[str, int, int]:
    return candidate.record.position


def content_of(candidate: Candidate) -> PostContent:
    return PostContent(
        text=candidate.post.text,
        image=candidate.image.image if candidate.image else None,
        ocr_text=candidate.ocr_text,
        # read by the scorer's own read_image_text: not to be repaired a second time
        ocr_text_repaired=candidate.ocr_text is not None,
    )


def image_of(candidate: Candidate) -> Image.Image:
    if candidate.image is None:  # cannot happen: only posts with an image enter the OCR lane
        raise ValueError(f"post {candidate.post.post_id} has no image to read")
    return candidate.image.image
