"""Decoding untrusted image bytes: accepted formats, hostile files, size guards."""

from __future__ import annotations

import io
import struct
import time
import warnings
import zlib

import pytest
from PIL import Image

from models.errors import CorruptImageError, ImageError, ImageTooLargeError, UnsupportedImageFormatError
from models.image_decoding import decode_image, open_image, sniff_format
from tests.utils.images import encode
from tests.utils.memory import MIB, peak_rss_growth

RED, BLUE = (220, 20, 20), (20, 20, 220)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(width: int, height: int, *, bit_depth: int = 8, colour: int = 0, idat: bytes = b"") -> bytes:
    """A PNG assembled by hand (valid CRCs), so a header can claim any size."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_allowed_formats_decode_to_rgb(fmt: str) -> None:
    source = Image.new("RGB", (64, 32), RED)
    image = decode_image(encode(source, fmt))
    assert image.mode == "RGB"
    assert image.size == (64, 32)
    r, g, b = image.getpixel((32, 16))  # type: ignore[misc]
    assert r > 180 and g < 70 and b < 70  # lossy formats move colours a little, never to another colour


def test_grayscale_and_palette_images_become_rgb() -> None:
    assert decode_image(encode(Image.new("L", (8, 8), 128), "PNG")).getpixel((0, 0)) == (128, 128, 128)
    palette = Image.new("RGB", (8, 8), BLUE).convert("P", palette=Image.Palette.ADAPTIVE)
    assert decode_image(encode(palette, "PNG")).getpixel((0, 0)) == BLUE


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (20, 20), RED), Image.new("RGB", (20, 20), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    r, _, b = decode_image(data).getpixel((10, 10))  # type: ignore[misc]
    assert r > 180 and b < 70


def test_transparency_is_flattened_onto_white() -> None:
    rgba = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    rgba.putpixel((5, 5), (0, 0, 255, 255))
    image = decode_image(encode(rgba, "PNG"))
    assert image.mode == "RGB"
    assert image.getpixel((0, 0)) == (255, 255, 255)  # not black: transparent memes stay readable
    assert image.getpixel((5, 5)) == (0, 0, 255)


def test_big_images_are_downscaled_to_max_side() -> None:
    image = decode_image(encode(Image.new("RGB", (3000, 1000), RED), "PNG"))
    assert image.size == (1024, 341)
    small = decode_image(encode(Image.new("RGB", (300, 600), RED), "JPEG"), max_side=100)
    assert small.size == (50, 100)
    assert decode_image(encode(Image.new("RGB", (30, 60), RED), "PNG"), max_side=100).size == (30, 60)


def test_exif_orientation_is_applied() -> None:
    source = Image.new("RGB", (60, 20), RED)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    assert decode_image(encode(source, "JPEG", exif=exif.tobytes())).size == (20, 60)


def test_damaged_exif_does_not_escape_as_a_warning() -> None:
    """A JPEG whose EXIF points past its end: Pillow warns and skips the tag; decoding must not leak that."""
    tiff = b"II*\x00" + struct.pack("<I", 8)
    entries = [(0x0112, 3, 1, 6), (0x010F, 2, 1000, 200)]  # Orientation ok; Make: 1000 bytes beyond the end
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    data = encode(Image.new("RGB", (64, 48), RED), "JPEG", exif=b"Exif\x00\x00" + tiff + ifd)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = decode_image(data)
    assert image.size == (48, 64)  # the intact Orientation tag still applies


# ----- refused inputs ----------------------------------------------------------------------------


def test_empty_input_is_corrupt() -> None:
    with pytest.raises(CorruptImageError, match="empty"):
        decode_image(b"")


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_jpeg_is_corrupt(cut: float) -> None:
    data = encode(Image.effect_noise((128, 128), 60).convert("RGB"), "JPEG", quality=90)
    with pytest.raises(CorruptImageError, match="JPEG"):
        decode_image(data[: int(len(data) * cut)])


def test_truncated_png_is_corrupt() -> None:
    data = encode(Image.effect_noise((128, 128), 60).convert("RGB"), "PNG")
    with pytest.raises(CorruptImageError, match="PNG"):
        decode_image(data[: len(data) // 2])


def test_random_bytes_are_refused() -> None:
    noise = bytes((i * 97 + 13) % 251 for i in range(4096))
    with pytest.raises(UnsupportedImageFormatError, match="not recognised"):
        decode_image(noise)
    with pytest.raises(CorruptImageError):
        decode_image(b"\xff\xd8\xff" + noise)  # a JPEG signature on garbage
    with pytest.raises(CorruptImageError):
        decode_image(b"GIF89a" + noise)


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("SVG", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'),
        ("SVG", b'  <svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
        ("TIFF", encode(Image.new("RGB", (8, 8), RED), "TIFF")),
        ("PDF", b"%PDF-1.4\n1 0 obj << >> endobj\n%%EOF"),
        ("BMP", encode(Image.new("RGB", (8, 8), RED), "BMP")),
    ],
)
def test_formats_outside_the_allowlist_are_refused_by_name(fmt: str, data: bytes) -> None:
    assert sniff_format(data) == fmt
    with pytest.raises(UnsupportedImageFormatError, match=rf"format {fmt} is not allowed") as info:
        decode_image(data)
    assert info.value.code == "image_unsupported_format"


def test_allowlist_can_be_narrowed() -> None:
    with pytest.raises(UnsupportedImageFormatError, match="GIF"):
        decode_image(encode(Image.new("RGB", (4, 4)), "GIF"), allowed_formats=frozenset({"PNG"}))


def test_header_claiming_a_huge_size_is_refused_before_decoding() -> None:
    data = png(50_000, 50_000)
    assert len(data) < 100
    # Pillow's own guard (2x MAX_IMAGE_PIXELS) fires first at this size; either way it is "too large"
    with pytest.raises(ImageTooLargeError, match=r"50000x50000|2500000000 pixels") as info:
        decode_image(data)
    assert info.value.code == "image_too_large"
    assert isinstance(info.value, ImageError)


def test_header_claiming_an_empty_size_is_corrupt() -> None:
    with pytest.raises(CorruptImageError):
        decode_image(png(0, 10))


def bomb(width: int, height: int) -> bytes:
    """A real all-black PNG (1-bit pixels): megapixels that compress to a few kilobytes."""
    row = b"\x00" + bytes(width // 8)  # filter byte + packed 1-bit pixels
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return png(width, height, bit_depth=1, idat=idat)


def test_decompression_bomb_is_refused_by_max_pixels() -> None:
    data = bomb(9_000, 9_000)  # below Pillow's own warning threshold (~89 Mpx): only max_pixels stops it
    assert len(data) < 100_000
    started = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="9000x9000 = 81,000,000 pixels.*limit of 10,000,000"):
        decode_image(data, max_pixels=10_000_000)
    assert time.perf_counter() - started < 2.0  # refused from the header, nothing decoded


def test_decompression_bomb_is_refused_by_pillow_guard() -> None:
    """With a lax ``max_pixels``, Pillow's own bomb warning is still turned into an error."""
    data = bomb(12_000, 12_000)
    assert len(data) < 100_000
    with pytest.raises(ImageTooLargeError, match="decompression bomb"):
        decode_image(data, max_pixels=10**12)


