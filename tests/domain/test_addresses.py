"""Internal addresses and allow-lists (pure logic)."""

from __future__ import annotations

import ipaddress

import pytest

from joliba.domain.addresses import HostPattern, is_internal, parse_allow_list

ip = ipaddress.ip_address


@pytest.mark.parametrize(
    "address",
    [
        # IPv4: loopback, RFC 1918, CGNAT, link-local, unspecified, "this network"
        "127.0.0.1",
        "127.255.255.254",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "100.64.0.1",
        "100.127.255.254",
        "169.254.169.254",  # cloud metadata
        "0.0.0.0",  # noqa: S104 (an address to classify, not to bind)
        "0.1.2.3",
        # IPv4: multicast, reserved, broadcast, documentation, benchmarking, IETF
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.10",
        "198.51.100.7",
        "203.0.113.9",
        "198.18.0.1",
        "198.19.255.254",
        "192.0.0.8",
        "192.88.99.1",
        # IPv6: loopback, unspecified, unique-local, link-local, site-local, multicast
        "::1",
        "::",
        "fc00::1",
        "fd12:3456:789a::1",
        "fe80::1",
        "fe80::1%eth0",
        "fec0::1",
        "ff02::1",
        "ff0e::1",
        # IPv6: documentation, discard, IETF assignments (Teredo, ORCHID), NAT64 local use
        "2001:db8::1",
        "3fff::1",
        "100::1",
        "2001::1",
        "2001:10::1",
        "64:ff9b:1::1",
        # IPv6 forms of internal IPv4 addresses
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "::ffff:169.254.169.254",
        "::ffff:0.0.0.0",
        "::127.0.0.1",  # IPv4-compatible (deprecated)
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
        "2002:c0a8:0101::",  # 6to4 of 192.168.1.1
        "64:ff9b::10.0.0.1",  # NAT64 of 10.0.0.1
        "64:ff9b::127.0.0.1",
    ],
)
def test_internal(address: str) -> None:
    assert is_internal(ip(address)), address


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.215.14",
        "100.63.255.255",  # just below CGNAT
        "100.128.0.0",  # just above
        "172.15.255.255",  # just below 172.16/12
        "172.32.0.0",  # just above
        "192.167.255.255",
        "192.169.0.0",
        "11.0.0.1",
        "126.255.255.255",
        "128.0.0.1",
        "169.253.255.255",
        "223.255.255.254",
        "2606:4700:4700::1111",
        "2a00:1450:4007:80e::200e",
        "2001:4860:4860::8888",
        "::ffff:8.8.8.8",  # IPv4-mapped public
        "2002:0808:0808::1",  # 6to4 of 8.8.8.8
        "64:ff9b::8.8.8.8",  # NAT64 of a public address
    ],
)
def test_public(address: str) -> None:
    assert not is_internal(ip(address)), address


