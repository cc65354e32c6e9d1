"""Reading X-Forwarded-For behind trusted proxies, and the setting that names them."""

from __future__ import annotations

import pytest

from joliba.domain.proxies import client_address, parse_networks
from joliba.settings import Settings

TRUSTED = parse_networks("127.0.0.1, 10.0.0.0/8, fd00::/8")


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy() -> None:
    assert client_address("198.51.100.9", ["6.6.6.6"], TRUSTED) == "198.51.100.9"
    assert client_address("127.0.0.1", ["6.6.6.6"], ()) == "127.0.0.1"
    assert client_address("127.0.0.1", [], TRUSTED) == "127.0.0.1"


def test_right_most_untrusted_address_wins() -> None:
    hops = ["6.6.6.6, 203.0.113.7, 10.0.0.2"]
    assert client_address("127.0.0.1", hops, TRUSTED) == "203.0.113.7"
    assert client_address("10.0.0.1", ["203.0.113.7:5123"], TRUSTED) == "203.0.113.7"
    assert client_address("10.0.0.1", ["[2001:db8::1]:443"], TRUSTED) == "2001:db8::1"
    assert client_address("fd00::1", ["2001:db8::1"], TRUSTED) == "2001:db8::1"
    assert client_address("127.0.0.1", ["bogus"], TRUSTED) == "127.0.0.1"
    assert client_address("127.0.0.1", ["bogus, 10.0.0.3"], TRUSTED) == "10.0.0.3"


def test_the_setting_takes_addresses_and_networks_and_refuses_the_rest() -> None:
    assert Settings().trusted_networks == ()
    networks = Settings(trusted_proxies=" 10.0.0.1 ,192.168.0.0/16,").trusted_networks
    assert [str(n) for n in networks] == ["10.0.0.1/32", "192.168.0.0/16"]
    with pytest.raises(ValueError, match=r"'proxy\.example' is not an IP address"):
        Settings(trusted_proxies="10.0.0.1, proxy.example")
