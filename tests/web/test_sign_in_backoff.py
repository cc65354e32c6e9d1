"""Sign-in slows attackers without locking the owner out: waits that grow, and browsers or
addresses that signed in to the account before are not kept out by failures from elsewhere.

Runs on the server behind a (trusted) proxy, so each client has an address of its own.
"""

from __future__ import annotations

import uuid

from joliba.services import devices
from tests.conftest import World
from tests.web.page_client import PageClient, Pages, csrf_of


def _browser(pages: Pages, address: str | None = None) -> PageClient:
    client = pages.anonymous()
    client.http.headers["X-Forwarded-For"] = address or _address()
    client.csrf = csrf_of(client.get("/login").text)
    return client


def _address() -> str:
    n = uuid.uuid4().int
    return f"198.18.{n % 250}.{(n >> 8) % 250}"


def _login(client: PageClient, email: str, password: str) -> int:
    return client.post("/login", {"email": email, "password": password}).status_code


def test_an_attack_does_not_lock_the_owner_out(world: World, proxied_pages: Pages) -> None:
    pages = proxied_pages
    owner = world.person()
    limit = world.platform.settings.login_max_failures
    home_address = _address()
    laptop = _browser(pages, home_address)
    assert _login(laptop, owner.email, owner.password) == 303
    assert devices.COOKIE in laptop.http.cookies
    laptop.http.cookies.delete("joliba_session")  # signed out, the device cookie stays

    for _ in range(limit):  # the attacker spreads guesses over several addresses
        assert _login(_browser(pages), owner.email, "a guess") == 401
    attacker = _browser(pages)
    refused = attacker.post("/login", {"email": owner.email, "password": owner.password})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 30
    assert "too many failed sign-ins" in refused.text
    # A forged device cookie is worth nothing.
    stranger = _browser(pages)
    stranger.http.cookies.set(devices.COOKIE, f"{owner.user_id.hex}.1.forged")
    assert _login(stranger, owner.email, owner.password) == 429

    # A new browser at the owner's address gets in; so does the owner's own browser from a
    # new address (each success clears the count, so that one is checked on a new attack).
    assert _login(_browser(pages, home_address), owner.email, owner.password) == 303
    for _ in range(limit):
        assert _login(_browser(pages), owner.email, "another guess") == 401
    assert _login(_browser(pages), owner.email, owner.password) == 429
    laptop.http.headers["X-Forwarded-For"] = _address()
    assert _login(laptop, owner.email, owner.password) == 303


def test_the_device_cookie_is_http_only_and_signed(world: World, proxied_pages: Pages) -> None:
    pages = proxied_pages
    person = world.person()
    client = _browser(pages)
    response = client.post("/login", {"email": person.email, "password": person.password})
    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    device = next(c for c in cookies if c.startswith(f"{devices.COOKIE}="))
    assert "HttpOnly" in device and "SameSite=lax" in device
    value = client.http.cookies[devices.COOKIE]
    key = world.platform.settings.secret_key_value()
    assert devices.user_of(key, value) == person.user_id
    assert devices.user_of("another key", value) is None
