"""From a post's :class:`~service.moderation.contract.ImageRef` to a decoded, size-limited RGB image.

Everything here handles hostile input. Inline images are size-checked on their base64 length
before a byte is decoded. URL images (off by default) are fetched without server-side request
forgery: the host is resolved here, *every* address it resolves to is checked, and the
connection goes to that checked address (the original name travels in ``Host`` and TLS SNI), so
a second DNS answer cannot swap in an internal address. Redirects are followed by hand and
checked the same way; one deadline covers the whole fetch and the body is read under a byte cap.
Pixel work (decode, downscale, thumbnail) runs in a worker thread to keep the event loop free,
under a memory budget shared by every decode in flight (``service/moderation/decode_budget.py``): each image's
header is read first, an image whose decode would need more than ``max_decode_bytes`` is refused,
and the others wait until their decode fits in ``decode_budget_bytes``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import httpx
from PIL import Image

from models.errors import ImageError
from models.image_decoding import (
    DEFAULT_MAX_DECODE_BYTES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_SIDE,
    OpenedImage,
    finish_decode,
    open_image,
)
from service.errors import PostRejected
from service.moderation.address_policy import IPAddress, address_problem, normalise_host, parse_ip
from service.moderation.contract import ImageRef
from service.moderation.decode_budget import DecodeBudget

if TYPE_CHECKING:
    from service.settings import CommonSettings

#: ``async (host, port) -> addresses``; the default asks the system resolver via ``loop.getaddrinfo``.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

THUMBNAIL_SIDE = 320
MAX_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class ImageLimits:
    """What an image may cost: bytes, pixels, and whether and how URLs are fetched."""

    max_bytes: int = 8 * 1024 * 1024
    max_pixels: int = DEFAULT_MAX_PIXELS
    #: Memory one image's decode may need (estimated from its header) before it is refused.
    max_decode_bytes: int = DEFAULT_MAX_DECODE_BYTES
    #: Memory all decodes in flight may hold together.
    decode_budget_bytes: int = 2 * DEFAULT_MAX_DECODE_BYTES
    max_side: int = DEFAULT_MAX_SIDE
    thumbnail_side: int = THUMBNAIL_SIDE
    fetch_enabled: bool = False
    fetch_timeout_s: float = 5.0
    allow_private: bool = False
    #: Host names (lower case, ASCII) fetched whatever they resolve to, metadata addresses included.
    allowlist: frozenset[str] = frozenset()
    max_redirects: int = MAX_REDIRECTS

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> ImageLimits:
        """The limits configured by ``POSTGUARD_IMAGE_*``."""
        return cls(
            max_bytes=settings.image_max_bytes,
            max_pixels=settings.image_max_pixels,
            max_decode_bytes=settings.image_max_decode_bytes,
            decode_budget_bytes=settings.image_decode_budget_bytes,
            fetch_enabled=settings.image_fetch_enabled,
            fetch_timeout_s=settings.image_fetch_timeout_s,
            allow_private=settings.image_fetch_allow_private,
            allowlist=frozenset(normalise_host(host) for host in settings.image_fetch_allowlist),
        )


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image with what the service stores about it."""

    image: Image.Image  # RGB, longest side at most ``ImageLimits.max_side``
    sha256: str  # hex digest of the original bytes
    nbytes: int  # size of the original bytes
    thumbnail_jpeg: bytes  # longest side at most ``ImageLimits.thumbnail_side``, for the review page


