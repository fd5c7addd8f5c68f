"""From a post's :class:`~service.contract.ImageRef` to a decoded, size-limited RGB image.

Everything here handles hostile input. Inline images are size-checked on their base64 length
before a byte is decoded. URL images (off by default) are fetched without server-side request
forgery: the host is resolved here, *every* address it resolves to is checked, and the
connection goes to that checked address (the original name travels in ``Host`` and TLS SNI), so
a second DNS answer cannot swap in an internal address. Redirects are followed by hand and
checked the same way; one deadline covers the whole fetch and the body is read under a byte cap.
Pixel work (decode, downscale, thumbnail) runs in a worker thread to keep the event loop free,
under a memory budget shared by every decode in flight (``service/decode_budget.py``): each image's
header is read first, an image whose decode would need more than ``max_decode_bytes`` is refused,
and the others wait until their decode fits in ``decode_budget_bytes``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import io
import ipaddress
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

from .contract import ImageRef
from .decode_budget import DecodeBudget
from .errors import PostRejected

if TYPE_CHECKING:
    from .settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``async (host, port) -> addresses``; the default asks the system resolver via ``loop.getaddrinfo``.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

THUMBNAIL_SIDE = 320
MAX_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Cloud instance-metadata endpoints hand out credentials: refused even with allow_private.
_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Oracle, DigitalOcean...
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task credentials
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)


def _networks(
    *specs: tuple[str, str],
) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.ip_network(net), name) for net, name in specs)


# The special-purpose ranges (IANA's IPv4 and IPv6 special-purpose address registries), listed
# here rather than read from the interpreter's ``ipaddress`` flags: builds before the fix of
# CVE-2024-4032 call 192.0.0.0/24 and others global. The flags stay as a second check.
#: Never fetched, whatever POSTGUARD_IMAGE_FETCH_ALLOW_PRIVATE says: no web server lives there.
_ALWAYS_DENIED = _networks(
    ("0.0.0.0/8", "unspecified ('this network')"),
    ("169.254.0.0/16", "link-local"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("::/128", "unspecified"),
    ("fe80::/10", "link-local"),
    ("ff00::/8", "multicast"),
)
#: Fetched only with POSTGUARD_IMAGE_FETCH_ALLOW_PRIVATE (or an allowlisted host name).
_PRIVATE_OR_SPECIAL = _networks(
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.31.196.0/24", "AS112"),
    ("192.52.193.0/24", "AMT"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private"),
    ("192.175.48.0/24", "AS112"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("240.0.0.0/4", "reserved"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing SIDs"),
    ("fc00::/7", "unique local (private)"),
    ("fec0::/10", "site-local"),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


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
    def from_settings(cls, settings: Settings) -> ImageLimits:
        """The limits configured by ``POSTGUARD_IMAGE_*``."""
        return cls(
            max_bytes=settings.image_max_bytes,
            max_pixels=settings.image_max_pixels,
            max_decode_bytes=settings.image_max_decode_bytes,
            decode_budget_bytes=settings.image_decode_budget_bytes,
            fetch_enabled=settings.image_fetch_enabled,
            fetch_timeout_s=settings.image_fetch_timeout_s,
            allow_private=settings.image_fetch_allow_private,
            allowlist=frozenset(_normalise_host(host) for host in settings.image_fetch_allowlist),
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
        literal = _parse_ip(parts.hostname)
        if literal is not None:
            host = literal.compressed
            addresses: list[IPAddress] = [literal]
        else:
            try:
                host = _normalise_host(parts.hostname)
            except UnicodeError:
                raise _forbidden("the host name is not valid") from None
            addresses = await self._resolve_host(host, port)
        if host not in self._limits.allowlist:
            for address in addresses:
                problem = _address_problem(address, allow_private=self._limits.allow_private)
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
            address = _parse_ip(answer)
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


def _normalise_host(host: str) -> str:
    """Lower-case ASCII (IDNA) form of a host name, without a trailing dot."""
    return host.strip().rstrip(".").lower().encode("idna").decode("ascii")


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _address_problem(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why connecting to ``address`` is refused, or ``None`` if it is a public address."""
    if address in _METADATA_ADDRESSES:
        return "cloud metadata address"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        problem = _address_problem(embedded, allow_private=allow_private)
        return None if problem is None else f"embeds {embedded}: {problem}"
    always = _listed(address, _ALWAYS_DENIED)
    if always is not None or allow_private:
        return always
    special = _listed(address, _PRIVATE_OR_SPECIAL)
    if special is not None:
        return special
    checks = (
        (address.is_loopback, "loopback"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
        (address.is_private, "private"),
        (address.is_reserved, "reserved"),
        (not address.is_global, "not globally routable"),
    )
    return next((name for failed, name in checks if failed), None)


def _listed(
    address: IPAddress, networks: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]
) -> str | None:
    """The name of the first of ``networks`` that holds ``address``."""
    return next(
        (name for network, name in networks if address.version == network.version and address in network),
        None,
    )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address tunnels to (mapped, NAT64, 6to4, IPv4-compatible), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


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
