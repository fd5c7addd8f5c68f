"""Safe decoding of untrusted image bytes into an RGB Pillow image, shared by the classifier and the service.

Guards, in order: empty input, format sniffed from the header against an allowlist (Pillow is
only asked to open formats we accept), pixel count from the header before any pixel is decoded
(decompression bombs), the memory the decode will need, estimated from the header, against a
per-image limit (a 155 KB PNG of 6320 x 6320 transparent pixels needs ~500 MiB decoded and
flattened), then a full decode (truncated or corrupt data), the first frame only for animations,
and a downscale so the longest side is at most ``max_side`` pixels.

Decoding is split in two (:func:`open_image` reads the header, :func:`finish_decode` decodes the
pixels) so that a caller decoding many images at once can hold a shared memory budget for
:attr:`OpenedImage.decode_bytes` between the two (``service/moderation/decode_budget.py``).

Memory is kept near the decoded size: JPEGs decode at a reduced scale (libjpeg draft mode), and
any image at least twice ``max_side`` is shrunk by an integer factor in its own pixel mode before
it is flattened to RGB, so the full-size image is never copied.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image, ImageOps

from .errors import CorruptImageError, ImageTooLargeError, UnsupportedImageFormatError

#: Formats postguard accepts, as Pillow names them.
ALLOWED_FORMATS: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
#: 40 megapixels: larger than any phone photo, far below a decompression bomb.
DEFAULT_MAX_PIXELS = 40_000_000
#: Images are reduced to this longest side before anything else touches them.
DEFAULT_MAX_SIDE = 1024


def sniff_format(data: bytes) -> str | None:
    """Name the image format from its magic bytes, or ``None`` if it is not one we know."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if data[:4] == b"%PDF":
        return "PDF"
    if data[:2] == b"BM":
        return "BMP"
    head = data[:512].lstrip().lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "SVG"
    return None


#: Memory one image's decode may need (see :func:`decode_bytes`): a 40 MP RGB PNG or a 24 MP
#: RGBA one, far above a phone photo (which decodes at a reduced scale anyway) or a screenshot.
DEFAULT_MAX_DECODE_BYTES = 192 * 1024 * 1024
#: Pixel modes ``Image.reduce`` shrinks in place of a full-size conversion.
_REDUCIBLE_MODES = frozenset({"L", "LA", "RGB", "RGBA", "I", "F", "CMYK", "PA"})
_MIB = 1024 * 1024


@dataclass
class OpenedImage:
    """An image whose header is read and checked; its pixels are not decoded yet."""

    image: Image.Image
    format: str
    #: Upper bound of the bytes decoding and flattening it will hold at once.
    decode_bytes: int


