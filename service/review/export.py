"""Moderators' verdicts as labelled training data (``postguard export-labels``).

Writes JSON Lines in exactly the format ``models.userdata.load_user_posts`` reads (the classifier's
fine-tuning input, see models/userdata.py)::

    {"text": "...", "image": "verdicts_images/<hash>.jpg", "labels": {"hate": 0, ...}, "split": "train"}

- one line per review item, from its latest verdict (a verdict on appeal supersedes the first);
- ``labels`` are the moderator's corrected labels, one 0/1 per category;
- ``split`` is derived from a hash of the post id, so a post stays in the same split across exports
  (no leakage from train into val/test when exports are repeated);
- a post with an image gets its stored review thumbnail written next to the output file and
  referenced by a relative path; without an image folder (stdout, or ``--no-images``) such posts
  are skipped rather than exported as text only: the label may be due to the image.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from service.storage.tables import PostRow, VerdictRow

__all__ = ["ExportSummary", "export_labels", "split_for"]


@dataclass(frozen=True)
class ExportSummary:
    written: int
    images: int
    skipped: int  # posts with an image but no image folder, or with nothing to export


def split_for(post_id: str, *, val_fraction: float, test_fraction: float) -> str:
    """``train``, ``val`` or ``test``, stable for a post id."""
    position = int.from_bytes(hashlib.sha256(post_id.encode()).digest()[:8], "big") / 2**64
    if position < test_fraction:
        return "test"
    if position < test_fraction + val_fraction:
        return "val"
    return "train"


def _write_image(image_dir: Path, post_id: str, data: bytes, base: Path) -> str:
    """Write a thumbnail; return its path relative to ``base`` (POSIX form, as the JSONL holds it)."""
    image_dir.mkdir(parents=True, exist_ok=True)
    # Named by a hash: post ids may hold characters a file name cannot.
    path = image_dir / (hashlib.sha256(post_id.encode()).hexdigest()[:32] + ".jpg")
    path.write_bytes(data)
    return Path(os.path.relpath(path, base)).as_posix()


async def export_labels(
    *,
    sessions: async_sessionmaker[AsyncSession],
    output: TextIO,
    image_dir: Path | None,
    relative_to: Path | None = None,
    since: datetime | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    on_row: Callable[[], None] | None = None,
) -> ExportSummary:
    """Write the latest verdict of every review item (since ``since``) to ``output`` as JSONL.

    ``image_dir``: where thumbnails are written (created when needed); ``None`` skips posts with an
    image. Image paths in the file are relative to ``relative_to`` (the output file's folder).
    """
    if not 0 <= val_fraction <= 1 or not 0 <= test_fraction <= 1 or val_fraction + test_fraction > 1:
        raise ValueError("val and test fractions must be in [0, 1] and add up to at most 1")
    if since is not None and since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    later = aliased(VerdictRow)
    superseded = exists().where(later.review_item_id == VerdictRow.review_item_id, later.id > VerdictRow.id)
    query = (
        select(VerdictRow.labels, PostRow.post_id, PostRow.text, PostRow.image_thumbnail)
        .join(PostRow, PostRow.post_id == VerdictRow.post_id)
        .where(~superseded)
        .order_by(VerdictRow.id)
    )
    if since is not None:
        query = query.where(VerdictRow.created_at >= since)
    written = images = skipped = 0
    async with sessions() as session:
        result = await session.stream(query.execution_options(yield_per=500))
        async for labels, post_id, text, thumbnail in result:
            line: dict[str, object] = {}
            if text is not None and text.strip():
                line["text"] = text
            if thumbnail is not None:
                if image_dir is None:
                    skipped += 1
                    continue
                base = relative_to if relative_to is not None else Path.cwd()
                line["image"] = await asyncio.to_thread(_write_image, image_dir, post_id, thumbnail, base)
                images += 1
            if not line:
                skipped += 1
                continue
            line["labels"] = {name: int(value) for name, value in labels.items()}
            line["split"] = split_for(post_id, val_fraction=val_fraction, test_fraction=test_fraction)
            output.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
            if on_row is not None:
                on_row()
    return ExportSummary(written=written, images=images, skipped=skipped)
