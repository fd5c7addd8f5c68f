"""Loading post images: inline base64, hostile files, and URL fetching without SSRF."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import ipaddress
import shutil
import socket
import ssl
import struct
import subprocess
import time
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from models.errors import ImageError
from models.image_decoding import decode_image, open_image
from service.errors import PostRejected
from service.moderation.contract import ImageRef
from service.moderation.images import ImageLimits, ImageLoader, LoadedImage
from service.settings import load_settings
from tests.utils.memory import peak_rss_growth

# --- image fixtures ---------------------------------------------------------------------------


def encoded(image: Image.Image, fmt: str, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def solid(
    size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30), mode: str = "RGB"
) -> Image.Image:
    return Image.new(mode, size, color if mode == "RGB" else 0)


def b64(data: bytes) -> ImageRef:
    return ImageRef(data=base64.b64encode(data).decode())


def png_with_size(width: int, height: int) -> bytes:
    """A small valid PNG whose IHDR is patched to claim ``width`` x ``height``."""
    data = bytearray(encoded(solid((8, 8)), "PNG"))
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def animated_gif() -> bytes:
    first, second = solid(color=(255, 0, 0)).convert("P"), solid(color=(0, 0, 255)).convert("P")
    return encoded(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


async def load(ref: ImageRef, limits: ImageLimits | None = None, **kwargs: object) -> LoadedImage:
    return await ImageLoader(limits or ImageLimits(), **kwargs).load(ref)  # type: ignore[arg-type]


async def rejected(ref: ImageRef, limits: ImageLimits | None = None, **kwargs: object) -> PostRejected:
    with pytest.raises(PostRejected) as caught:
        await load(ref, limits, **kwargs)
    return caught.value


# --- inline images ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
async def test_accepted_formats(fmt: str) -> None:
    raw = encoded(solid(), fmt)
    loaded = await load(b64(raw))
    assert loaded.image.mode == "RGB"
    assert loaded.image.size == (64, 48)
    assert loaded.sha256 == hashlib.sha256(raw).hexdigest()
    assert loaded.nbytes == len(raw)
    thumbnail = Image.open(io.BytesIO(loaded.thumbnail_jpeg))
    assert thumbnail.format == "JPEG"
    assert max(thumbnail.size) <= 320


async def test_large_image_is_downscaled_and_thumbnailed() -> None:
    loaded = await load(b64(encoded(solid((2048, 1024)), "PNG")))
    assert loaded.image.size == (1024, 512)
    assert Image.open(io.BytesIO(loaded.thumbnail_jpeg)).size == (320, 160)


async def test_animated_gif_gives_the_first_frame() -> None:
    loaded = await load(b64(animated_gif()))
    red, green, blue = loaded.image.getpixel((10, 10))  # type: ignore[misc]
    assert red > 200 and blue < 50


@pytest.mark.parametrize("data", ["not base64!", "aGk", "aGVs\nbG8=", "aGVsbG8=é", "aGVs bG8="])
async def test_invalid_base64(data: str) -> None:
    assert (await rejected(ImageRef(data=data))).code == "image_base64_invalid"


async def test_oversize_is_refused_before_decoding() -> None:
    # Not even valid base64: had it been decoded first, the code would be image_base64_invalid.
    error = await rejected(ImageRef(data="!" * 2_000_000), ImageLimits(max_bytes=1024))
    assert error.code == "image_too_many_bytes"


async def test_oversize_by_one_byte_after_decoding() -> None:
    # 1025 bytes encode to 1368 characters, which also fits 1024 bytes: the exact check runs after decoding.
    error = await rejected(b64(b"\x89PNG\r\n\x1a\n" + bytes(1017)), ImageLimits(max_bytes=1024))
    assert error.code == "image_too_many_bytes"


@pytest.mark.parametrize(
    "raw",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>',
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n",
        b"plain text, no image at all",
    ],
)
async def test_unsupported_formats(raw: bytes) -> None:
    assert (await rejected(b64(raw))).code == "image_unsupported_format"


@pytest.mark.parametrize("fmt", ["TIFF", "BMP"])
async def test_real_but_unsupported_formats(fmt: str) -> None:
    assert (await rejected(b64(encoded(solid(), fmt)))).code == "image_unsupported_format"


async def test_truncated_jpeg() -> None:
    raw = encoded(Image.effect_noise((256, 256), 64).convert("RGB"), "JPEG")
    error = await rejected(b64(raw[: len(raw) // 2]))
    assert error.code == "image_corrupt"


async def test_zero_bytes() -> None:
    # The contract refuses empty data; the loader still copes if handed one directly.
    error = await rejected(ImageRef.model_construct(data="", url=None))
    assert error.code == "image_corrupt"


async def test_header_claiming_50000_by_50000() -> None:
    started = time.perf_counter()
    error = await rejected(b64(png_with_size(50_000, 50_000)))
    assert error.code == "image_too_large"
    assert "pixels" in error.reason
    assert time.perf_counter() - started < 2


async def test_png_decompression_bomb() -> None:
    # 7000 x 7000 one-bit pixels: a few KB of PNG that would inflate to 49 megapixels.
    raw = encoded(Image.new("1", (7000, 7000)), "PNG")
    assert len(raw) < 100_000
    error = await rejected(b64(raw))
    assert error.code == "image_too_large"
    # And a stricter pixel limit applies to smaller images too.
    assert (await rejected(b64(encoded(solid((200, 200)), "PNG")), ImageLimits(max_pixels=10_000))).code == (
        "image_too_large"
    )


async def test_six_small_pngs_claiming_gigabytes_together_are_refused_without_decoding() -> None:
    # 6320 x 6320 transparent RGBA: ~155 KB each, under 40 MP, ~300 MiB each to decode and flatten.
    raw = encoded(Image.new("RGBA", (6320, 6320)), "PNG")
    loader = ImageLoader(ImageLimits(max_bytes=1024 * 1024))
    with peak_rss_growth() as growth:
        outcomes = await asyncio.gather(*(loader.load(b64(raw)) for _ in range(6)), return_exceptions=True)
    assert all(isinstance(o, PostRejected) and o.code == "image_too_large" for o in outcomes), outcomes
    assert "per-image limit" in str(outcomes[0])
    assert growth.mib < 64, f"six refusals cost {growth.mib:.0f} MiB"


async def test_a_batch_of_large_images_decodes_within_the_shared_budget() -> None:
    picture = Image.new("RGBA", (4000, 4000), (0, 0, 0, 0))
    picture.paste((255, 0, 0, 255), (0, 0, 2000, 4000))
    raw = encoded(picture, "PNG")  # ~70 KB; ~142 MiB to decode
    budget = 300 * 1024 * 1024  # two at a time
    loader = ImageLoader(ImageLimits(max_bytes=1024 * 1024, decode_budget_bytes=budget))
    with peak_rss_growth() as growth:
        loaded = await asyncio.gather(*(loader.load(b64(raw)) for _ in range(6)))
    assert [image.image.size for image in loaded] == [(1024, 1024)] * 6
    assert loaded[0].image.getpixel((10, 10)) == (255, 0, 0)
    # Six at once would need ~850 MiB; the budget lets two decode together, never three.
    per_image = open_image(raw).decode_bytes
    assert 2 * per_image <= budget < 3 * per_image
    assert loader.decode_budget.peak_held == 2 * per_image
    # And the process's memory agrees, with headroom for what the allocator and other threads of
    # the test process add (the bound still catches decodes that ignore the budget).
    assert growth.bytes < budget * 1.5 + 64 * 1024 * 1024, f"peak grew {growth.mib:.0f} MiB"


def test_limits_from_settings() -> None:
    settings_ = load_settings(
        kafka_bootstrap="localhost:9092",
        database_url="postgresql://postgres@127.0.0.1/postgres",
        image_max_bytes=2048,
        image_fetch_enabled=True,
        image_fetch_allowlist=["Images.Example.", "cdn.example"],
    )
    limits = ImageLimits.from_settings(settings_)
    assert limits.max_bytes == 2048
    assert limits.fetch_enabled is True
    assert limits.allow_private is False
    assert limits.allowlist == frozenset({"images.example", "cdn.example"})
    assert (limits.max_decode_bytes, limits.decode_budget_bytes) == (192 * 2**20, 384 * 2**20)


# --- fuzz: decode_image only ever raises ImageError ----------------------------------------------

_SEEDS = [encoded(solid((6, 5)), fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF")]
_MAGIC = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBP", b"<svg"]


@st.composite
def mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=256),
        st.tuples(st.sampled_from(_MAGIC), st.binary(max_size=256)).map(b"".join),
        mutated_images(),
    )
)
def test_decode_image_fuzz(data: bytes) -> None:
    with warnings.catch_warnings():
        # Pillow warns (e.g. about odd EXIF) where production only logs; only exceptions matter here.
        warnings.simplefilter("ignore", UserWarning)
        try:
            image = decode_image(data, max_pixels=1_000_000)
        except ImageError:
            return
    assert image.mode == "RGB"
    assert max(image.size) <= 1024


# --- URLs ---------------------------------------------------------------------------------------

PNG = encoded(solid((32, 32)), "PNG")
Handler = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass
class TestServer:
    """A raw HTTP/1.1 server on 127.0.0.1: every route is a coroutine that writes the whole answer."""

    __test__ = False
    port: int = 0
    routes: dict[str, Handler] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            headers = {
                name.strip().lower(): value.strip()
                for name, value in (line.split(":", 1) for line in head[1:] if line)
            }
            self.requests.append((path, headers))
            await self.routes.get(path, not_found)(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.tasks.discard(task)

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def respond(status: str, headers: dict[str, str], body: bytes = b"") -> Handler:
    async def handler(writer: asyncio.StreamWriter) -> None:
        lines = [
            f"HTTP/1.1 {status}",
            *(f"{k}: {v}" for k, v in headers.items()),
            "Connection: close",
            "",
            "",
        ]
        writer.write("\r\n".join(lines).encode() + body)
        await writer.drain()

    return handler


not_found = respond("404 Not Found", {"Content-Length": "0"})


def image_route(body: bytes = PNG, content_type: str = "image/png") -> Handler:
    return respond("200 OK", {"Content-Type": content_type, "Content-Length": str(len(body))}, body)


def redirect(location: str) -> Handler:
    return respond("302 Found", {"Location": location, "Content-Length": "0"})


async def never_answer(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


async def trickle(writer: asyncio.StreamWriter) -> None:
    """Headers, then one byte every 50 ms: no single read is slow, the whole answer never ends."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n")
    while True:
        writer.write(b"\x00")
        await writer.drain()
        await asyncio.sleep(0.05)


