"""'Test connection': contact the remote system and explain in one sentence what happened.

DHIS2 is checked with the :mod:`joliba.dhis2` client (its HTTP transport is injectable).
Messages never contain a secret: any secret value that a driver echoes back is masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from joliba.domain.connections import MASK, ConnectionType

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


class ConnectionChecker:
    def __init__(self, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport

    def check(
        self, kind: ConnectionType, values: dict[str, str], secret_names: set[str]
    ) -> CheckResult:
        secrets = [values[k] for k in secret_names if values.get(k)]
        try:
            if kind is ConnectionType.DHIS2:
                result = self._dhis2(values)
            elif kind is ConnectionType.POSTGRESQL:
                result = _postgresql(values)
            elif kind is ConnectionType.S3:
                result = _s3(values)
            else:
                result = CheckResult(False, "custom connections cannot be tested")
        except Exception as exc:  # any driver error becomes a readable, secret-free reason
            result = CheckResult(False, f"{type(exc).__name__}: {exc}")
        return CheckResult(result.ok, _mask(result.message, secrets))

    def _dhis2(self, values: dict[str, str]) -> CheckResult:
        """``/api/system/info`` through the DHIS2 client: the version and server name, or
        DHIS2's own error message."""
        from joliba.dhis2.client import DHIS2
        from joliba.dhis2.http import DHIS2Error

        watch = _RedirectWatch(self._transport or httpx.HTTPTransport())
        try:
            client = DHIS2(
                values["url"],
                username=values.get("username", ""),
                password=values.get("password", ""),
                token=values.get("token", ""),
                timeout=TIMEOUT_SECONDS,
                retries=1,  # one attempt: the person clicking waits for the answer
                transport=watch,
            )
        except ValueError as exc:  # no credentials at all
            return CheckResult(False, str(exc))
        with client:
            try:
                info = client.system_info
            except DHIS2Error as exc:
                if watch.location:
                    return CheckResult(
                        False,
                        f"the server redirects to {watch.location}: is the URL the DHIS2 root?",
                    )
                if exc.status == 401:
                    return CheckResult(False, f"DHIS2 refused the credentials (401 {exc.message})")
                if exc.status:
                    return CheckResult(False, f"DHIS2 answered {exc.status}: {exc.message}")
                return CheckResult(False, exc.message)
        name = str(info.get("systemName") or "").strip()
        version = str(info["version"])
        return CheckResult(True, f"connected to DHIS2 {version}" + (f" ({name})" if name else ""))


class _RedirectWatch(httpx.BaseTransport):
    """Remembers a redirect: DHIS2 sends one to its login page when the URL is not its root,
    which the client, not following redirects, reads as an empty answer."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.location = ""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if response.is_redirect:
            self.location = response.headers.get("location", "")
        return response

    def close(self) -> None:
        self.inner.close()


def _postgresql(values: dict[str, str]) -> CheckResult:
    import psycopg

    try:
        with psycopg.connect(
            host=values["host"],
            port=int(values.get("port") or 5432),
            dbname=values["database"],
            user=values["username"],
            password=values.get("password") or None,
            sslmode=values.get("sslmode") or "prefer",
            connect_timeout=int(TIMEOUT_SECONDS),
        ) as conn:
            version = conn.execute("SHOW server_version").fetchone()
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "connection failed"
        return CheckResult(False, f"could not connect to PostgreSQL: {reason}")
    return CheckResult(True, f"connected to PostgreSQL {version[0] if version else ''}".strip())


def _s3(values: dict[str, str]) -> CheckResult:
    import s3fs

    client_kwargs: dict[str, Any] = {}
    if values.get("region"):
        client_kwargs["region_name"] = values["region"]
    if values.get("endpoint_url"):
        client_kwargs["endpoint_url"] = values["endpoint_url"]
    fs = s3fs.S3FileSystem(
        key=values.get("access_key_id") or None,
        secret=values.get("secret_access_key") or None,
        anon=not values.get("access_key_id"),
        client_kwargs=client_kwargs,
        config_kwargs={
            "connect_timeout": 5,
            "read_timeout": TIMEOUT_SECONDS,
            "retries": {"max_attempts": 1},
        },
        skip_instance_cache=True,
        use_listings_cache=False,
    )
    bucket = values["bucket"]
    try:
        entries = fs.ls(bucket, detail=False)
    except FileNotFoundError:
        return CheckResult(False, f"bucket '{bucket}' does not exist")
    except PermissionError as exc:
        return CheckResult(False, f"access to bucket '{bucket}' was denied: {exc}")
    except OSError as exc:
        return CheckResult(False, f"could not reach the S3 service: {exc}")
    return CheckResult(True, f"bucket '{bucket}' reachable ({len(entries)} entries at the top)")


def _mask(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, MASK)
    return message
