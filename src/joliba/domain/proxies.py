"""Who the client is behind reverse proxies (``JOLIBA_TRUSTED_PROXIES``).

``X-Forwarded-For`` is whatever the sender wrote, plus one address appended by each proxy on
the way. It is read only when the direct peer is a trusted proxy, and then from the right: the
first address that is not a trusted proxy is the client. Addresses further left were written
by the client itself and are never believed.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

Network = IPv4Network | IPv6Network


def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16, ::1"`` as networks; a wrong entry raises ValueError."""
    networks = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"'{item}' is not an IP address or network (like 10.0.0.1 or 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def _address(text: str) -> IPv4Address | IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 192.0.2.1:443
        text = text.split(":", 1)[0]
    try:
        return ip_address(text)
    except ValueError:
        return None


def is_trusted(host: str, trusted: Iterable[Network]) -> bool:
    address = _address(host)
    return address is not None and any(address in network for network in trusted)


def client_address(peer: str, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The client's address: ``peer``, unless it is a trusted proxy; then the right-most
    address of ``X-Forwarded-For`` (all its headers, in order) that is not a trusted proxy."""
    if not trusted or not is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break  # not an address: stop at the last hop that was one
        client = str(address)
        if not any(address in network for network in trusted):
            break
    return client