async def endless(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n")
    chunk = bytes(64 * 1024)
    while True:
        writer.write(chunk)
        await writer.drain()


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    state = TestServer()
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    state.port = listener.sockets[0].getsockname()[1]
    try:
        yield state
    finally:
        listener.close()
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await listener.wait_closed()


def resolver_for(table: dict[str, Sequence[str]]) -> Callable[[str, int], Awaitable[Sequence[str]]]:
    async def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


def fetching(**kwargs: object) -> ImageLimits:
    return ImageLimits(fetch_enabled=True, **kwargs)  # type: ignore[arg-type]


async def test_url_fetching_is_disabled_by_default(server: TestServer) -> None:
    server.routes["/a.png"] = image_route()
    error = await rejected(ImageRef(url=f"http://127.0.0.1:{server.port}/a.png"))
    assert error.code == "image_fetch_disabled"
    assert server.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.png",
        "http://10.0.0.1/a.png",
        "http://192.168.1.1/a.png",
        "http://172.16.0.1/a.png",
        "http://100.64.0.1/a.png",
        "http://0.0.0.0/a.png",
        "http://224.0.0.1/a.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/a.png",
        "http://[::]/a.png",
        "http://[fe80::1]/a.png",
        "http://[fc00::1]/a.png",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://[::ffff:a9fe:a9fe]/latest/meta-data/",
        "http://[64:ff9b::a00:1]/a.png",
        "http://[2002:7f00:1::]/a.png",
        "https://[::ffff:10.0.0.1]:8443/a.png",
    ],
)
async def test_private_addresses_are_forbidden(url: str) -> None:
    error = await rejected(ImageRef(url=url), fetching(), resolver=resolver_for({}))
    assert error.code == "image_url_forbidden", error.reason


