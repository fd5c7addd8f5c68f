"""A platform's own labelled posts, for fine-tuning: one JSON object per line.

Format (``labels`` may name any subset of the checkpoint's categories; unnamed ones are
treated as unknown and ignored by the loss; ``toxic`` defaults to "any named category is 1")::

    {"text": "caption or post text", "image": "relative/or/absolute/path.jpg",
     "labels": {"hate": 0, "offensive": 1}, "split": "train"}

``text`` and ``image`` are both optional but one is required; ``split`` is ``train`` (default),
``val`` or ``test``. Image paths are resolved against the JSONL file's folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from .data.memes import MemeSpec
from .data.multimodal import MultimodalExample
from .data.sources import LABELS, SPLITS, TextExample


class UserDataError(ValueError):
    """A line of the user's JSONL file is not in the documented format."""


def load_user_posts(
    path: Path, labels: tuple[str, ...] = LABELS
) -> tuple[list[TextExample], list[MultimodalExample]]:
    """Text-only posts and posts with an image from a user's JSONL file."""
    if not path.is_file():
        raise UserDataError(f"training file not found: {path}")
    texts: list[TextExample] = []
    posts: list[MultimodalExample] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise UserDataError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise UserDataError(f"{where}: each line must be a JSON object")
        text = row.get("text")
        image = row.get("image")
        given = row.get("labels")
        split = row.get("split", "train")
        if text is not None and not isinstance(text, str):
            raise UserDataError(f"{where}: 'text' must be a string")
        if image is not None and not isinstance(image, str):
            raise UserDataError(f"{where}: 'image' must be a path (a string)")
        if not (text and text.strip()) and not image:
            raise UserDataError(f"{where}: a post needs 'text' or 'image'")
        if split not in SPLITS:
            raise UserDataError(f"{where}: 'split' must be one of {SPLITS}, got {split!r}")
        if not isinstance(given, dict) or not given:
            raise UserDataError(
                f'{where}: \'labels\' must be an object such as {{"hate": 0, "offensive": 1}}'
            )
        unknown = set(given) - set(labels)
        if unknown:
            raise UserDataError(f"{where}: unknown label(s) {sorted(unknown)}; known: {list(labels)}")
        values: dict[str, float] = {}
        for name, value in given.items():
            if value not in (0, 1, True, False):
                raise UserDataError(f"{where}: label {name!r} must be 0 or 1, got {value!r}")
            values[name] = float(value)
        if "toxic" in labels and "toxic" not in values:
            if any(values.values()):
                values["toxic"] = 1.0
            elif all(name in values for name in labels if name != "toxic"):
                values["toxic"] = 0.0
        targets = tuple(values.get(name, 0.0) for name in labels)
        mask = tuple(1.0 if name in values else 0.0 for name in labels)
        if image:
            image_path = (path.parent / image).resolve()
            if not image_path.is_file():
                raise UserDataError(f"{where}: image file not found: {image_path}")
            try:
                with Image.open(image_path) as opened:
                    width, height = opened.size
            except (OSError, ValueError) as exc:  # UnidentifiedImageError is an OSError
                raise UserDataError(
                    f"{where}: image file {image_path} cannot be read as an image ({exc})"
                ) from None
            scale = min(1.0, 1024 / max(width, height))
            spec = MemeSpec(
                text="",
                background=str(image_path),
                style="card",
                font=0,
                font_size=30,
                noise=0.0,
                jpeg_quality=0,
                width=max(1, int(width * scale)),
                height=max(1, int(height * scale)),
            )
            posts.append(MultimodalExample(text, spec, targets, mask, "user", split, needs_real_ocr=True))
        else:
            texts.append(TextExample(str(text), targets, mask, "user", split, "user"))
    return texts, posts