def test_every_address_of_the_private_networks_is_internal() -> None:
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"):
        net = ipaddress.ip_network(network)
        for address in (net.network_address, net.broadcast_address, net[net.num_addresses // 2]):
            assert is_internal(address)
            assert is_internal(ipaddress.IPv6Address(f"::ffff:{address}"))


def test_host_names_match_exactly_and_without_case() -> None:
    pattern = HostPattern(host="db.example.org", network=None, port=None)
    assert pattern.matches("db.example.org", None, 5432)
    assert pattern.matches("DB.Example.ORG.", ip("10.0.0.1"), 1)
    assert not pattern.matches("example.org", None, 5432)
    assert not pattern.matches("evil-db.example.org", None, 5432)
    assert not pattern.matches("db.example.org.evil.net", None, 5432)


def test_ports() -> None:
    pattern = HostPattern(host="db.example.org", network=None, port=5432)
    assert pattern.matches("db.example.org", None, 5432)
    assert not pattern.matches("db.example.org", None, 5433)


def test_networks_match_the_address() -> None:
    (pattern,) = parse_allow_list("10.0.0.0/8")
    assert pattern.host is None and pattern.port is None
    assert pattern.network == ipaddress.ip_network("10.0.0.0/8")
    assert pattern.matches("db.internal", ip("10.20.30.40"), 5432)
    assert pattern.matches("10.1.1.1", None, 80)  # a literal host is its own address
    assert pattern.matches("anything", ip("::ffff:10.1.2.3"), 80)  # IPv4-mapped
    assert not pattern.matches("db.internal", ip("11.0.0.1"), 5432)
    assert not pattern.matches("db.internal", None, 5432)  # a name with no address
    assert not pattern.matches("db.internal", ip("fd00::1"), 5432)


def test_ipv6_networks() -> None:
    (pattern,) = parse_allow_list("fd00::/8")
    assert pattern.matches("x", ip("fd12::1"), 1)
    assert pattern.matches("[fd12::1]", None, 1)
    assert not pattern.matches("x", ip("fe80::1"), 1)
    assert not pattern.matches("x", ip("10.0.0.1"), 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("db.example.org", [("db.example.org", None, None)]),
        ("DB.Example.org.", [("db.example.org", None, None)]),
        ("db.example.org:5432", [("db.example.org", None, 5432)]),
        ("localhost", [("localhost", None, None)]),
        ("10.0.0.0/8", [(None, "10.0.0.0/8", None)]),
        ("10.1.2.3", [(None, "10.1.2.3/32", None)]),
        ("10.1.2.3:5432", [(None, "10.1.2.3/32", 5432)]),
        ("10.0.0.0/8:5432", [(None, "10.0.0.0/8", 5432)]),
        ("[fd00::1]:5432", [(None, "fd00::1/128", 5432)]),
        ("[fd00::1]", [(None, "fd00::1/128", None)]),
        ("fd00::1", [(None, "fd00::1/128", None)]),
        ("fd00::/8", [(None, "fd00::/8", None)]),
        ("[fd00::/8]:5432", [(None, "fd00::/8", 5432)]),
        (
            "a.example.org, 10.0.0.0/8:5432\n[fd00::1]:80\tb.example.org:443,,",
            [
                ("a.example.org", None, None),
                (None, "10.0.0.0/8", 5432),
                (None, "fd00::1/128", 80),
                ("b.example.org", None, 443),
            ],
        ),
        ("", []),
        ("  , \n ", []),
    ],
)
def test_parse_allow_list(
    text: str, expected: list[tuple[str | None, str | None, int | None]]
) -> None:
    parsed = parse_allow_list(text)
    assert [
        (p.host, str(p.network) if p.network is not None else None, p.port) for p in parsed
    ] == expected
    for pattern in parsed:
        assert (pattern.host is None) != (pattern.network is None)
        # An entry written back reads the same.
        assert parse_allow_list(str(pattern)) == [pattern]


@pytest.mark.parametrize(
    "entry",
    [
        "db.example.org:0",
        "db.example.org:65536",
        "db.example.org:http",
        "db.example.org:",
        "10.0.0.1/8",  # host bits set: a typo, not a network
        "10.0.0.0/33",
        "[fd00::1",
        "[fd00::1]5432",
        "[fd00::1]:x",
        "bad_host!",
        "-leading.example.org",
        "trailing-.example.org",
        "a..b",
        "10.1.2",  # neither an address nor a name
        "x" * 64 + ".org",
        "http://db.example.org",
    ],
)
def test_bad_entries_are_named(entry: str) -> None:
    with pytest.raises(ValueError, match="allow-list entry") as raised:
        parse_allow_list(f"good.example.org, {entry}")
    assert f"'{entry}'" in str(raised.value)


def test_patterns_are_values() -> None:
    assert parse_allow_list("db:5432") == [HostPattern(host="db", network=None, port=5432)]
    with pytest.raises(AttributeError):
        parse_allow_list("db")[0].port = 1  # type: ignore[misc]