async def test_host_names_are_resolved_by_the_system_resolver() -> None:
    # No monkeypatching: "localhost" and the decimal form of 127.0.0.1 go through getaddrinfo.
    for url in ("http://localhost/a.png", "http://2130706433/a.png"):
        error = await rejected(ImageRef(url=url), fetching())
        assert error.code == "image_url_forbidden", error.reason


@pytest.mark.parametrize(
    "answers", [["10.1.2.3"], ["93.184.216.34", "10.1.2.3"], ["2606:2800:220:1::", "::1"]]
)
async def test_every_resolved_address_is_checked(answers: list[str]) -> None:
    error = await rejected(
        ImageRef(url="http://images.test/a.png"), fetching(), resolver=resolver_for({"images.test": answers})
    )
    assert error.code == "image_url_forbidden"
    assert "images.test" in error.reason


async def test_metadata_address_stays_forbidden_with_allow_private() -> None:
    error = await rejected(ImageRef(url="http://169.254.169.254/latest/"), fetching(allow_private=True))
    assert error.code == "image_url_forbidden"
    assert "metadata" in error.reason


async def test_credentials_in_url_are_forbidden() -> None:
    error = await rejected(ImageRef(url="http://user:secret@images.test/a.png"), fetching(allow_private=True))
    assert error.code == "image_url_forbidden"
    assert "secret" not in error.reason