def pixel_bytes(mode: str) -> int:
    """Bytes Pillow stores per pixel in ``mode`` (RGB is stored in four bytes, like RGBA)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith("I;16"):
        return 2
    return 4


def decode_bytes(width: int, height: int, mode: str, max_side: int) -> int:
    """Memory :func:`finish_decode` needs for an image of this decoded size and mode: the decoded
    pixels, plus a full-size converted copy where the mode cannot be shrunk as it is, plus the
    full-size copies of the flattening (RGB, white background, resampling) when the image is not
    shrunk first. Measured peaks are within ~20 % of it (docs/reliability.md)."""
    area = width * height
    decoded = area * pixel_bytes(mode)
    factor = max(width, height) // max_side
    if factor >= 2:
        # reduce() shrinks images with alpha premultiplied: one full-size RGBa/La copy.
        converted = 0 if mode in _REDUCIBLE_MODES and mode not in ("RGBA", "LA") else area * 4
        small = -(-width // factor) * -(-height // factor) * 4 * 3
        return decoded + converted + small
    return decoded + area * 4 * 3


def open_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    allowed_formats: frozenset[str] = ALLOWED_FORMATS,
) -> OpenedImage:
    """Read and check the header of untrusted bytes, decoding no pixels.

    Raises :class:`CorruptImageError`, :class:`UnsupportedImageFormatError` or
    :class:`ImageTooLargeError` with a message that says what was wrong.
    """
    if not data:
        raise CorruptImageError("image is empty (0 bytes)")
    sniffed = sniff_format(data)
    if sniffed is None:
        raise UnsupportedImageFormatError(
            f"image format not recognised from its first bytes; allowed: {', '.join(sorted(allowed_formats))}"
        )
    if sniffed not in allowed_formats:
        raise UnsupportedImageFormatError(
            f"image format {sniffed} is not allowed; allowed: {', '.join(sorted(allowed_formats))}"
        )
    with _decoding_errors(sniffed):
        image: Image.Image = Image.open(io.BytesIO(data), formats=[sniffed])
        width, height = image.size
        if width <= 0 or height <= 0:
            raise CorruptImageError(f"image header declares an empty size {width}x{height}")
        if width * height > max_pixels:
            raise ImageTooLargeError(
                f"image header declares {width}x{height} = {width * height:,} pixels, "
                f"more than the limit of {max_pixels:,}"
            )
        if sniffed == "JPEG":
            # Draft mode lets libjpeg decode at 1/2, 1/4 or 1/8 scale: far less work for big photos.
            image.draft("RGB", (max_side, max_side))
        needed = decode_bytes(*image.size, image.mode, max_side)
        if needed > max_decode_bytes:
            raise ImageTooLargeError(
                f"decoding this {width}x{height} {image.mode} {sniffed} needs about {needed / _MIB:,.0f} MiB, "
                f"more than the per-image limit of {max_decode_bytes / _MIB:,.0f} MiB"
            )
    return OpenedImage(image=image, format=sniffed, decode_bytes=needed)


def finish_decode(opened: OpenedImage, *, max_side: int = DEFAULT_MAX_SIDE) -> Image.Image:
    """Decode the pixels of an :class:`OpenedImage` into RGB, longest side at most ``max_side``."""
    with _decoding_errors(opened.format):
        image = opened.image
        image.seek(0)  # animations: the first frame only
        image.load()
        image = _shrink_in_mode(image, max_side)
        image = ImageOps.exif_transpose(image) or image
        rgb = _to_rgb(image)
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return rgb


def decode_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES,
    allowed_formats: frozenset[str] = ALLOWED_FORMATS,
) -> Image.Image:
    """Decode untrusted bytes into an RGB image no larger than ``max_side`` on its longest side.

    Raises :class:`CorruptImageError`, :class:`UnsupportedImageFormatError` or
    :class:`ImageTooLargeError` with a message that says what was wrong.
    """
    opened = open_image(
        data,
        max_pixels=max_pixels,
        max_side=max_side,
        max_decode_bytes=max_decode_bytes,
        allowed_formats=allowed_formats,
    )
    return finish_decode(opened, max_side=max_side)


@contextlib.contextmanager
def _decoding_errors(fmt: str) -> Iterator[None]:
    """Pillow's errors and warnings on hostile data as :class:`ImageError` subclasses."""
    try:
        with warnings.catch_warnings():
            # Pillow warns about damaged metadata it skips (e.g. "Corrupt EXIF data"); the pixels are
            # still usable, and under ``-W error`` such a warning would escape as a non-ImageError.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except (ImageTooLargeError, CorruptImageError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"image rejected as a decompression bomb: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImageError(f"{fmt} image could not be decoded: {exc}") from exc


def _shrink_in_mode(image: Image.Image, max_side: int) -> Image.Image:
    """Shrink by the largest integer factor that keeps the longest side at least ``max_side``
    (box filter), before any full-size copy is made; modes ``reduce`` cannot take are converted
    first (palette and bilevel images: one full-size copy, counted by :func:`decode_bytes`, as is
    the premultiplied copy ``reduce`` makes of images with alpha)."""
    factor = max(image.size) // max_side
    if factor < 2:
        return image
    if image.mode not in _REDUCIBLE_MODES:
        if image.mode == "1":
            target = "L"
        elif image.mode == "P" and "transparency" in image.info:
            target = "RGBA"
        else:
            target = "RGB"
        image = image.convert(target)
    return image.reduce(factor)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white (memes on transparent PNGs stay readable) and return RGB."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
