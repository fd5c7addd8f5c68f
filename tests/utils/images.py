"""Image helpers for tests: encoding pictures as a platform would hand them over."""

from __future__ import annotations

import io

from PIL import Image


def encode(image: Image.Image, fmt: str, **save: object) -> bytes:
    """``image`` saved in ``fmt`` (JPEG, PNG, WEBP, GIF, ...), as bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()