async def test_unresolvable_host_fails() -> None:
    error = await rejected(ImageRef(url="http://nowhere.test/a.png"), fetching(), resolver=resolver_for({}))
    assert error.code == "image_fetch_failed"


async def test_fetch_with_allow_private(server: TestServer) -> None:
    server.routes["/a.png"] = image_route()
    loaded = await load(ImageRef(url=f"http://127.0.0.1:{server.port}/a.png"), fetching(allow_private=True))
    assert loaded.sha256 == hashlib.sha256(PNG).hexdigest()
    assert loaded.image.size == (32, 32)


async def test_connection_goes_to_the_vetted_address_with_the_original_host(server: TestServer) -> None:
    # "images.test" exists only in our resolver: the fetch can only succeed by connecting to the
    # address we resolved (pinned), while the server still sees the name in the Host header.
    server.routes["/a.png"] = image_route()
    limits = fetching(allowlist=frozenset({"images.test"}))
    resolver = resolver_for({"images.test": ["127.0.0.1"]})
    loaded = await load(ImageRef(url=f"http://IMAGES.test:{server.port}/a.png"), limits, resolver=resolver)
    assert loaded.nbytes == len(PNG)
    assert server.requests[0][1]["host"] == f"images.test:{server.port}"
    assert server.requests[0][1]["accept-encoding"] == "identity"


async def test_redirects_are_rechecked(server: TestServer) -> None:
    # The first hop is allowed only because its *name* is allowlisted (allow_private is off); the
    # redirect points to the same server by its private address, which must be re-checked and refused.
    server.routes["/to-private"] = redirect(f"http://127.0.0.1:{server.port}/a.png")
    server.routes["/to-named"] = redirect(f"http://images.test:{server.port}/a.png")
    server.routes["/a.png"] = image_route()
    limits = fetching(allowlist=frozenset({"images.test"}))
    resolver = resolver_for({"images.test": ["127.0.0.1"]})

    error = await rejected(
        ImageRef(url=f"http://images.test:{server.port}/to-private"), limits, resolver=resolver
    )
    assert error.code == "image_url_forbidden"
    assert server.paths() == ["/to-private"]  # the private target was never contacted

    # Control: the same redirect through the allowlisted name is followed and succeeds.
    loaded = await load(ImageRef(url=f"http://images.test:{server.port}/to-named"), limits, resolver=resolver)
    assert loaded.nbytes == len(PNG)
    assert server.paths() == ["/to-private", "/to-named", "/a.png"]


