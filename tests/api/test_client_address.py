"""Which address a request comes from: X-Forwarded-For counts only from trusted proxies."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from joliba.db.tables import AuditEntry
from tests.conftest import LiveServer, World, unique


def _seen_address(world: World, server: LiveServer, token: str, forwarded: list[str]) -> str:
    """Create a token through ``server`` and read the address its audit entry recorded."""
    name = unique("addr")
    headers = [("Authorization", f"Bearer {token}")]
    headers += [("X-Forwarded-For", value) for value in forwarded]
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as client:
        r = client.post("/me/tokens", json={"name": name}, headers=headers)
    assert r.status_code == 201, r.text
    with world.platform.db.session() as session:
        entry = session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "token.create", AuditEntry.target.endswith(f"({name})")
            )
        )
        assert entry is not None
        return entry.client_ip


def test_forwarded_for_is_ignored_without_trusted_proxies(world: World) -> None:
    person = world.person()
    for forwarded in ([], ["203.0.113.7"], ["203.0.113.7, 198.51.100.1"]):
        assert _seen_address(world, world.server, person.token, forwarded) == "127.0.0.1"


def test_behind_trusted_proxies_the_right_most_untrusted_address_is_the_client(
    world: World, proxied_server: LiveServer
) -> None:
    person = world.person()

    def seen(*forwarded: str) -> str:
        return _seen_address(world, proxied_server, person.token, list(forwarded))

    assert seen() == "127.0.0.1"  # no header: the peer itself
    assert seen("203.0.113.7") == "203.0.113.7"
    # Whatever the client wrote on the left is never believed …
    assert seen("6.6.6.6, 203.0.113.7") == "203.0.113.7"
    # … and trusted proxies on the right (10.0.0.0/8 here) are skipped, across headers too.
    assert seen("6.6.6.6, 203.0.113.7, 10.1.2.3") == "203.0.113.7"
    assert seen("6.6.6.6", "203.0.113.7, 10.1.2.3") == "203.0.113.7"
    assert seen("2001:db8::5") == "2001:db8::5"
    # Garbage, or only proxies: the last address that was one.
    assert seen("<script>, not-an-address") == "127.0.0.1"
    assert seen("10.9.9.9") == "10.9.9.9"
