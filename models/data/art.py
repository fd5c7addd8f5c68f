"""Procedural images: benign pictures that look like nothing in a photo dataset.

Platforms carry abstract art, wallpapers, generated patterns and graphics as well as photos. An
image tower trained on 26 photos and flat colours scores such pixels as unusual, and unusual
pixels pushed harm scores up (docs/model_card.md). Each family here draws one kind of picture
from a seed; training uses :data:`TRAIN_FAMILIES`, and the out-of-distribution benign set
(``models/suite/benign_images.py``) uses :data:`HELD_OUT_FAMILIES`, which training never draws.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .seeded import Drawing, SeededDrawings


def _colours(rng: np.random.Generator, count: int) -> list[tuple[int, int, int]]:
    return [tuple(int(v) for v in rng.integers(0, 256, size=3)) for _ in range(count)]  # type: ignore[misc]


def _blobs(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), _colours(rng, 1)[0])
    draw = ImageDraw.Draw(image)
    for colour in _colours(rng, int(rng.integers(5, 25))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(10, max(11, min(width, height) // 3)))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0, 6))))


def _polygons(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), _colours(rng, 1)[0])
    draw = ImageDraw.Draw(image)
    for colour in _colours(rng, int(rng.integers(4, 18))):
        points = [
            (int(rng.integers(0, width)), int(rng.integers(0, height)))
            for _ in range(int(rng.integers(3, 7)))
        ]
        draw.polygon(points, fill=colour)
    return image


def _stripes(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(8, 80)
    phase = (x * np.cos(angle) + y * np.sin(angle)) / period
    colours = np.array(_colours(rng, int(rng.integers(2, 6))), dtype=np.uint8)
    index = np.floor(phase).astype(int) % len(colours)
    return Image.fromarray(colours[index], "RGB")


def _plasma(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    small = rng.random((max(2, height // 32), max(2, width // 32), 3))
    image = Image.fromarray((small * 255).astype(np.uint8), "RGB").resize(
        (width, height), Image.Resampling.BICUBIC
    )
    return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(2, 12))))


def _rings(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    field = np.zeros((height, width), dtype=np.float32)
    for _ in range(int(rng.integers(2, 4))):
        cx, cy, k = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(0.05, 0.3)
        field += np.sin(np.hypot(x - cx, y - cy) * k)
    base = np.array(_colours(rng, 2), dtype=np.float32)
    t = ((field - field.min()) / (np.ptp(field) + 1e-6))[..., None]
    return Image.fromarray((base[0] * (1 - t) + base[1] * t).astype(np.uint8), "RGB")


def _mosaic(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    count = int(rng.integers(12, 60))
    seeds = rng.uniform(0, 1, size=(count, 2)) * (width, height)
    colours = np.array(_colours(rng, count), dtype=np.uint8)
    y, x = np.mgrid[0:height:2, 0:width:2]
    nearest = np.argmin((x[..., None] - seeds[:, 0]) ** 2 + (y[..., None] - seeds[:, 1]) ** 2, axis=-1)
    return Image.fromarray(colours[nearest], "RGB").resize((width, height), Image.Resampling.NEAREST)


def _flow(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), _colours(rng, 1)[0])
    draw = ImageDraw.Draw(image)
    a, b = rng.uniform(0.005, 0.03, size=2)
    for colour in _colours(rng, int(rng.integers(20, 60))):
        px, py = float(rng.uniform(0, width)), float(rng.uniform(0, height))
        points = []
        for _ in range(60):
            angle = np.sin(px * a) + np.cos(py * b)
            px, py = px + 4 * np.cos(angle * np.pi), py + 4 * np.sin(angle * np.pi)
            points.append((px, py))
        draw.line(points, fill=colour, width=int(rng.integers(1, 5)))
    return image


def _julia(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    c = complex(rng.uniform(-0.8, 0.4), rng.uniform(-0.7, 0.7))
    y, x = np.mgrid[-1.2 : 1.2 : complex(0, height // 2), -1.6 : 1.6 : complex(0, width // 2)]
    z = x + 1j * y
    escape = np.zeros(z.shape, dtype=np.float32)
    for step in range(40):
        inside = np.abs(z) <= 2
        z[inside] = z[inside] ** 2 + c
        escape[inside] = step
    base = np.array(_colours(rng, 2), dtype=np.float32)
    t = (escape / 39.0)[..., None]
    image = Image.fromarray((base[0] * (1 - t) + base[1] * t).astype(np.uint8), "RGB")
    return image.resize((width, height), Image.Resampling.BILINEAR)


Family = Drawing
FAMILIES: dict[str, Family] = {
    "blobs": _blobs,
    "polygons": _polygons,
    "stripes": _stripes,
    "plasma": _plasma,
    "rings": _rings,
    "mosaic": _mosaic,
    "flow": _flow,
    "julia": _julia,
}
TRAIN_FAMILIES: tuple[str, ...] = ("blobs", "polygons", "stripes", "plasma")
HELD_OUT_FAMILIES: tuple[str, ...] = ("rings", "mosaic", "flow", "julia")
ART = SeededDrawings("art", "art family", FAMILIES)


def art_background(family: str, seed: int) -> str:
    """The :class:`~models.data.memes.MemeSpec` background string of one procedural picture."""
    return ART.background(family, seed)


def render_art(background: str, width: int, height: int) -> Image.Image:
    """Draw ``art:FAMILY:SEED`` at the given size (deterministic)."""
    return ART.render(background, width, height)
