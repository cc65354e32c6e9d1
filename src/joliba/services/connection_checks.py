"""'Test connection': contact the remote system and explain in one sentence what happened.

Each check has one deadline (:data:`~joliba.services.outbound.TIMEOUT_SECONDS`) for all of
it, and reaches only addresses that :func:`~joliba.services.outbound.resolve` checked (no
internal ones unless ``JOLIBA_CONNECTION_ALLOW_PRIVATE`` is set): DHIS2 and S3 through a
:class:`~joliba.services.outbound.PinnedTransport`, PostgreSQL with ``hostaddr``.

Messages are ours: what failed ("could not connect: connection refused", "authentication
failed", "timed out after 5 s", "the server answered HTTP 404"), never what the far end
said (no banners, no server error texts, no bodies), and never a secret. The server's own
credentials (``~/.pgpass``, ``PG*`` and ``AWS_*`` variables, client certificates, Kerberos
tickets) are never offered to a connection's server.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from joliba.domain.connections import ConnectionType
from joliba.domain.masking import mask_secrets
from joliba.services.outbound import (
    TIMEOUT_SECONDS,
    Deadline,
    OutboundError,
    PinnedTransport,
    TimedOut,
    literal_address,
    resolve,
)

log = logging.getLogger("joliba.connections")

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$"
)
_DHIS2_VERSION = re.compile(r"^\d{1,3}\.\d{1,3}(\.\d{1,4}){0,2}([-+][A-Za-z0-9._-]{1,40})?$")
_BUCKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
#: A password file that cannot exist, so libpq never reads the server's ~/.pgpass.
_NO_PASSFILE = os.path.join(os.devnull, "joliba-no-passfile")
MAX_NAME = 80


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str


class ConnectionChecker:
    """Runs one check at a time, in the calling thread (the platform's outbound pool)."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = TIMEOUT_SECONDS,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.verify = verify

    def check(
        self, kind: ConnectionType, values: dict[str, str], secret_names: set[str]
    ) -> CheckResult:
        secrets = [values[k] for k in secret_names if values.get(k)]
        deadline = Deadline(self.timeout)
        try:
            if kind is ConnectionType.DHIS2:
                result = self._dhis2(values, deadline)
            elif kind is ConnectionType.POSTGRESQL:
                result = self._postgresql(values, deadline)
            elif kind is ConnectionType.S3:
                result = self._s3(values, deadline)
            else:
                result = CheckResult(False, "custom connections cannot be tested")
        except OutboundError as exc:
            result = CheckResult(False, exc.message)
        except Exception as exc:  # a driver's surprise: its text may hold the far end's
            log.warning("connection check failed unexpectedly (%s)", type(exc).__name__)
            result = CheckResult(False, "the check failed unexpectedly")
        return CheckResult(result.ok, mask_secrets(result.message, secrets))

    def transport(self, deadline: Deadline) -> PinnedTransport:
        return PinnedTransport(deadline, allow_private=self.allow_private, verify=self.verify)

    # -- DHIS2 ---------------------------------------------------------------------------------

    def _dhis2(self, values: dict[str, str], deadline: Deadline) -> CheckResult:
        """``/api/system/info`` through the DHIS2 client: the version and server name."""
        from joliba.dhis2.client import DHIS2
        from joliba.dhis2.http import DHIS2Error

        transport = self.transport(deadline)
        try:
            client = DHIS2(
                values["url"],
                username=values.get("username", ""),
                password=values.get("password", ""),
                token=values.get("token", ""),
                timeout=deadline.seconds,
                retries=1,  # one attempt: the person clicking waits for the answer
                transport=transport,
            )
        except ValueError as exc:  # no credentials at all
            transport.close()
            return CheckResult(False, str(exc))
        with client:
            try:
                # Not client.system_info: functools.cached_property holds one lock for all
                # instances on Python 3.11, so concurrent checks would wait for each other.
                info = client.http.get("system/info")
            except DHIS2Error as exc:
                return CheckResult(False, dhis2_reason(exc.status, transport.statuses))
        if not isinstance(info, dict):
            return CheckResult(False, dhis2_reason(0, transport.statuses))
        version = str(info.get("version", ""))
        if not _DHIS2_VERSION.fullmatch(version):
            return CheckResult(False, "not a DHIS2 server (no system/info)")
        name = _shown_name(info.get("systemName"))
        return CheckResult(True, f"connected to DHIS2 {version}" + (f" ({name})" if name else ""))

    # -- PostgreSQL ------------------------------------------------------------------------------

    def _postgresql(self, values: dict[str, str], deadline: Deadline) -> CheckResult:
        import psycopg

        host = values.get("host", "").strip()
        if literal_address(host) is None and not _HOSTNAME.fullmatch(host):
            return CheckResult(False, f"'{host}' is not a host name or an IP address")
        port = int(values.get("port") or 5432)
        reason = "could not connect"
        for address in resolve(host, port, allow_private=self.allow_private, deadline=deadline):
            left = deadline.remaining()
            if left < 1:
                raise TimedOut(deadline.seconds)
            params: dict[str, Any] = {
                "host": host.strip("[]"),  # for TLS: the name the certificate must carry
                "hostaddr": str(address),  # where to connect: the address just checked
                "port": port,
                "dbname": values.get("database", ""),
                "user": values.get("username", ""),
                "password": values.get("password", ""),  # "": PGPASSWORD is not used
                "passfile": _NO_PASSFILE,
                "sslmode": values.get("sslmode") or "prefer",
                "connect_timeout": max(2, math.floor(left)),
                "gssencmode": "disable",
                "application_name": "joliba connection test",
                **_libpq_restrictions(),
            }
            try:
                with psycopg.connect(**params) as conn:
                    version = conn.info.server_version
            except psycopg.Error as exc:
                reason, again = _postgresql_reason(exc, values, deadline)
                if again:
                    continue  # the next address of the name
                break
            return CheckResult(True, f"connected to PostgreSQL {_postgresql_version(version)}")
        return CheckResult(False, reason)

    # -- S3 --------------------------------------------------------------------------------------

    def _s3(self, values: dict[str, str], deadline: Deadline) -> CheckResult:
        """Lists at most one key of the bucket (ListObjectsV2), signed with the connection's
        keys only (SigV4), or anonymously without them."""
        bucket = values.get("bucket", "").strip()
        if not _BUCKET.fullmatch(bucket):
            return CheckResult(False, f"'{bucket}' is not a bucket name")
        region = values.get("region", "").strip() or "us-east-1"
        if not _REGION.fullmatch(region):
            return CheckResult(False, f"'{region}' is not a region name")
        key = values.get("access_key_id", "").strip()
        secret = values.get("secret_access_key", "")
        if key and not secret:
            return CheckResult(False, "give the secret access key with the access key id")
        endpoint = values.get("endpoint_url", "").strip().rstrip("/")
        base = endpoint or f"https://s3.{region}.amazonaws.com"
        try:
            url = httpx.URL(f"{base}/{bucket}?list-type=2&max-keys=1")
        except httpx.InvalidURL:
            return CheckResult(False, "the endpoint URL is not valid")
        headers = s3_auth_headers(url, key=key, secret=secret, region=region) if key else {}
        with httpx.Client(transport=self.transport(deadline), timeout=deadline.seconds) as client:
            status = client.get(url, headers=headers).status_code
        if status == 200:
            return CheckResult(True, f"bucket '{bucket}' is reachable")
        answered = f"the server answered HTTP {status}"
        if status in (301, 307):
            return CheckResult(
                False, f"bucket '{bucket}' is in another region: set its region ({answered})"
            )
        if status == 400 and key:
            return CheckResult(False, f"{answered}: is the region right?")
        if status == 403:
            return CheckResult(False, f"access to bucket '{bucket}' was denied ({answered})")
        if status == 404:
            return CheckResult(False, f"bucket '{bucket}' does not exist ({answered})")
        return CheckResult(False, answered)


def dhis2_reason(status: int, statuses: list[int]) -> str:
    """Why a DHIS2 request failed, from the status alone (DHIS2's own words are not shown:
    the server may not be DHIS2 at all)."""
    if status == 0:
        last = statuses[-1] if statuses else 0
        if 300 <= last < 400:
            return f"the server answered HTTP {last} (a redirect): is the URL the DHIS2 root?"
        return "not a DHIS2 server (no system/info)"
    if status == 401:
        return "authentication failed (the server answered HTTP 401)"
    if status == 404:
        return "the server answered HTTP 404: is the URL the DHIS2 root?"
    return f"the server answered HTTP {status}"


def _shown_name(value: object) -> str:
    """DHIS2's system name, when it is plain short text."""
    if not isinstance(value, str):
        return ""
    name = " ".join(value.split())
    if not name.isprintable():
        return ""
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "…"


def _libpq_restrictions() -> dict[str, str]:
    """libpq 16+: no client certificate from the server's home, no Kerberos/SSPI ticket."""
    import psycopg

    if psycopg.pq.version() < 160000:
        return {}
    return {"sslcertmode": "disable", "require_auth": "!gss,!sspi"}


def _postgresql_reason(
    exc: Exception, values: dict[str, str], deadline: Deadline
) -> tuple[str, bool]:
    """Our words for a libpq failure, and whether another address of the host may answer."""
    import psycopg

    if isinstance(exc, psycopg.errors.ConnectionTimeout):
        return TimedOut(deadline.seconds).message, False
    text = str(exc).lower()
    if "connection refused" in text:
        return "could not connect: connection refused", True
    for words, reason in (
        ("no route to host", "could not connect: no route to host"),
        ("network is unreachable", "could not connect: network is unreachable"),
        ("timeout expired", TimedOut(deadline.seconds).message),
    ):
        if words in text:
            return reason, True
    if any(
        words in text
        for words in ("expected authentication", "invalid response", "frontend protocol")
    ):
        return "not a PostgreSQL server (its answer was not the PostgreSQL protocol)", False
    mode = values.get("sslmode") or "prefer"
    if "does not support ssl" in text:
        return f"the server does not offer TLS, which sslmode {mode} requires", False
    if "database" in text and "does not exist" in text:
        return f"database '{values.get('database', '')}' does not exist", False
    if any(
        words in text
        for words in ("authentication", "password", "pg_hba.conf", "role", "permission denied")
    ):
        return "authentication failed", False
    if any(words in text for words in ("ssl", "tls", "certificate")):
        return f"the TLS negotiation failed (sslmode {mode})", False
    if "closed the connection" in text or "terminat" in text or "receive" in text:
        return "the server closed the connection", False
    return "could not connect to PostgreSQL", False


def _postgresql_version(number: int) -> str:
    if number >= 100000:
        return f"{number // 10000}.{number % 10000}"
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def s3_auth_headers(
    url: httpx.URL, *, key: str, secret: str, region: str, now: datetime | None = None
) -> dict[str, str]:
    """AWS Signature Version 4 headers for a GET of ``url`` (no body) to S3."""
    moment = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    day = moment[:8]
    payload = hashlib.sha256(b"").hexdigest()
    host = url.netloc.decode("ascii")
    path, _, query = url.raw_path.decode("ascii").partition("?")
    canonical_query = "&".join(sorted(p for p in query.split("&") if p))
    signed = "host;x-amz-content-sha256;x-amz-date"
    canonical = "\n".join(
        [
            "GET",
            path or "/",
            canonical_query,
            f"host:{host}\nx-amz-content-sha256:{payload}\nx-amz-date:{moment}\n",
            signed,
            payload,
        ]
    )
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", moment, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    signing = f"AWS4{secret}".encode()
    for part in (day, region, "s3", "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Host": host,
        "x-amz-date": moment,
        "x-amz-content-sha256": payload,
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/{scope}, "
        f"SignedHeaders={signed}, Signature={signature}",
    }
