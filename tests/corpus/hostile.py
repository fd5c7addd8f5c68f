"""The hostile and broken input corpus: every kind of message a moderation service must survive.

:func:`build_corpus` returns :class:`Case` objects, each a raw Kafka message value (or ``None``, a
tombstone) with the outcome it must end in: a dead-letter code, or :data:`DECIDED` (a safe
decision). Generated, not stored: the images are built with Pillow at run time, and the URL cases
point at a :class:`~tests.corpus.server.HostileImageServer` whose routes :func:`install_routes`
sets up. The service under test must run with the limits of :data:`SERVICE_SETTINGS`.

Every text and author id carries :data:`TEXT_MARKER` / :data:`AUTHOR_MARKER`, so tests can assert
that neither ever shows up in logs or metrics.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import struct
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .server import HostileImageServer, endless, gzipped, html, image, never_answer, redirect, trickle

DECIDED = "decided"
TEXT_MARKER = "ZEBRAQUOKKA"
AUTHOR_MARKER = "AUTHORX7Q"
CREATED_AT = "2026-01-02T03:04:05Z"
#: The name the image server is reached by: the only host allowed despite resolving to loopback.
ALLOWED_HOST = "localhost"
#: What the service must be configured with for the expectations below to hold.
SERVICE_SETTINGS: dict[str, object] = {
    "max_message_bytes": 2 * 1024 * 1024,
    "image_max_bytes": 1024 * 1024,
    "image_fetch_enabled": True,
    "image_fetch_timeout_s": 2.0,
    "image_fetch_allowlist": [ALLOWED_HOST],
}
#: Producer limit large enough for the oversized message (the broker takes up to 20 MB).
PRODUCER_MAX_REQUEST_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Case:
    """One hostile message: ``kind`` names it, ``expect`` is a DLQ code or :data:`DECIDED`."""

    kind: str
    value: bytes | None
    expect: str

    @property
    def post_id(self) -> str:
        return f"h-{self.kind}"


def _post(kind: str, **fields: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "post_id": f"h-{kind}",
        "author_id": f"{AUTHOR_MARKER}-{kind}",
        "created_at": CREATED_AT,
        "text": f"{TEXT_MARKER} caption of {kind}",
    }
    document.update(fields)
    return {k: v for k, v in document.items() if v is not _DROP}


_DROP = object()


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


def _encoded(picture: Image.Image, fmt: str, **save: Any) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _png_claiming(width: int, height: int) -> bytes:
    """A valid 8x8 PNG whose IHDR (CRC fixed up) claims ``width`` x ``height``."""
    data = bytearray(_encoded(Image.new("RGB", (8, 8), (9, 9, 9)), "PNG"))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A valid small JPEG whose SOF0 marker claims ``width`` x ``height``."""
    data = bytearray(_encoded(Image.new("RGB", (16, 16), (200, 10, 10)), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _corrupt_png() -> bytes:
    data = bytearray(_encoded(Image.effect_noise((64, 64), 50).convert("RGB"), "PNG"))
    start = data.index(b"IDAT") + 8
    for i in range(start, start + 40):
        data[i] ^= 0xA5
    return bytes(data)


def _many_frames_gif(frames: int) -> bytes:
    first = Image.new("P", (16, 16), 1)
    rest = [Image.new("P", (16, 16), i % 250) for i in range(frames - 1)]
    return _encoded(first, "GIF", save_all=True, append_images=rest, duration=10, loop=0)


def _private_host_name() -> str | None:
    """A DNS name (from the system resolver) that resolves only to non-global addresses, if any."""
    import ipaddress

    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        return None
    if addresses and all(not ipaddress.ip_address(str(a).split("%")[0]).is_global for a in addresses):
        return name.lower()
    return None


def install_routes(server: HostileImageServer) -> None:
    """The server's routes used by the URL cases."""
    png = _encoded(Image.new("RGB", (40, 30), (20, 120, 200)), "PNG")
    base = f"http://127.0.0.1:{server.port}"
    server.routes.update(
        {
            "/ok.png": image(png),
            "/svg": image(b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "image/svg+xml"),
            "/to-loopback": redirect(f"{base}/ok.png"),
            "/to-metadata": redirect("http://169.254.169.254/latest/meta-data/iam/"),
            "/to-ipv6-loopback": redirect(f"http://[::1]:{server.port}/ok.png"),
            "/to-private-name": redirect(f"http://{_private_host_name() or '10.0.0.1'}:{server.port}/ok.png"),
            "/loop": redirect("/loop"),
            "/hang": never_answer,
            "/endless": endless,
            "/trickle": trickle,
            "/html": html(),
            "/gzip": gzipped(png),
        }
    )


def build_corpus(port: int) -> list[Case]:
    """Every hostile kind; ``port`` is the :class:`HostileImageServer`'s."""
    allowed = f"http://{ALLOWED_HOST}:{port}"
    cases: list[Case] = []

    def add(kind: str, value: bytes | None, expect: str) -> None:
        cases.append(Case(kind, value, expect))

    def post(kind: str, expect: str, **fields: Any) -> None:
        add(kind, _json(_post(kind, **fields)), expect)

    # --- the message itself -------------------------------------------------------------------
    add("empty_value", b"", "invalid_json")
    add("tombstone", None, "invalid_json")
    add("not_json", f"{TEXT_MARKER} plain words".encode(), "invalid_json")
    add("truncated_json", _json(_post("truncated_json"))[:40], "invalid_json")
    add("json_array", b"[1, 2, 3]", "schema_violation")
    add("json_string", b'"a string"', "schema_violation")
    add("nan_number", _json(_post("nan_number"))[:-1] + b', "metadata": {"x": NaN}}', "invalid_json")
    add(
        "huge_integer",
        _json(_post("huge_integer"))[:-1] + b', "metadata": {"x": ' + b"9" * 5000 + b"}}",
        "invalid_json",
    )
    add("deep_nesting", b"[" * 100_000 + b"]" * 100_000, "invalid_json")
    add(
        "invalid_utf8",
        _json(_post("invalid_utf8")).replace(b"caption", b"capt\xff\xfeion"),
        "invalid_encoding",
    )
    add("utf8_bom", b"\xef\xbb\xbf" + _json(_post("utf8_bom")), "invalid_json")
    add(
        "oversized_message",
        _json(_post("oversized_message", text="x" * (3 * 1024 * 1024))),
        "message_too_large",
    )
    post("missing_fields", "schema_violation", author_id=_DROP, created_at=_DROP)
    post("wrong_types", "schema_violation", post_id=12345, author_id=["a"], text={"t": 1})
    post("unknown_field", "schema_violation", txt="typo")
    post("null_post_id", "schema_violation", post_id=None)
    post("post_id_too_long", "schema_violation", post_id="p" * 129)
    post("post_id_crlf", "schema_violation", post_id="h-crlf\r\n00:00:00 INFO    postguard: forged")
    post("post_id_escape_sequence", "schema_violation", post_id="h-esc\x1b[2J\x1b[31m")
    post("post_id_bidi_override", "schema_violation", post_id="h-bidi\u202egnp.exe")
    add(
        "duplicate_key",
        _json(_post("duplicate_key"))[:-1] + f', "text": "{TEXT_MARKER} the other text"}}'.encode(),
        "invalid_json",
    )
    post("nul_in_text", "schema_violation", text=f"{TEXT_MARKER} a\u0000b")
    post("lone_surrogate", "schema_violation", text=f"{TEXT_MARKER} \ud800")
    post("huge_text", "text_too_long", text=TEXT_MARKER + "y" * 1_000_000)
    post("blank_text", "empty_post", text=" \n\t ")
    post("created_at_far_future", "created_at_in_future", created_at="9999-12-31T23:59:59Z")
    post("created_at_unix_number", "schema_violation", created_at=1_767_323_045)
    post("created_at_naive", "schema_violation", created_at="2026-01-02T03:04:05")
    post("created_at_before_year_1", "schema_violation", created_at="0001-01-01T00:00:00+14:00")
    post("metadata_too_big", "schema_violation", metadata={"k": "v" * 70_000})
    deep: dict[str, Any] = {}
    for _ in range(40):
        deep = {"d": deep}
    post("metadata_too_deep", "schema_violation", metadata=deep)
    post("lang_invalid", "schema_violation", lang="en_US; DROP TABLE posts")
    # Valid, if unusual: these must be decided and stored as sent.
    post("sql_injection_text", DECIDED, text=f"{TEXT_MARKER} '); DROP TABLE decisions; -- \\x00")
    post("unicode_text", DECIDED, text=f"{TEXT_MARKER} \u202egnp.exe \u200b\u200d 🧨 עִבְרִית 漢字")
    post("text_at_limit", DECIDED, text=TEXT_MARKER + "z" * (10_000 - len(TEXT_MARKER)))
    post("hostile_metadata_keys", DECIDED, metadata={"__proto__": {"admin": True}, "$where": "1==1"})
    post("duplicate_post_id", DECIDED, text=f"{TEXT_MARKER} first version")
    cases.append(
        Case("duplicate_post_id", _json(_post("duplicate_post_id", text=f"{TEXT_MARKER} edited")), DECIDED)
    )

    # --- inline images ------------------------------------------------------------------------
    noise = Image.effect_noise((128, 128), 60).convert("RGB")
    jpeg = _encoded(noise, "JPEG")
    post("image_valid_png", DECIDED, image={"data": _b64(_encoded(noise, "PNG"))})
    post("image_base64_invalid", "image_base64_invalid", image={"data": "%%%not base64%%%"})
    post(
        "image_data_url_prefix", "image_base64_invalid", image={"data": "data:image/png;base64," + _b64(jpeg)}
    )
    post("image_zero_bytes", "schema_violation", image={"data": ""})
    post("image_three_zero_bytes", "image_unsupported_format", image={"data": "AAAA"})
    post("image_truncated_jpeg", "image_corrupt", image={"data": _b64(jpeg[: len(jpeg) // 2])})
    post("image_corrupt_png", "image_corrupt", image={"data": _b64(_corrupt_png())})
    post(
        "image_png_claims_50000x50000", "image_too_large", image={"data": _b64(_png_claiming(50_000, 50_000))}
    )
    post(
        "image_jpeg_claims_65500x65500",
        "image_too_large",
        image={"data": _b64(_jpeg_claiming(65_500, 65_500))},
    )
    bomb = _encoded(Image.new("1", (8000, 8000)), "PNG")  # 64 MP in a few KB
    post("image_png_bomb", "image_too_large", image={"data": _b64(bomb)})
    big = _encoded(Image.new("1", (5000, 5000)), "PNG")  # 25 MP: under the limit, decoded and downscaled
    post("image_png_25_megapixels", DECIDED, image={"data": _b64(big)})
    post("image_gif_3000_frames", DECIDED, image={"data": _b64(_many_frames_gif(3000))})
    # ~155 KB each and under 40 MP, but ~300 MiB each to decode and flatten: refused from the
    # header (six in a row: together they once raised peak memory by ~2.9 GiB).
    transparent = _encoded(Image.new("RGBA", (6320, 6320)), "PNG")
    for i in range(6):
        post(f"image_rgba_6320_transparent_{i}", "image_too_large", image={"data": _b64(transparent)})
    # ~140 MiB each to decode: under the per-image limit, decoded within the shared decode budget.
    half = Image.new("RGBA", (4000, 4000), (0, 0, 0, 0))
    half.paste((200, 30, 30, 255), (0, 0, 2000, 4000))
    half_png = _encoded(half, "PNG")
    for i in range(3):
        post(f"image_rgba_4000_half_transparent_{i}", DECIDED, image={"data": _b64(half_png)})
    post(
        "image_svg",
        "image_unsupported_format",
        image={"data": _b64(b'<svg xmlns="http://www.w3.org/2000/svg"/>')},
    )
    post("image_tiff", "image_unsupported_format", image={"data": _b64(_encoded(noise, "TIFF"))})
    post("image_pdf", "image_unsupported_format", image={"data": _b64(b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n")})
    post("image_bmp", "image_unsupported_format", image={"data": _b64(_encoded(noise, "BMP"))})
    too_many = b"\x89PNG\r\n\x1a\n" + bytes(1024 * 1024 + 100)
    post("image_over_byte_limit", "image_too_many_bytes", image={"data": _b64(too_many)})
    post("image_data_and_url", "schema_violation", image={"data": _b64(jpeg), "url": f"{allowed}/ok.png"})

    # --- image URLs (fetching enabled, only the allowlisted name may resolve to loopback) --------
    post("url_allowed_host", DECIDED, image={"url": f"{allowed}/ok.png"})
    post("url_loopback_literal", "image_url_forbidden", image={"url": f"http://127.0.0.1:{port}/ok.png"})
    post("url_private_10", "image_url_forbidden", image={"url": "http://10.1.2.3/a.png"})
    post(
        "url_metadata_service",
        "image_url_forbidden",
        image={"url": "http://169.254.169.254/latest/meta-data/"},
    )
    post("url_ipv6_loopback", "image_url_forbidden", image={"url": f"http://[::1]:{port}/ok.png"})
    post(
        "url_ipv4_mapped_ipv6",
        "image_url_forbidden",
        image={"url": f"http://[::ffff:127.0.0.1]:{port}/ok.png"},
    )
    post("url_decimal_ip", "image_url_forbidden", image={"url": f"http://2130706433:{port}/ok.png"})
    private_name = _private_host_name()
    if private_name is not None and private_name != ALLOWED_HOST:
        post(
            "url_name_resolving_private",
            "image_url_forbidden",
            image={"url": f"http://{private_name}:{port}/ok.png"},
        )
    post("url_redirect_to_loopback", "image_url_forbidden", image={"url": f"{allowed}/to-loopback"})
    post("url_redirect_to_metadata", "image_url_forbidden", image={"url": f"{allowed}/to-metadata"})
    post("url_redirect_to_ipv6_loopback", "image_url_forbidden", image={"url": f"{allowed}/to-ipv6-loopback"})
    post("url_redirect_to_private_name", "image_url_forbidden", image={"url": f"{allowed}/to-private-name"})
    post(
        "url_credentials",
        "image_url_forbidden",
        image={"url": f"http://user:pw@{ALLOWED_HOST}:{port}/ok.png"},
    )
    post("url_file_scheme", "schema_violation", image={"url": "file:///etc/passwd"})
    post("url_redirect_loop", "image_fetch_failed", image={"url": f"{allowed}/loop"})
    post("url_never_answers", "image_fetch_failed", image={"url": f"{allowed}/hang"})
    post("url_streams_forever", "image_too_many_bytes", image={"url": f"{allowed}/endless"})
    post("url_trickles", "image_fetch_failed", image={"url": f"{allowed}/trickle"})
    post("url_not_an_image", "image_fetch_failed", image={"url": f"{allowed}/html"})
    post("url_gzip_encoded", "image_fetch_failed", image={"url": f"{allowed}/gzip"})
    post("url_svg_content", "image_unsupported_format", image={"url": f"{allowed}/svg"})
    post("url_not_found", "image_fetch_failed", image={"url": f"{allowed}/missing"})
    return cases