# --- decoding memory ----------------------------------------------------------------------------


def transparent_half_red(size: int) -> Image.Image:
    """Left half opaque red, right half fully transparent (zeros): PNG compresses it to ~KB."""
    picture = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    picture.paste((255, 0, 0, 255), (0, 0, size // 2, size))
    return picture


def test_a_small_png_claiming_hundreds_of_mib_decoded_is_refused_from_its_header() -> None:
    data = encode(Image.new("RGBA", (6320, 6320)), "PNG")  # ~155 KB of zeros, under 40 MP
    assert len(data) < 200_000
    with peak_rss_growth() as growth, pytest.raises(ImageTooLargeError, match="per-image limit of 192 MiB"):
        decode_image(data)
    assert growth.mib < 32, f"refusing it cost {growth.mib:.0f} MiB: the pixels were decoded"
    assert open_image(data, max_decode_bytes=2**40).decode_bytes > 300 * MIB


@pytest.mark.parametrize(
    ("picture", "fmt"),
    [
        (transparent_half_red(4000), "PNG"),
        (transparent_half_red(3000).convert("LA").convert("RGBA"), "PNG"),
        (Image.new("RGB", (5000, 3000), RED), "PNG"),
        (Image.new("1", (4000, 4000), 1), "PNG"),
        (transparent_half_red(3000).convert("P"), "GIF"),
    ],
    ids=["rgba", "la", "rgb", "bilevel", "palette"],
)
def test_large_images_decode_within_their_estimate(picture: Image.Image, fmt: str) -> None:
    data = encode(picture, fmt)
    estimate = open_image(data).decode_bytes
    with peak_rss_growth() as growth:
        image = decode_image(data)
    assert max(image.size) == 1024 and image.mode == "RGB"
    # The estimate bounds what a shared budget holds for this decode: measured peaks stay close.
    assert growth.bytes <= 1.25 * estimate + 16 * MIB, (growth.mib, estimate / MIB)


def test_shrinking_in_the_pixel_mode_keeps_colours_and_flattens_transparency_onto_white() -> None:
    image = decode_image(encode(transparent_half_red(4000), "PNG"))
    assert image.size == (1024, 1024)
    assert image.getpixel((100, 500)) == (255, 0, 0)
    assert image.getpixel((900, 500)) == (255, 255, 255)
    bilevel = decode_image(encode(Image.new("1", (3000, 2100), 1), "PNG"))
    assert bilevel.size == (1024, 717) and bilevel.getpixel((5, 5)) == (255, 255, 255)