@pytest.mark.parametrize(
    "location", ["http://169.254.169.254/latest/meta-data/", "file:///etc/passwd", "gopher://x/"]
)
async def test_redirects_to_forbidden_targets(server: TestServer, location: str) -> None:
    server.routes["/r"] = redirect(location)
    error = await rejected(ImageRef(url=f"http://127.0.0.1:{server.port}/r"), fetching(allow_private=True))
    assert error.code == "image_url_forbidden"


async def test_relative_redirects_and_the_redirect_limit(server: TestServer) -> None:
    server.routes["/1"] = redirect("/2")
    server.routes["/2"] = redirect("/3")
    server.routes["/3"] = redirect("/a.png")
    server.routes["/loop"] = redirect("/loop")
    server.routes["/a.png"] = image_route()
    limits = fetching(allow_private=True)
    loaded = await load(ImageRef(url=f"http://127.0.0.1:{server.port}/1"), limits)  # three redirects: allowed
    assert loaded.nbytes == len(PNG)
    error = await rejected(ImageRef(url=f"http://127.0.0.1:{server.port}/loop"), limits)
    assert error.code == "image_fetch_failed"
    assert "redirects" in error.reason
    assert server.paths().count("/loop") == 4


@pytest.mark.parametrize(
    ("route", "expected"),
    [
        (not_found, "HTTP 404"),
        (image_route(b"<html></html>", "text/html"), "not an image"),
        (respond("200 OK", {"Content-Length": "0"}), "not an image"),
        (
            respond(
                "200 OK",
                {"Content-Type": "image/png", "Content-Encoding": "gzip", "Content-Length": "3"},
                b"abc",
            ),
            "encoding",
        ),
        (respond("302 Found", {"Content-Length": "0"}), "Location"),
    ],
)
async def test_fetch_failures(server: TestServer, route: Handler, expected: str) -> None:
    server.routes["/x"] = route
    error = await rejected(ImageRef(url=f"http://127.0.0.1:{server.port}/x"), fetching(allow_private=True))
    assert error.code == "image_fetch_failed"
    assert expected in error.reason


async def test_fetched_bytes_are_decoded_like_inline_ones(server: TestServer) -> None:
    server.routes["/x.svg"] = image_route(b"<svg/>", "image/svg+xml")
    error = await rejected(
        ImageRef(url=f"http://127.0.0.1:{server.port}/x.svg"), fetching(allow_private=True)
    )
    assert error.code == "image_unsupported_format"


async def test_never_answering_server_times_out(server: TestServer) -> None:
    server.routes["/slow"] = never_answer
    started = time.perf_counter()
    error = await rejected(
        ImageRef(url=f"http://127.0.0.1:{server.port}/slow"),
        fetching(allow_private=True, fetch_timeout_s=0.3),
    )
    assert error.code == "image_fetch_failed"
    assert time.perf_counter() - started < 2


async def test_total_deadline_cuts_a_trickling_answer(server: TestServer) -> None:
    # Every read succeeds within 50 ms, so only a deadline over the whole fetch can stop this.
    server.routes["/trickle"] = trickle
    started = time.perf_counter()
    error = await rejected(
        ImageRef(url=f"http://127.0.0.1:{server.port}/trickle"),
        fetching(allow_private=True, fetch_timeout_s=0.5),
    )
    assert error.code == "image_fetch_failed"
    assert "within 0.5 s" in error.reason
    assert time.perf_counter() - started < 2


