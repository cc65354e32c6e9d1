"""Which network addresses are internal, and allow-lists of hosts, networks and ports.

Pure logic, no I/O: resolving names and connecting is :mod:`joliba.services.outbound`'s.

:func:`is_internal` is deliberately wider than :attr:`ipaddress.IPv4Address.is_global`'s
opposite: it answers from its own tables (the IANA special-purpose registries), so it does
not change with the Python version, and it looks inside the IPv6 forms that carry an IPv4
address (``::ffff:10.0.0.1``, 6to4 ``2002:0a00:0001::``, NAT64 ``64:ff9b::10.0.0.1``).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = ["HostPattern", "is_internal", "parse_allow_list"]

_V4_INTERNAL = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network", 0.0.0.0 unspecified
        "10.0.0.0/8",  # RFC 1918
        "100.64.0.0/10",  # carrier-grade NAT (RFC 6598)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (cloud metadata services live here)
        "172.16.0.0/12",  # RFC 1918
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # 6to4 relay anycast (deprecated)
        "192.168.0.0/16",  # RFC 1918
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
    )
)
#: Global unicast: every IPv6 address outside it is loopback, unspecified, link-local,
#: unique-local, multicast, IPv4-compatible or otherwise reserved.
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V6_INTERNAL = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "2001::/23",  # IETF protocol assignments (Teredo, ORCHID, …)
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)
_V6_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix: IPv4 inside


def is_internal(address: Address) -> bool:
    """True for loopback, private (RFC 1918), link-local, CGNAT, unique-local, unspecified,
    multicast, reserved and documentation addresses, and for the IPv4-mapped, 6to4 and
    NAT64 forms of those: anything a server should not be made to connect to for a user."""
    if isinstance(address, ipaddress.IPv4Address):
        return (
            any(address in network for network in _V4_INTERNAL)
            or not address.is_global
            or address.is_multicast
        )
    embedded = _embedded_v4(address)
    if embedded is not None:
        return is_internal(embedded)
    if address not in _V6_GLOBAL_UNICAST or any(address in n for n in _V6_INTERNAL):
        return True
    # Python's own tables as well: an address is internal if either says so.
    return (
        not address.is_global
        or address.is_private
        or address.is_multicast
        or address.is_reserved
        or address.is_link_local
        or address.is_site_local
        or address.is_loopback
        or address.is_unspecified
    )


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a connection to ``address`` really reaches, when it carries one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _V6_NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class HostPattern:
    """One entry of an allow-list: a host name or a network, on one port or any."""

    #: A lower-cased host name, or None when ``network`` is set.
    host: str | None
    network: Network | None
    #: None: any port.
    port: int | None

    def matches(self, host: str, address: Address | None, port: int) -> bool:
        """Whether a connection to ``host`` (the name as given), resolved to ``address``
        (None when not known), on ``port`` is allowed by this entry."""
        if self.port is not None and port != self.port:
            return False
        if self.host is not None:
            return _normal_host(host) == self.host
        if self.network is None:
            return False
        if address is None:
            address = _literal(host)
            if address is None:
                return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.version == self.network.version and address in self.network

    def __str__(self) -> str:
        if self.host is not None:
            where = self.host
        else:
            assert self.network is not None
            single = self.network.num_addresses == 1
            where = str(self.network.network_address) if single else str(self.network)
            if self.network.version == 6 and self.port is not None:
                where = f"[{where}]"
        return where if self.port is None else f"{where}:{self.port}"


_SEPARATORS = re.compile(r"[\s,]+")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def parse_allow_list(text: str) -> list[HostPattern]:
    """Comma- or whitespace-separated entries: ``db.example.org``, ``db.example.org:5432``,
    ``10.0.0.0/8``, ``10.1.2.3``, ``[fd00::1]:5432``, ``fd00::/8``, ``10.0.0.0/8:5432``.

    Raises ValueError naming the bad entry.
    """
    return [_parse_entry(entry) for entry in _SEPARATORS.split(text.strip()) if entry]


def _parse_entry(entry: str) -> HostPattern:
    try:
        return _parse(entry)
    except ValueError as exc:
        raise ValueError(f"allow-list entry '{entry}': {exc}") from None


def _parse(entry: str) -> HostPattern:
    where, port = _split_port(entry)
    if "/" in where:
        try:
            network = ipaddress.ip_network(where, strict=True)
        except ValueError as exc:
            raise ValueError(f"not a network ({exc})") from None
        return HostPattern(host=None, network=network, port=port)
    address = _literal(where)
    if address is not None:
        return HostPattern(host=None, network=ipaddress.ip_network(address), port=port)
    host = _normal_host(where)
    labels = host.split(".")
    if not host or len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("not a host name, an IP address or a network")
    if labels[-1].isdigit():
        raise ValueError("not a host name, an IP address or a network")
    return HostPattern(host=host, network=None, port=port)


def _split_port(entry: str) -> tuple[str, int | None]:
    """``[v6]:port``, ``[v6]``, ``v4-or-name:port``, ``10.0.0.0/8:5432``, or a bare IPv6
    address or network (more than one colon, no brackets: no port)."""
    if entry.startswith("["):
        inside, bracket, rest = entry[1:].partition("]")
        if not bracket:
            raise ValueError("a '[' without its ']'")
        if not rest:
            return inside, None
        if not rest.startswith(":"):
            raise ValueError("only ':port' may follow ']'")
        return inside, _port(rest[1:])
    if entry.count(":") == 1:
        where, _, port = entry.partition(":")
        return where, _port(port)
    return entry, None


def _port(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"'{text}' is not a port number (1-65535)")
    return int(text)


def _literal(host: str) -> Address | None:
    """``host`` as an IP address when it is one (brackets and an IPv6 zone allowed)."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".")
