"""'Test connection': contact the remote system and explain in one sentence what happened.

The HTTP transport is injectable so tests can point the DHIS2 check at a local server.
Messages never contain a secret: any secret value that a driver echoes back is masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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
        base = values["url"].rstrip("/")
        headers = {"Accept": "application/json"}
        auth: httpx.Auth | None = None
        if values.get("token"):
            headers["Authorization"] = f"ApiToken {values['token']}"
        else:
            auth = httpx.BasicAuth(values.get("username", ""), values.get("password", ""))
        host = urlsplit(base).netloc
        try:
            with httpx.Client(
                transport=self._transport, timeout=TIMEOUT_SECONDS, follow_redirects=False
            ) as client:
                response = client.get(f"{base}/api/system/info", headers=headers, auth=auth)
        except httpx.TimeoutException:
            return CheckResult(False, f"no answer from {host} within {TIMEOUT_SECONDS:.0f} s")
        except httpx.HTTPError as exc:
            return CheckResult(False, f"could not reach {host}: {exc}")
        if response.status_code == 401:
            return CheckResult(False, "DHIS2 refused the credentials (401 Unauthorized)")
        if response.status_code in (301, 302, 303, 307, 308):
            where = response.headers.get("location", "")
            return CheckResult(
                False, f"the server redirects to {where}: is the URL the DHIS2 root?"
            )
        if response.status_code != 200:
            return CheckResult(False, f"{host} answered HTTP {response.status_code}")
        try:
            info: Any = response.json()
        except ValueError:
            return CheckResult(False, f"{host} did not answer like a DHIS2 server (not JSON)")
        if not isinstance(info, dict) or "version" not in info:
            return CheckResult(False, f"{host} did not answer like a DHIS2 server")
        return CheckResult(True, f"connected to DHIS2 {info['version']}")


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