async def test_endless_stream_hits_the_byte_cap(server: TestServer) -> None:
    server.routes["/endless"] = endless
    error = await rejected(
        ImageRef(url=f"http://127.0.0.1:{server.port}/endless"),
        fetching(allow_private=True, max_bytes=256 * 1024),
    )
    assert error.code == "image_too_many_bytes"


async def test_declared_length_over_the_cap_is_refused_without_reading(server: TestServer) -> None:
    server.routes["/big"] = respond("200 OK", {"Content-Type": "image/png", "Content-Length": str(10**9)})
    error = await rejected(
        ImageRef(url=f"http://127.0.0.1:{server.port}/big"), fetching(allow_private=True, max_bytes=4096)
    )
    assert error.code == "image_too_many_bytes"


@dataclass
class Certificate:
    context: ssl.SSLContext  # what a client trusting this certificate uses
    server: ssl.SSLContext
    server_names: list[str | None]


def self_signed(tmp_path: Path, name: str) -> Certificate:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}"],
        check=True, capture_output=True,
    )  # fmt: skip
    names: list[str | None] = []
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    server.sni_callback = lambda _sock, server_name, _ctx: names.append(server_name)  # type: ignore[assignment,misc,unused-ignore]
    return Certificate(ssl.create_default_context(cafile=str(cert)), server, names)


@pytest.mark.parametrize(("cert_name", "succeeds"), [("images.test", True), ("other.test", False)])
async def test_https_is_pinned_and_verified_against_the_host_name(
    tmp_path: Path, cert_name: str, succeeds: bool
) -> None:
    certificate = self_signed(tmp_path, cert_name)
    state = TestServer(routes={"/a.png": image_route()})
    listener = await asyncio.start_server(state.handle, "127.0.0.1", 0, ssl=certificate.server)
    port = listener.sockets[0].getsockname()[1]
    loader = ImageLoader(
        fetching(allowlist=frozenset({"images.test"})),
        resolver=resolver_for({"images.test": ["127.0.0.1"]}),
        ssl_context=certificate.context,
    )
    try:
        if succeeds:
            loaded = await loader.load(ImageRef(url=f"https://images.test:{port}/a.png"))
            assert loaded.nbytes == len(PNG)
            assert state.requests[0][1]["host"] == f"images.test:{port}"
        else:
            with pytest.raises(PostRejected) as caught:
                await loader.load(ImageRef(url=f"https://images.test:{port}/a.png"))
            assert caught.value.code == "image_fetch_failed"
            assert state.requests == []
        # The TLS handshake named the host, not the address connected to.
        assert certificate.server_names == ["images.test"]
    finally:
        listener.close()
        for task in list(state.tasks):
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await listener.wait_closed()


# --- fuzz: the loader (base64 + decoder) and the SSRF address check --------------------------------

