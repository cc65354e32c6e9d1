"""An httpx client that uses the pages the way a browser does: cookies, CSRF tokens, forms."""

from __future__ import annotations

import re
from typing import Any

import httpx

_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html) or _FIELD.search(html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


class PageClient:
    """Signed in (or not) on a server; ``post`` sends the CSRF token like a form."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.http = httpx.Client(
            base_url=base_url, follow_redirects=False, timeout=30, transport=transport
        )
        self.csrf = ""

    def sign_in(self, email: str, password: str) -> httpx.Response:
        self.csrf = csrf_of(self.get("/login").text)
        response = self.post("/login", {"email": email, "password": password, "next": "/"})
        if response.status_code == 303:
            self.refresh_csrf()
        return response

    def refresh_csrf(self, path: str = "/account") -> None:
        self.csrf = csrf_of(self.get(path).text)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kwargs)

    def close(self) -> None:
        self.http.close()


class Pages:
    """Makes page clients for one server and closes them all at the end; with a
    ``transport`` (tests/fixtures/asgi.py), they reach the app in process."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url
        self.transport = transport
        self.clients: list[PageClient] = []

    def anonymous(self) -> PageClient:
        client = PageClient(self.base_url, self.transport)
        self.clients.append(client)
        return client

    def signed_in(self, email: str, password: str) -> PageClient:
        client = self.anonymous()
        response = client.sign_in(email, password)
        assert response.status_code == 303, response.text
        return client

    def __enter__(self) -> Pages:
        return self

    def __exit__(self, *exc: object) -> None:
        for client in self.clients:
            client.close()
