"""Which network addresses an image URL may lead to: the server-side request forgery policy.

Cloud metadata endpoints, link-local, multicast and the like are never fetched; private,
loopback and the other special-purpose ranges only with ``POSTGUARD_IMAGE_FETCH_ALLOW_PRIVATE``
(or an allowlisted host name). IPv6 addresses that tunnel to IPv4 are judged by the IPv4 address.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _networks(
    *specs: tuple[str, str],
) -> tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.ip_network(net), name) for net, name in specs)


# Cloud instance-metadata endpoints hand out credentials: refused even with allow_private.
_METADATA_ADDRESSES = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, Oracle, DigitalOcean...
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task credentials
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    }
)


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


def normalise_host(host: str) -> str:
    """Lower-case ASCII (IDNA) form of a host name, without a trailing dot."""
    return host.strip().rstrip(".").lower().encode("idna").decode("ascii")


def parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def address_problem(address: IPAddress, *, allow_private: bool) -> str | None:
    """Why connecting to ``address`` is refused, or ``None`` if it is a public address."""
    if address in _METADATA_ADDRESSES:
        return "cloud metadata address"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        problem = address_problem(embedded, allow_private=allow_private)
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
