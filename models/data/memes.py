"""The meme generator: renders post texts into images, the way harmful content hides from text filters.

No image dataset with moderation labels is available, so images are made: a text drawn onto a
COCO photo or a plain/colour background, in one of several fonts, sizes, positions and styles,
with optional noise and JPEG re-compression. Every image is a pure function of its
:class:`MemeSpec`, so datasets are reproducible and caches keyed by the spec stay valid.

Three catalogues of fonts and layouts (``random_spec(..., layouts=...)``):

- ``classic``: the first generator's 5 DejaVu faces and 4 styles (outlined top/bottom, outlined
  centre, caption bar, card). The benchmark's post mix is drawn from it, so it never changes
  (but for glyph fallback: emoji that DejaVu Serif and Mono lack are drawn, not boxed).
- ``train``: what real memes look like, for training: classic plus heavy condensed sans faces
  (Fjalla One, Source Sans Pro Black, Lato Bold: OFL, from PyPI font packages), two-panel memes,
  screenshots of posts, small type, stickers and watermarks.
- ``held_out``: faces (Lato Black and Black Italic, Fredoka One) and layouts (stacked panels,
  chat bubbles) that training never renders, for measuring how image text generalises.

Every face draws with glyph fallback (:mod:`models.data.fallback_font`): a character it lacks
(Cyrillic and Greek look-alikes in the Latin-only faces, emoji) is drawn with DejaVu Sans Bold,
as real renderers do, not as an empty box.
"""

from __future__ import annotations

import hashlib
import io
import textwrap
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .fallback_font import FallbackFont, borrows_glyphs, draw_text

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
#: Layouts real memes have that the classic styles lack; training renders them.
EXTRA_TRAIN_STYLES = ("panels", "post_screenshot")
#: Layouts only evaluation renders.
HELD_OUT_STYLES = ("stacked_panels", "chat_bubble")
TRAIN_STYLES = STYLES + EXTRA_TRAIN_STYLES
#: (package, file) of the fonts beyond DejaVu; MemeSpec.font indexes DejaVu first (0-4), then these.
PACKAGED_FONTS = (
    ("font_fjallaone", "FjallaOne-Regular.ttf"),
    ("font_source_sans_pro", "SourceSansPro-Black.ttf"),
    ("font_lato", "Lato-Bold.ttf"),
    ("font_lato", "Lato-Black.ttf"),
    ("font_lato", "Lato-BlackItalic.ttf"),
    ("font_fredoka_one", "FredokaOne-Regular.ttf"),
)
#: Font indexes each catalogue draws from.
FONT_CHOICES: dict[str, tuple[int, ...]] = {
    "classic": (0, 1, 2, 3, 4),
    "train": (0, 1, 2, 3, 4, 5, 6, 7),
    "held_out": (8, 9, 10),
}
LAYOUTS = ("classic", "train", "held_out")
STICKER_COLOURS = ((255, 205, 40), (255, 120, 160), (120, 220, 255), (150, 240, 140))
WATERMARKS = ("made with memeapp", "@funnypage", "memes daily", "imgflip-ish", "@the_daily_laugh")
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
    #: a photo path, "color:R,G,B", "gradient:R,G,B:R,G,B" (top to bottom), "art:FAMILY:SEED"
    #: (models/data/art.py) or "chart:KIND:SEED" (models/data/charts.py)
    background: str
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
    #: A small, faint watermark in a corner (index into WATERMARKS; -1 = none).
    watermark: int = -1
    #: A round sticker (an emoji-like face) pasted over a corner (index into STICKER_COLOURS; -1 = none).
    sticker: int = -1

    def key(self) -> str:
        """A digest of the spec, for caches of what its image gives (e.g. OCR reads). A text with
        characters its face lacks renders differently since glyph fallback, so its key says so."""
        spec = repr(self)
        if borrows_glyphs(font_path(self.font), _fallback_path(), self.text):
            spec += "|glyph-fallback"
        return hashlib.sha256(spec.encode()).hexdigest()[:24]


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


@cache
def packaged_font(index: int) -> str | None:
    """The file of ``PACKAGED_FONTS[index]`` when its package is installed, else ``None``."""
    import importlib.util

    package, name = PACKAGED_FONTS[index]
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(next(iter(found.submodule_search_locations))) / "files" / name
    return str(path) if path.is_file() else None