_LOADER_CODES = {
    "image_base64_invalid",
    "image_too_many_bytes",
    "image_corrupt",
    "image_unsupported_format",
    "image_too_large",
}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(max_size=64),
        st.binary(max_size=256).map(lambda raw: base64.b64encode(raw).decode()),
        mutated_images().map(lambda raw: base64.b64encode(raw).decode()),
    )
)
def test_image_loader_fuzz(data: str) -> None:
    loader = ImageLoader(ImageLimits(max_bytes=4096, max_pixels=1_000_000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            loaded = asyncio.run(loader.load(ImageRef.model_construct(data=data, url=None)))
        except PostRejected as exc:
            assert exc.code in _LOADER_CODES, exc
            return
    assert loaded.image.mode == "RGB"
    assert Image.open(io.BytesIO(loaded.thumbnail_jpeg)).format == "JPEG"


async def _answer_from_the_name(host: str, port: int) -> Sequence[str]:
    # "a<address as hex>.v<4|6>.images.example": one loader (its TLS context costs ~50 ms) for all examples.
    label, version = host.split(".")[:2]
    kind = ipaddress.IPv6Address if version == "v6" else ipaddress.IPv4Address
    return [str(kind(int(label[1:], 16)))]


_SSRF_LOADER = ImageLoader(fetching(), resolver=_answer_from_the_name)


def _refused(address: str) -> PostRejected:
    """Fetch from a host name that resolves to ``address``: must be refused before any connection."""
    parsed = ipaddress.ip_address(address)
    host = f"a{int(parsed):x}.v{parsed.version}.images.example"
    with pytest.raises(PostRejected) as caught:
        asyncio.run(_SSRF_LOADER.load(ImageRef(url=f"http://{host}/a.png")))
    return caught.value


@settings(max_examples=200, deadline=None)
@given(st.ip_addresses().filter(lambda address: not address.is_global))
def test_no_address_outside_the_public_internet_is_ever_fetched(address: object) -> None:
    assert _refused(str(address)).code == "image_url_forbidden"


@settings(max_examples=100, deadline=None)
@given(st.ip_addresses(v=4).filter(lambda address: not address.is_global))
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(address: object) -> None:
    embedded = int(address)  # type: ignore[call-overload]
    for form in (
        f"::ffff:{address}",
        f"64:ff9b::{address}",
        f"2002:{embedded >> 16:x}:{embedded & 0xFFFF:x}::1",
    ):
        assert _refused(form).code == "image_url_forbidden", form


# --- the explicit deny list (not the interpreter's ipaddress flags) ------------------------------

SPECIAL_PURPOSE = [
    "192.0.0.1",  # IETF protocol assignments: "global" on builds without the CVE-2024-4032 fix
    "192.0.0.170",
    "192.0.2.10",
    "198.18.0.1",
    "198.51.100.7",
    "203.0.113.9",
    "240.0.0.1",
    "100.64.0.1",
    "10.1.2.3",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "2001:db8::1",
    "2001::1",  # Teredo
    "64:ff9b:1::1",
    "100::1",
    "fc00::1",
    "fec0::1",
    "::1",
]


@pytest.fixture
def interpreter_calls_everything_global(monkeypatch: pytest.MonkeyPatch) -> None:
    """Simulate an interpreter whose ipaddress flags are wrong (CVE-2024-4032 and worse): every
    address claims to be global, public and unreserved."""
    for kind in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        for flag, value in (
            ("is_global", True),
            ("is_private", False),
            ("is_reserved", False),
            ("is_loopback", False),
            ("is_link_local", False),
            ("is_multicast", False),
            ("is_unspecified", False),
        ):
            monkeypatch.setattr(kind, flag, property(_constant(value)))
    monkeypatch.setattr(ipaddress.IPv6Address, "is_site_local", property(_constant(False)))


def _constant(value: bool) -> Callable[[object], bool]:
    def flag(self: object) -> bool:
        return value

    return flag


@pytest.mark.parametrize("address", SPECIAL_PURPOSE)
def test_special_purpose_ranges_are_refused_even_when_the_interpreter_calls_them_global(
    address: str, interpreter_calls_everything_global: None
) -> None:
    assert _refused(address).code == "image_url_forbidden"


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("169.254.10.20", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.100.100.200", "metadata"),
        ("169.254.170.2", "metadata"),
        ("fd00:ec2::254", "metadata"),
    ],
)
async def test_link_local_unspecified_multicast_and_metadata_stay_refused_with_allow_private(
    address: str, why: str
) -> None:
    async def resolve(host: str, port: int) -> Sequence[str]:
        return [address]

    error = await rejected(
        ImageRef(url="http://images.test/a.png"), fetching(allow_private=True), resolver=resolve
    )
    assert error.code == "image_url_forbidden"
    assert why in error.reason


def test_a_public_address_is_still_allowed_with_the_deny_list() -> None:
    from service.moderation.address_policy import address_problem

    assert address_problem(ipaddress.ip_address("93.184.215.14"), allow_private=False) is None
    assert address_problem(ipaddress.ip_address("2606:4700::1111"), allow_private=False) is None
    assert address_problem(ipaddress.ip_address("10.0.0.1"), allow_private=True) is None
