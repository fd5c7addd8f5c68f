"""Safe decoding of untrusted image bytes into an RGB Pillow image, shared by the classifier and the service.

Guards, in order: empty input, format sniffed from the header against an allowlist (Pillow is
only asked to open formats we accept), pixel count from the header before any pixel is decoded
(decompression bombs), then a full decode (truncated or corrupt data), the first frame only for
animations, and a downscale so the longest side is at most ``max_side`` pixels.
"""

from __future__ import annotations

import io
import warnings

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


def decode_image(
    data: bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
    allowed_formats: frozenset[str] = ALLOWED_FORMATS,
) -> Image.Image:
    """Decode untrusted bytes into an RGB image no larger than ``max_side`` on its longest side.

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
    try:
        with warnings.catch_warnings():
            # Pillow warns about damaged metadata it skips (e.g. "Corrupt EXIF data"); the pixels are
            # still usable, and under ``-W error`` such a warning would escape as a non-ImageError.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("error", Image.DecompressionBombWarning)
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
            image.seek(0)  # animations: the first frame only
            image.load()
            image = ImageOps.exif_transpose(image) or image
            rgb = _to_rgb(image)
    except (ImageTooLargeError, CorruptImageError):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"image rejected as a decompression bomb: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptImageError(f"{sniffed} image could not be decoded: {exc}") from exc
    if max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return rgb


def _to_rgb(image: Image.Image) -> Image.Image:
    """Flatten transparency onto white (memes on transparent PNGs stay readable) and return RGB."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