def font_path(index: int) -> str:
    """The file of font ``index`` ('' = Pillow's built-in font)."""
    fonts = available_fonts()
    if index >= len(FONT_NAMES) and index - len(FONT_NAMES) < len(PACKAGED_FONTS):
        # a missing font package falls back to the first DejaVu face rather than failing a render
        return packaged_font(index - len(FONT_NAMES)) or fonts[0]
    return fonts[index % len(fonts)]


def _fallback_path() -> str:
    """DejaVu Sans Bold (Latin, Greek, Cyrillic) when installed, else '' (no fallback)."""
    first = available_fonts()[0]
    return first if Path(first).name == FONT_NAMES[0] else ""


def _font(index: int, size: int) -> FallbackFont:
    path = font_path(index)
    primary = ImageFont.truetype(path, size) if path else ImageFont.load_default(size=size)
    return FallbackFont(primary, path, _fallback_path(), size)


@lru_cache(maxsize=64)
def _open_photo(path: str) -> Image.Image:
    with Image.open(path) as image:
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            # icons and clip-art: transparent parts on white, as an app shows them
            rgba = image.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
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
    if spec.background.startswith("art:"):
        from .art import render_art

        return render_art(spec.background, spec.width, spec.height)
    if spec.background.startswith("chart:"):
        from .charts import render_chart

        return render_chart(spec.background, spec.width, spec.height)
    return _photo(spec.background, spec.width, spec.height, spec.crop, spec.flip)


def is_plain_background(background: str) -> bool:
    """A flat colour, a gradient, procedural art or a chart (no photo to crop)."""
    return background.startswith(("color:", "gradient:", "art:", "chart:"))


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


def _wrap(text: str, font: FallbackFont, max_width: int) -> list[str]:
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
    if spec.style in _LAYOUT_RENDERERS:
        image = _LAYOUT_RENDERERS[spec.style](spec, image)
        return _degrade(_decorate(image, spec), spec)
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
        draw_text(draw, (x, y), line, font, fill=fill, stroke_width=stroke, stroke_fill=stroke_fill)
    return _degrade(_decorate(image, spec), spec)


def _fitted_lines(
    text: str, spec: MemeSpec, max_width: int, max_height: int
) -> tuple[FallbackFont, list[str], int]:
    """The font, wrapped lines and line height that fit ``text`` into a box (shrinking the type)."""
    size = spec.font_size
    font = _font(spec.font, size)
    lines = _wrap(text, font, max_width)
    while size > 12 and len(lines) * int(size * 1.2) > max_height:
        size -= 2
        font = _font(spec.font, size)
        lines = _wrap(text, font, max_width)
    return font, lines, int(size * 1.2)


