"""Superset's REST API, as Joliba's service account (an Admin of that Superset).

One client per server, shared by threads: it signs in once (``/api/v1/security/login``),
takes a CSRF token for the calls that change something, and signs in again when Superset
says the access token expired. Failures become :class:`~joliba.domain.errors.Unavailable`
with Superset's own message.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from joliba.domain.errors import Unavailable

_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: Idle connections are dropped after a second, before Superset's server closes them (after
#: 5 s, see builds/superset.py): a request on a connection the server just closed would fail
#: with "connection reset" although Superset is fine.
_LIMITS = httpx.Limits(keepalive_expiry=1.0)


def rison_list(columns: list[str], **more: object) -> str:
    """A ``q=`` value for Superset's list endpoints: the columns and page options (Rison)."""
    parts = [f"columns:!({','.join(columns)})"]
    parts += [f"{key}:{value}" for key, value in more.items()]
    return f"({','.join(parts)})"


class SupersetAPI:
    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._credentials = {"username": username, "password": password}
        self._client = httpx.Client(base_url=self.base_url, timeout=_TIMEOUT, limits=_LIMITS)
        self._lock = threading.Lock()
        self._signed_in = False

    def close(self) -> None:
        self._client.close()

    def _sign_in(self) -> None:
        answer = self._client.post(
            "/api/v1/security/login",
            json={**self._credentials, "provider": "db", "refresh": False},
        )
        if answer.status_code != 200:
            raise Unavailable(
                f"Superset at {self.base_url} refused Joliba's service account "
                f"({answer.status_code}): run `joliba superset serve`, which sets it up"
            )
        self._client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        csrf = self._client.get("/api/v1/security/csrf_token/")
        csrf.raise_for_status()
        self._client.headers["X-CSRFToken"] = csrf.json()["result"]
        self._signed_in = True

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of one call; an answer of 4xx/5xx raises Unavailable."""
        try:
            with self._lock:
                if not self._signed_in:
                    self._sign_in()
            answer = self._client.request(method, path, **kwargs)
            if answer.status_code == 401:  # the access token expired: once more, signed in
                with self._lock:
                    self._sign_in()
                answer = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(f"Superset at {self.base_url} cannot be reached: {exc}") from None
        if answer.status_code >= 400:
            raise Unavailable(
                f"Superset {method} {path} answered {answer.status_code}: {_message(answer)}"
            )
        return answer.json() if answer.content else {}

    def get(self, path: str, **params: str) -> Any:
        return self.call("GET", path, params=params or None)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.call("POST", path, json=body)

    def put(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.call("PUT", path, json=body) if body is not None else self.call("PUT", path)

    def every(self, path: str, columns: list[str]) -> list[dict[str, Any]]:
        """Every row of a list endpoint, page by page."""
        rows: list[dict[str, Any]] = []
        page = 0
        while True:
            answer = self.get(path, q=rison_list(columns, page=page, page_size=100))
            found = answer.get("result", [])
            rows += found
            if len(found) < 100:
                return rows
            page += 1

    def healthy(self) -> bool:
        try:
            return self._client.get("/health", timeout=3.0).status_code == 200
        except httpx.HTTPError:
            return False


def _message(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("errors") or body)[:500]
    return str(body)[:500]
