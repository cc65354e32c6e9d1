"""HTTP to a DHIS2 server: authentication, timeouts, retries with backoff, a cap on parallel
requests, and DHIS2's error bodies turned into :class:`DHIS2Error`.

Retried: network errors and timeouts, 429 (after ``Retry-After`` when given) and 500, 502,
503, 504. Not retried: other 4xx, which are the caller's to fix. Each retry waits
``backoff * 2**attempt`` seconds (capped, with jitter) so that a struggling server is not
hammered by every worker at once.
"""

from __future__ import annotations

import base64
import json
import random
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_WAIT = 30.0

Params = Mapping[str, Any] | Sequence[tuple[str, Any]]


class DHIS2Error(Exception):
    """An answer DHIS2 refused with, or no answer at all (``status`` 0)."""

    def __init__(
        self, status: int, message: str, *, code: str = "", body: Any = None, url: str = ""
    ) -> None:
        where = f" ({url})" if url else ""
        shown = f"{status} {code}: {message}" if code else f"{status}: {message}"
        super().__init__(f"DHIS2 answered {shown}{where}" if status else f"{message}{where}")
        self.status = status
        self.code = code
        self.message = message
        self.body = body
        self.url = url


@dataclass(frozen=True)
class Retry:
    attempts: int = 5
    backoff: float = 0.5

    def wait(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), MAX_WAIT)
        jitter = random.uniform(0.75, 1.25)  # noqa: S311 (spreading retries, not security)
        return float(min(self.backoff * 2**attempt, MAX_WAIT) * jitter)


def auth_header(*, username: str = "", password: str = "", token: str = "") -> dict[str, str]:
    if token:
        return {"Authorization": f"ApiToken {token}"}
    if username:
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        return {"Authorization": f"Basic {pair}"}
    raise ValueError("give DHIS2 a username and password, or a personal access token")


def error_of(response: httpx.Response) -> DHIS2Error:
    """DHIS2's WebMessage (``httpStatusCode``, ``errorCode``, ``message``) as an exception."""
    body: Any = None
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    url = str(response.request.url.copy_with(query=None)) if response.request else ""
    if isinstance(body, dict):
        message = str(body.get("message") or body.get("httpStatus") or response.reason_phrase)
        return DHIS2Error(
            response.status_code,
            message,
            code=str(body.get("errorCode") or ""),
            body=body,
            url=url,
        )
    text = response.text.strip()[:300] or response.reason_phrase
    return DHIS2Error(response.status_code, text, url=url)


class Http:
    """One DHIS2 server: ``get``/``post`` return parsed JSON or raise :class:`DHIS2Error`."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        timeout: float = 60.0,
        retry: Retry | None = None,
        max_parallel: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = url.rstrip("/")
        self.base = base[: -len("/api")] if base.endswith("/api") else base
        self.retry = retry or Retry()
        self._slots = threading.BoundedSemaphore(max(1, max_parallel))
        self._client = httpx.Client(
            base_url=f"{self.base}/api",
            headers={"Accept": "application/json", "User-Agent": "joliba-dhis2", **headers},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=max(1, max_parallel)),
        )

    def close(self) -> None:
        self._client.close()

    def get(self, path: str, params: Params | None = None) -> Any:
        return self.request("GET", path, params=params)

    def get_bytes(self, path: str, params: Params | None = None) -> bytes:
        """A GET's body as it came, for answers too large to parse into Python objects."""
        body = self.request("GET", path, params=params, raw=True)
        return body if isinstance(body, bytes) else b""

    def post(self, path: str, body: Any, params: Params | None = None) -> Any:
        """A POST; answers 409 with a body are returned too (imports report conflicts so)."""
        return self.request("POST", path, params=params, json_body=body, accept={409})

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        accept: frozenset[int] | set[int] = frozenset(),
        raw: bool = False,
    ) -> Any:
        attempt = 0
        while True:
            try:
                with self._slots:
                    response = self._client.request(
                        method, path.lstrip("/"), params=_query(params), json=json_body
                    )
            except httpx.TransportError as exc:
                if attempt + 1 >= self.retry.attempts:
                    raise DHIS2Error(
                        0, f"cannot reach DHIS2 at {self.base}: {type(exc).__name__} {exc}"
                    ) from None
                time.sleep(self.retry.wait(attempt))
                attempt += 1
                continue
            if response.status_code in RETRY_STATUSES and attempt + 1 < self.retry.attempts:
                time.sleep(self.retry.wait(attempt, response.headers.get("retry-after")))
                attempt += 1
                continue
            if response.status_code >= 400 and response.status_code not in accept:
                raise error_of(response)
            if raw:
                return response.content
            if not response.content:
                return None
            try:
                return response.json()
            except json.JSONDecodeError:
                return response.text


def _query(params: Params | None) -> list[tuple[str, str | int | float | bool | None]]:
    items = params.items() if isinstance(params, Mapping) else (params or [])
    return [(str(k), v) for k, v in items]