def _outlined(
    draw: ImageDraw.ImageDraw,
    lines: list[str],
    font: FallbackFont,
    *,
    centre_x: int,
    top: int,
    line_height: int,
) -> None:
    stroke = max(2, line_height // 14)
    for i, line in enumerate(lines):
        x = int(centre_x - font.getlength(line) / 2)
        draw_text(
            draw,
            (x, top + i * line_height),
            line,
            font,
            fill=(255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0),
        )


def _halves(text: str) -> tuple[str, str]:
    words = text.split()
    cut = max(1, (len(words) + 1) // 2)
    return " ".join(words[:cut]), " ".join(words[cut:])


def _render_panels(spec: MemeSpec, background: Image.Image) -> Image.Image:
    """Two panels side by side (the same picture, the right one mirrored), half the text on each."""
    half = spec.width // 2
    left = background.resize((half, spec.height))
    image = Image.new("RGB", (spec.width, spec.height), (0, 0, 0))
    image.paste(left, (0, 0))
    image.paste(left.transpose(Image.Transpose.FLIP_LEFT_RIGHT), (half, 0))
    draw = ImageDraw.Draw(image)
    draw.line((half, 0, half, spec.height), fill=(0, 0, 0), width=4)
    for index, part in enumerate(_halves(spec.text)):
        if part:
            font, lines, line_height = _fitted_lines(part, spec, half - 16, int(spec.height * 0.8))
            _outlined(draw, lines, font, centre_x=index * half + half // 2, top=8, line_height=line_height)
    return image


def _render_post_screenshot(spec: MemeSpec, background: Image.Image) -> Image.Image:
    """A screenshot of a social-media post: avatar, name, handle, the text in dark type on white,
    and the picture (if any) below as an attachment."""
    margin = spec.width // 16
    font, lines, line_height = _fitted_lines(spec.text, spec, spec.width - 2 * margin, int(spec.height * 0.5))
    header = 56
    text_block = len(lines) * line_height + margin
    picture_height = spec.height // 2 if not is_plain_background(spec.background) else 0
    height = margin + header + text_block + picture_height + 40
    image = Image.new("RGB", (spec.width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    avatar = PALETTE[spec.font_size % len(PALETTE)]
    draw.ellipse((margin, margin, margin + 40, margin + 40), fill=avatar)
    small = _font(1, 15)
    draw_text(draw, (margin + 52, margin + 2), "Sam R.", _font(0, 16), fill=(20, 20, 20))
    draw_text(draw, (margin + 52, margin + 22), "@sam_r · 3h", small, fill=(110, 110, 110))
    top = margin + header
    for i, line in enumerate(lines):
        draw_text(draw, (margin, top + i * line_height), line, font, fill=(15, 20, 25))
    if picture_height:
        attachment = background.resize((spec.width - 2 * margin, picture_height))
        image.paste(attachment, (margin, top + text_block))
    footer = height - 28
    for i in range(4):
        x = margin + i * (spec.width - 2 * margin) // 4
        draw.rectangle((x, footer, x + 14, footer + 12), outline=(150, 150, 150), width=2)
    return image


def _render_document(spec: MemeSpec, background: Image.Image) -> Image.Image:
    """A screenshot of a text document: a title bar, then the text left-aligned in dark type on a
    light page (the picture, if any, is not shown)."""
    margin = spec.width // 14
    page = (250, 250, 246) if spec.font_size % 2 else (255, 255, 255)
    image = Image.new("RGB", (spec.width, spec.height), page)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, spec.width, 28), fill=(225, 228, 235))
    for i in range(3):
        draw.ellipse(
            (10 + i * 18, 9, 20 + i * 18, 19), fill=((235, 90, 80), (240, 190, 60), (90, 190, 90))[i]
        )
    font, lines, line_height = _fitted_lines(
        spec.text, replace(spec, font_size=min(spec.font_size, 24)), spec.width - 2 * margin, spec.height - 80
    )
    for i, line in enumerate(lines):
        draw_text(draw, (margin, 44 + i * line_height), line, font, fill=(30, 30, 35))
    return image


def _render_stacked_panels(spec: MemeSpec, background: Image.Image) -> Image.Image:
    """Held out: two or three panels stacked vertically, a part of the text over each."""
    words = spec.text.split()
    count = 3 if len(words) >= 9 else 2
    parts = [" ".join(words[i * len(words) // count : (i + 1) * len(words) // count]) for i in range(count)]
    panel_height = spec.height // count
    image = Image.new("RGB", (spec.width, spec.height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for index, part in enumerate(parts):
        panel = background.resize((spec.width, panel_height))
        if index % 2:
            panel = panel.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        image.paste(panel, (0, index * panel_height))
        draw.line((0, index * panel_height, spec.width, index * panel_height), fill=(255, 255, 255), width=5)
        if part:
            font, lines, line_height = _fitted_lines(part, spec, spec.width - 24, int(panel_height * 0.8))
            top = index * panel_height + (panel_height - len(lines) * line_height) // 2
            _outlined(draw, lines, font, centre_x=spec.width // 2, top=top, line_height=line_height)
    return image


def _render_chat_bubble(spec: MemeSpec, background: Image.Image) -> Image.Image:
    """Held out: a dark-mode chat screenshot, the text in one or two speech bubbles."""
    image = Image.new("RGB", (spec.width, spec.height), (18, 18, 24))
    draw = ImageDraw.Draw(image)
    margin = spec.width // 12
    parts = [p for p in _halves(spec.text) if p] if len(spec.text.split()) >= 8 else [spec.text]
    top = margin
    for index, part in enumerate(parts):
        width = int(spec.width * 0.75)
        font, lines, line_height = _fitted_lines(part, spec, width - 24, int(spec.height * 0.38))
        height = len(lines) * line_height + 20
        left = margin if index % 2 == 0 else spec.width - margin - width
        colour = (48, 48, 58) if index % 2 == 0 else (40, 110, 230)
        draw.rounded_rectangle((left, top, left + width, top + height), radius=16, fill=colour)
        for i, line in enumerate(lines):
            draw_text(draw, (left + 12, top + 10 + i * line_height), line, font, fill=(240, 240, 240))
        top += height + margin // 2
    return image


_LAYOUT_RENDERERS = {
    "panels": _render_panels,
    "post_screenshot": _render_post_screenshot,
    "document": _render_document,
    "stacked_panels": _render_stacked_panels,
    "chat_bubble": _render_chat_bubble,
}


def _decorate(image: Image.Image, spec: MemeSpec) -> Image.Image:
    """Stickers and watermarks: what reposting apps and people add to memes."""
    if spec.sticker < 0 and spec.watermark < 0:
        return image
    image = image.copy()
    draw = ImageDraw.Draw(image)
    if spec.sticker >= 0:
        size = max(32, min(image.size) // 6)
        x, y = image.width - size - 8, image.height - size - 8
        colour = STICKER_COLOURS[spec.sticker % len(STICKER_COLOURS)]
        draw.ellipse((x, y, x + size, y + size), fill=colour, outline=(40, 40, 40), width=2)
        eye = size // 8
        draw.ellipse(
            (x + size // 3 - eye, y + size // 3, x + size // 3 + eye, y + size // 3 + 2 * eye),
            fill=(30, 30, 30),
        )
        draw.ellipse(
            (x + 2 * size // 3 - eye, y + size // 3, x + 2 * size // 3 + eye, y + size // 3 + 2 * eye),
            fill=(30, 30, 30),
        )
        draw.arc(
            (x + size // 4, y + size // 3, x + 3 * size // 4, y + 3 * size // 4),
            20,
            160,
            fill=(30, 30, 30),
            width=3,
        )
    if spec.watermark >= 0:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        mark = WATERMARKS[spec.watermark % len(WATERMARKS)]
        draw_text(
            ImageDraw.Draw(overlay), (6, image.height - 18), mark, _font(1, 12), fill=(255, 255, 255, 110)
        )
        image = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    return image


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
    layouts: str = "classic",
) -> MemeSpec:
    """A random but reproducible rendering of ``text`` (half on photos, half on plain colours);
    ``augment`` also crops and flips the photo at random; ``gradients`` makes half of the plain
    backgrounds random two-colour gradients (synthetic images then look like more than 7 colours).
    ``layouts`` picks the catalogue of fonts and styles (module docstring); ``classic`` draws
    exactly what the first generator drew, so existing sets stay the same."""
    if layouts not in LAYOUTS:
        raise ValueError(f"layouts must be one of {LAYOUTS}, got {layouts!r}")
    if layouts != "classic":
        return _random_modern_spec(text, rng, photos, augment=augment, gradients=gradients, layouts=layouts)
    background = _random_background(rng, photos, gradients=gradients, photo_share=0.5)
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


def _random_background(
    rng: np.random.Generator, photos: list[Path], *, gradients: bool, photo_share: float
) -> str:
    """A photo (``photo_share`` of the time, when there are photos), else a gradient (half the
    rest, with ``gradients``) or a flat colour."""
    if photos and rng.random() < photo_share:
        return str(photos[int(rng.integers(len(photos)))])
    if gradients and rng.random() < 0.5:
        return random_gradient(rng)
    return random_color(rng)


def _random_modern_spec(
    text: str, rng: np.random.Generator, photos: list[Path], *, augment: bool, gradients: bool, layouts: str
) -> MemeSpec:
    """A rendering from the ``train`` or ``held_out`` catalogue (more photos: real memes are
    mostly text over busy pictures; small type; stickers and watermarks now and then)."""
    background = _random_background(rng, photos, gradients=gradients, photo_share=0.65)
    styles = TRAIN_STYLES if layouts == "train" else HELD_OUT_STYLES + ("outlined_top_bottom", "card")
    style = styles[int(rng.integers(len(styles)))]
    crop, flip = (0.0, 0.0, 1.0, 1.0), False
    if augment and not is_plain_background(background):
        crop, flip = random_view(rng)
    fonts = FONT_CHOICES[layouts]
    return MemeSpec(
        text=text,
        background=background,
        style=style,
        font=fonts[int(rng.integers(len(fonts)))],
        font_size=int(rng.choice([16, 18, 22, 26, 30, 34, 40, 48])),
        noise=float(rng.choice([0.0, 0.0, 4.0, 8.0])),
        jpeg_quality=int(rng.choice([0, 95, 75, 55])),
        width=int(rng.choice([448, 512, 576])),
        height=int(rng.choice([448, 512])),
        crop=crop,
        flip=flip,
        watermark=int(rng.integers(len(WATERMARKS))) if rng.random() < 0.25 else -1,
        sticker=int(rng.integers(len(STICKER_COLOURS))) if rng.random() < 0.2 else -1,
    )