class ImageLoader:
    """Loads the image of a post within :class:`ImageLimits`, raising :class:`PostRejected` otherwise."""

    def __init__(
        self,
        limits: ImageLimits,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``resolver`` and ``ssl_context`` (default: system DNS, certifi CAs) exist for private CAs and tests."""
        self._limits = limits
        self._budget = DecodeBudget(max(limits.decode_budget_bytes, limits.max_decode_bytes))
        self._resolve = resolver or _system_resolver
        self._ssl = ssl_context

    @property
    def decode_budget(self) -> DecodeBudget:
        """The memory budget every decode of this loader holds while it runs."""
        return self._budget

    async def load(self, ref: ImageRef) -> LoadedImage:
        """Decode inline data, or fetch the URL when fetching is enabled; the pixels are decoded off-loop."""
        if ref.data is not None:
            self._check_base64_length(ref.data)
            return await self._decode(await asyncio.to_thread(self._base64_bytes, ref.data))
        if ref.url is None:
            raise ValueError("ImageRef has neither data nor url")
        if not self._limits.fetch_enabled:
            raise PostRejected(
                "image_fetch_disabled",
                "image URLs are not fetched by this deployment; send the image inline as data",
            )
        return await self._decode(await self._fetch(ref.url))

    # --- inline images -------------------------------------------------------------------------

    def _check_base64_length(self, data: str) -> None:
        # Four base64 characters carry three bytes: refuse before decoding anything.
        longest = 4 * -(-self._limits.max_bytes // 3)
        if len(data) > longest:
            raise PostRejected(
                "image_too_many_bytes",
                f"inline image is about {len(data) * 3 // 4:,} bytes, more than the limit of {self._limits.max_bytes:,}",
            )

    def _base64_bytes(self, data: str) -> bytes:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise PostRejected(
                "image_base64_invalid",
                "image data is not valid base64 (standard alphabet, padded, no whitespace)",
            ) from None
        if len(raw) > self._limits.max_bytes:
            raise PostRejected(
                "image_too_many_bytes",
                f"inline image is {len(raw):,} bytes, more than the limit of {self._limits.max_bytes:,}",
            )
        return raw

    async def _decode(self, raw: bytes) -> LoadedImage:
        """Header first (off-loop), then the pixels while holding their memory in the budget."""
        opened = await asyncio.to_thread(self._open, raw)
        async with self._budget.hold(opened.decode_bytes):
            return await asyncio.to_thread(self._finish, raw, opened)

    def _open(self, raw: bytes) -> OpenedImage:
        limits = self._limits
        try:
            return open_image(
                raw,
                max_pixels=limits.max_pixels,
                max_side=limits.max_side,
                max_decode_bytes=limits.max_decode_bytes,
            )
        except ImageError as exc:
            raise PostRejected(exc.code, str(exc)) from None

    def _finish(self, raw: bytes, opened: OpenedImage) -> LoadedImage:
        try:
            image = finish_decode(opened, max_side=self._limits.max_side)
        except ImageError as exc:
            raise PostRejected(exc.code, str(exc)) from None
        return LoadedImage(
            image=image,
            sha256=hashlib.sha256(raw).hexdigest(),
            nbytes=len(raw),
            thumbnail_jpeg=_thumbnail_jpeg(image, self._limits.thumbnail_side),
        )

    # --- URL images ----------------------------------------------------------------------------

    async def _fetch(self, url: str) -> bytes:
        limits = self._limits
        transport = httpx.AsyncHTTPTransport(verify=self._ssl_context(), retries=0)
        try:
            async with (
                asyncio.timeout(limits.fetch_timeout_s),
                # trust_env=False: a proxy from the environment would connect by name and undo the pinning.
                httpx.AsyncClient(
                    transport=transport, trust_env=False, timeout=limits.fetch_timeout_s
                ) as client,
            ):
                for _ in range(limits.max_redirects + 1):
                    target = await self._check_url(url)
                    body, location = await self._get(client, target)
                    if body is not None:
                        return body
                    url = location
                raise PostRejected("image_fetch_failed", f"more than {limits.max_redirects} redirects")
        except TimeoutError:
            raise PostRejected(
                "image_fetch_failed", f"image URL did not answer completely within {limits.fetch_timeout_s} s"
            ) from None
        except httpx.HTTPError as exc:
            raise PostRejected(
                "image_fetch_failed", f"image request failed: {type(exc).__name__}: {exc}"[:200]
            ) from None

    def _ssl_context(self) -> ssl.SSLContext:
        # Loading the CA bundle takes milliseconds; do it once per loader, not once per fetch.
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()
        return self._ssl

    async def _check_url(self, url: str) -> _Target:
        """Parse, resolve and vet one URL (the first or a redirect's); raise ``image_url_forbidden``."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise _forbidden("the URL is not valid") from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise _forbidden(f"scheme {scheme[:16] or '(none)'!r} is not http or https")
        if parts.username is not None or parts.password is not None:
            raise _forbidden("URLs with credentials are not fetched")
        if not parts.hostname:
            raise _forbidden("the URL has no host")
        port = port or _DEFAULT_PORTS[scheme]
        literal = parse_ip(parts.hostname)
        if literal is not None:
            host = literal.compressed
            addresses: list[IPAddress] = [literal]
        else:
            try:
                host = normalise_host(parts.hostname)
            except UnicodeError:
                raise _forbidden("the host name is not valid") from None
            addresses = await self._resolve_host(host, port)
        if host not in self._limits.allowlist:
            for address in addresses:
                problem = address_problem(address, allow_private=self._limits.allow_private)
                if problem is not None:
                    raise _forbidden(f"host {host[:64]} resolves to {address} ({problem})")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return _Target(
            url=url,
            scheme=scheme,
            host=host,
            port=port,
            address=addresses[0],
            path=path,
            literal=literal is not None,
        )

    async def _resolve_host(self, host: str, port: int) -> list[IPAddress]:
        try:
            answers = await self._resolve(host, port)
        except OSError as exc:
            raise PostRejected(
                "image_fetch_failed", f"host {host[:64]} could not be resolved ({exc})"[:200]
            ) from None
        addresses = []
        for answer in answers:
            address = parse_ip(answer)
            if address is not None and address not in addresses:
                addresses.append(address)
        if not addresses:
            raise PostRejected("image_fetch_failed", f"host {host[:64]} resolved to no address")
        return addresses

    async def _get(self, client: httpx.AsyncClient, target: _Target) -> tuple[bytes | None, str]:
        """One request to the pinned address: the body, or ``(None, next_url)`` for a redirect."""
        ip = f"[{target.address}]" if target.address.version == 6 else str(target.address)
        shown_host = f"[{target.host}]" if ":" in target.host else target.host
        headers = {
            "Host": shown_host
            if target.port == _DEFAULT_PORTS[target.scheme]
            else f"{shown_host}:{target.port}",
            "Accept": "image/jpeg, image/png, image/webp, image/gif",
            # Compressed bodies would be inflated by httpx past our byte cap in one step (a gzip bomb).
            "Accept-Encoding": "identity",
            "User-Agent": "postguard-image-fetcher",
        }
        # The certificate must match the name, not the address we connect to.
        extensions = {} if target.literal or target.scheme == "http" else {"sni_hostname": target.host}
        request_url = f"{target.scheme}://{ip}:{target.port}{target.path}"
        async with client.stream("GET", request_url, headers=headers, extensions=extensions) as response:
            if response.status_code in _REDIRECT_STATUSES:
                location = response.headers.get("location")
                if not location:
                    raise PostRejected(
                        "image_fetch_failed", f"HTTP {response.status_code} redirect without a Location"
                    )
                return None, urljoin(target.url, location)
            if response.status_code != 200:
                raise PostRejected(
                    "image_fetch_failed", f"HTTP {response.status_code} from {target.host[:64]}"
                )
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if not content_type.startswith("image/"):
                raise PostRejected(
                    "image_fetch_failed", f"content type {content_type[:40] or '(none)'!r} is not an image"
                )
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                raise PostRejected(
                    "image_fetch_failed", f"content encoding {encoding[:20]!r} is not accepted"
                )
            return await self._read_capped(response, target.host), ""

    async def _read_capped(self, response: httpx.Response, host: str) -> bytes:
        cap = self._limits.max_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise _too_many_bytes(host, cap)
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > cap:
                raise _too_many_bytes(host, cap)
        return bytes(body)


@dataclass(frozen=True)
class _Target:
    url: str  # as given: redirects are resolved against it
    scheme: str
    host: str  # lower-case ASCII name, or the compressed IP literal
    port: int
    address: IPAddress  # the vetted address the connection goes to
    path: str  # path and query
    literal: bool  # the URL named an IP address, not a host name


async def _system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def _forbidden(reason: str) -> PostRejected:
    return PostRejected("image_url_forbidden", reason)


def _too_many_bytes(host: str, cap: int) -> PostRejected:
    return PostRejected(
        "image_too_many_bytes", f"image at {host[:64]} is larger than the limit of {cap:,} bytes"
    )


def _thumbnail_jpeg(image: Image.Image, side: int) -> bytes:
    thumbnail = image.copy()
    thumbnail.thumbnail((side, side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    thumbnail.save(buffer, format="JPEG", quality=80)
    return buffer.getvalue()
