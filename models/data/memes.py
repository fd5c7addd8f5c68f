"""The meme generator: renders post texts into images, the way harmful content hides from text filters.

No image dataset with moderation labels is available, so images are made: a text drawn onto a
COCO photo or a plain/colour background, in one of several fonts, sizes, positions and styles
(classic outlined meme text, a caption bar, a centred card), with optional noise and JPEG
re-compression. Every image is a pure function of its :class:`MemeSpec`, so datasets are
reproducible and caches keyed by the spec stay valid.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/truetype"),
    Path(__file__).resolve().parents[1] / "fonts",
)
FONT_NAMES = (
    "DejaVuSans-Bold.ttf",
    "DejaVuSans.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
)
STYLES = ("outlined_top_bottom", "outlined_center", "caption_bar", "card")
PALETTE = (
    (255, 255, 255),
    (20, 20, 20),
    (250, 220, 60),
    (40, 90, 200),
    (200, 40, 40),
    (30, 140, 80),
    (240, 240, 230),
)


@dataclass(frozen=True)
class MemeSpec:
    """Everything that determines one rendered image."""

    text: str
    background: str  # a photo path, "color:R,G,B", or "gradient:R,G,B:R,G,B" (top to bottom)
    style: str
    font: int  # index into the available fonts
    font_size: int
    noise: float  # std of Gaussian pixel noise (0 = none)
    jpeg_quality: int  # 0 = keep lossless
    width: int = 512
    height: int = 512
    #: Photo augmentation: the part of the photo kept (left, top, right, bottom as fractions) and a
    #: mirror flip. 26 training photos are too few scenes for the heads; crops and flips of them
    #: give the image tower many more distinct views (its features move a lot under cropping).
    crop: tuple[float, float, float, float] = (0.0, 0.0, 1.0, 1.0)
    flip: bool = False

    def key(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:24]


@lru_cache(maxsize=1)
def available_fonts() -> tuple[str, ...]:
    """TrueType fonts found on this machine ('' = Pillow's built-in scalable font)."""
    found = []
    for name in FONT_NAMES:
        for folder in FONT_DIRS:
            if (folder / name).is_file():
                found.append(str(folder / name))
                break
    return tuple(found) or ("",)


def _font(index: int, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    fonts = available_fonts()
    path = fonts[index % len(fonts)]
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)


@lru_cache(maxsize=64)
def _open_photo(path: str) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _photo(
    path: str, width: int, height: int, crop: tuple[float, float, float, float], flip: bool
) -> Image.Image:
    # Not cached: with augmentation nearly every view is unique, and a cache of rendered views
    # held hundreds of MB in training for no hits; the decoded photo itself is cached.
    photo = _open_photo(path)
    if crop != (0.0, 0.0, 1.0, 1.0):
        w, h = photo.size
        left, top, right, bottom = crop
        photo = photo.crop(
            (
                int(left * w),
                int(top * h),
                max(int(right * w), int(left * w) + 1),
                max(int(bottom * h), int(top * h) + 1),
            )
        )
    if flip:
        photo = photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return photo.resize((width, height), Image.Resampling.BILINEAR)


def _background(spec: MemeSpec) -> Image.Image:
    if spec.background.startswith("color:"):
        rgb = tuple(int(v) for v in spec.background[6:].split(","))
        return Image.new("RGB", (spec.width, spec.height), rgb)
    if spec.background.startswith("gradient:"):
        top, bottom = (np.array([int(v) for v in part.split(",")]) for part in spec.background[9:].split(":"))
        ramp = np.linspace(0.0, 1.0, spec.height)[:, None, None]
        rows = (top * (1 - ramp) + bottom * ramp).round().astype(np.uint8)  # (height, 1, 3)
        return Image.fromarray(np.repeat(rows, spec.width, axis=1), "RGB")
    return _photo(spec.background, spec.width, spec.height, spec.crop, spec.flip)


def is_plain_background(background: str) -> bool:
    """A flat colour or a gradient (no photo)."""
    return background.startswith(("color:", "gradient:"))


def random_color(rng: np.random.Generator) -> str:
    """A flat background of a random palette colour ("color:R,G,B")."""
    return "color:" + ",".join(str(v) for v in PALETTE[int(rng.integers(len(PALETTE)))])


def random_gradient(rng: np.random.Generator) -> str:
    """A random two-colour vertical gradient background ("gradient:R,G,B:R,G,B")."""
    top, bottom = rng.integers(0, 256, size=(2, 3))
    return "gradient:" + ",".join(str(int(v)) for v in top) + ":" + ",".join(str(int(v)) for v in bottom)


def random_view(rng: np.random.Generator) -> tuple[tuple[float, float, float, float], bool]:
    """A random crop (45-100 % of each side) and flip of a photo, for :class:`MemeSpec`."""
    width, height = rng.uniform(0.45, 1.0, size=2)
    left, top = rng.uniform(0.0, 1.0 - width), rng.uniform(0.0, 1.0 - height)
    crop = (
        round(float(left), 3),
        round(float(top), 3),
        round(float(left + width), 3),
        round(float(top + height), 3),
    )
    return crop, bool(rng.random() < 0.5)


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, max_width: int) -> list[str]:
    """Greedy word wrap to ``max_width`` pixels (long words are hard-wrapped)."""
    words = []
    for word in text.split():
        words.extend(textwrap.wrap(word, 30) or [word])
    lines: list[str] = []
    for word in words:
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= max_width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _contrast(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    return (0, 0, 0) if sum(rgb) > 380 else (255, 255, 255)


def render_meme(spec: MemeSpec) -> Image.Image:
    """Render ``spec`` to an RGB image (deterministic)."""
    image = _background(spec)
    if not spec.text.strip():  # a plain photo: no text block at all
        return _degrade(image, spec)
    draw = ImageDraw.Draw(image)
    size = spec.font_size
    font = _font(spec.font, size)
    margin = spec.width // 16
    lines = _wrap(spec.text, font, spec.width - 2 * margin)
    # Shrink until the text fits in 80 % of the height; memes with long texts use small type.
    while size > 12 and len(lines) * int(size * 1.2) > spec.height * 0.8:
        size -= 2
        font = _font(spec.font, size)
        lines = _wrap(spec.text, font, spec.width - 2 * margin)
    line_height = int(size * 1.2)
    block = len(lines) * line_height
    if spec.style == "caption_bar":
        bar = Image.new("RGB", (spec.width, block + 2 * margin), (255, 255, 255))
        photo = image.resize((spec.width, max(spec.height - bar.height, spec.height // 3)))
        image = Image.new("RGB", (spec.width, bar.height + photo.height), (255, 255, 255))
        image.paste(photo, (0, bar.height))
        draw = ImageDraw.Draw(image)
        positions = [(margin, margin + i * line_height) for i in range(len(lines))]
        fill, stroke, stroke_fill = (0, 0, 0), 0, (0, 0, 0)
    elif spec.style == "card":
        top = (spec.height - block) // 2
        pad = margin // 2
        card_fill = PALETTE[spec.font % len(PALETTE)]
        draw.rectangle(
            (margin - pad, top - pad, spec.width - margin + pad, top + block + pad), fill=card_fill
        )
        positions = [(margin, top + i * line_height) for i in range(len(lines))]
        fill, stroke, stroke_fill = _contrast(card_fill), 0, (0, 0, 0)
    else:
        if spec.style == "outlined_center":
            top = (spec.height - block) // 2
            positions = [(margin, top + i * line_height) for i in range(len(lines))]
        else:  # classic: first half of the lines at the top, the rest at the bottom
            half = (len(lines) + 1) // 2
            positions = [(margin, margin // 2 + i * line_height) for i in range(half)]
            bottom = spec.height - margin // 2 - (len(lines) - half) * line_height
            positions += [(margin, bottom + i * line_height) for i in range(len(lines) - half)]
        fill, stroke, stroke_fill = (255, 255, 255), max(2, size // 12), (0, 0, 0)
    for (x, y), line in zip(positions, lines, strict=True):
        width = font.getlength(line)
        x = int((image.width - width) / 2) if spec.style != "caption_bar" else x
        draw.text((x, y), line, font=font, fill=fill, stroke_width=stroke, stroke_fill=stroke_fill)
    return _degrade(image, spec)


def _degrade(image: Image.Image, spec: MemeSpec) -> Image.Image:
    """Sensor-like noise and JPEG re-compression, as images suffer on their way through platforms."""
    if spec.noise > 0:
        rng = np.random.default_rng(int(spec.key()[:8], 16))
        pixels = np.asarray(image, dtype=np.float32)
        pixels += rng.normal(0.0, spec.noise, pixels.shape)
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    if spec.jpeg_quality:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=spec.jpeg_quality)
        buffer.seek(0)
        image = Image.open(buffer).convert("RGB")
    return image


def random_spec(
    text: str,
    rng: np.random.Generator,
    photos: list[Path],
    *,
    augment: bool = False,
    gradients: bool = False,
) -> MemeSpec:
    """A random but reproducible rendering of ``text`` (half on photos, half on plain colours);
    ``augment`` also crops and flips the photo at random; ``gradients`` makes half of the plain
    backgrounds random two-colour gradients (synthetic images then look like more than 7 colours)."""
    if photos and rng.random() < 0.5:
        background = str(photos[int(rng.integers(len(photos)))])
    elif gradients and rng.random() < 0.5:
        background = random_gradient(rng)
    else:
        background = random_color(rng)
    style = STYLES[int(rng.integers(len(STYLES)))]
    if is_plain_background(background) and style.startswith("outlined") and rng.random() < 0.5:
        style = "card"
    crop, flip = (0.0, 0.0, 1.0, 1.0), False
    if augment and not is_plain_background(background):
        crop, flip = random_view(rng)
    return MemeSpec(
        text=text,
        background=background,
        style=style,
        font=int(rng.integers(len(available_fonts()))),
        font_size=int(rng.choice([22, 26, 30, 34, 40])),
        noise=float(rng.choice([0.0, 0.0, 4.0, 8.0])),
        jpeg_quality=int(rng.choice([0, 95, 75, 55])),
        width=int(rng.choice([448, 512, 576])),
        height=int(rng.choice([448, 512])),
        crop=crop,
        flip=flip,
    )
