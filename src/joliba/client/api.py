"""A small httpx client for the REST API that turns error bodies into exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx


class ApiError(Exception):
    """An error answer from the server, or no answer at all (status 0)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


class Client:
    def __init__(
        self,
        url: str,
        token: str,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = "joliba-cli",
    ) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=f"{self.url}/api/v1",
            headers={"Authorization": f"Bearer {token}", "User-Agent": user_agent},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.url}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response)
        if response.status_code == 204 or not response.content:
            return None
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """A response whose body is read as it arrives (``response.iter_bytes()``).

        Error answers raise :class:`ApiError` before the block runs; a connection that fails,
        also while the body is being read, is an ``ApiError`` with status 0.
        """
        try:
            with self._http.stream(method, path, **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                yield response
        except httpx.TransportError as exc:
            raise ApiError(
                0, "unreachable", f"the connection to {self.url} failed: {exc}"
            ) from None

    def upload(self, path: str, chunks: Iterator[bytes], *, params: dict[str, str]) -> Any:
        return self.request(
            "POST",
            path,
            content=chunks,
            params=params,
            headers={"Content-Type": "application/zip"},
            timeout=httpx.Timeout(60.0, read=1800.0),  # the server builds the environment
        )


def _error(response: httpx.Response) -> ApiError:
    try:
        body = response.json()["error"]
        return ApiError(response.status_code, body["code"], body["message"], body.get("details"))
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:500] or response.reason_phrase
        return ApiError(response.status_code, "http_error", f"{response.status_code}: {text}")
