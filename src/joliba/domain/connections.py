"""Connection types: which fields each has, which are secret, and how values are checked.

The one definition of the fields and their secrecy: the server's forms and API, the masking
of messages and the SDK's connection objects (:mod:`joliba.sdk.types`, whose repr masks the
secret fields named here) all read :data:`FIELDS`. The type names themselves and the mask
are wire vocabulary, in :mod:`joliba.domain.wire` (cheap for ``import joliba``, which does
not import this module).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joliba.domain.errors import Invalid
from joliba.domain.wire import MASK as MASK
from joliba.domain.wire import ConnectionType as ConnectionType


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    secret: bool = False
    required: bool = False
    kind: str = "text"  # text | url | int
    help: str = ""


FIELDS: dict[ConnectionType, tuple[FieldSpec, ...]] = {
    ConnectionType.DHIS2: (
        FieldSpec("url", "Server URL", required=True, kind="url", help="https://dhis2.example.org"),
        FieldSpec("username", "Username", help="With a password, or leave empty and use a token"),
        FieldSpec("password", "Password", secret=True),
        FieldSpec("token", "Personal access token", secret=True),
    ),
    ConnectionType.POSTGRESQL: (
        FieldSpec("host", "Host", required=True),
        FieldSpec("port", "Port", kind="int", help="5432 when empty"),
        FieldSpec("database", "Database", required=True),
        FieldSpec("username", "Username", required=True),
        FieldSpec("password", "Password", secret=True),
        FieldSpec("sslmode", "SSL mode", help="disable, prefer, require, verify-full"),
    ),
    ConnectionType.S3: (
        FieldSpec("bucket", "Bucket", required=True),
        FieldSpec("access_key_id", "Access key id"),
        FieldSpec("secret_access_key", "Secret access key", secret=True),
        FieldSpec("region", "Region"),
        FieldSpec("endpoint_url", "Endpoint URL", kind="url", help="For S3-compatible stores"),
    ),
    ConnectionType.CUSTOM: (),
}

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
_SSLMODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}


def parse_type(value: str) -> ConnectionType:
    try:
        return ConnectionType(value)
    except ValueError:
        known = ", ".join(t.value for t in ConnectionType)
        raise Invalid(
            f"type: unknown connection type '{value}' (known: {known})",
            details={"field": "type"},
        ) from None


def secret_names(kind: ConnectionType, custom_secrets: list[str] | None = None) -> set[str]:
    if kind is ConnectionType.CUSTOM:
        return set(custom_secrets or [])
    return {f.name for f in FIELDS[kind] if f.secret}


def validate_fields(
    kind: ConnectionType,
    fields: dict[str, Any],
    *,
    secret_keys: set[str],
) -> tuple[dict[str, str], dict[str, str]]:
    """Split ``fields`` into (plain, secret) string dicts, raising :class:`Invalid` on errors.

    ``fields`` is the merged view (stored values plus the update); for custom connections
    ``secret_keys`` names the keys to keep secret.
    """
    values = {k: "" if v is None else str(v).strip() for k, v in fields.items()}
    if kind is ConnectionType.CUSTOM:
        for key in values:
            if not _KEY.match(key):
                raise Invalid(
                    f"fields.{key}: keys are letters, digits and underscores, "
                    "starting with a letter (at most 64)",
                    details={"field": f"fields.{key}"},
                )
        plain = {k: v for k, v in values.items() if k not in secret_keys}
        secret = {k: v for k, v in values.items() if k in secret_keys}
        return plain, secret
    specs = {f.name: f for f in FIELDS[kind]}
    for key in values:
        if key not in specs:
            raise Invalid(
                f"fields.{key}: not a field of {kind.value} connections "
                f"(fields: {', '.join(specs)})",
                details={"field": f"fields.{key}"},
            )
    for spec in specs.values():
        value = values.get(spec.name, "")
        if spec.required and not value:
            raise Invalid(f"fields.{spec.name}: required", details={"field": f"fields.{spec.name}"})
        if value and spec.kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise Invalid(
                    f"fields.{spec.name}: must be an http:// or https:// URL",
                    details={"field": f"fields.{spec.name}"},
                )
        if (
            value
            and spec.kind == "int"
            and not (value.isascii() and value.isdigit() and 0 < int(value) < 65536)
        ):
            raise Invalid(
                f"fields.{spec.name}: must be a port number",
                details={"field": f"fields.{spec.name}"},
            )
    if kind is ConnectionType.DHIS2:
        has_basic = bool(values.get("username")) and bool(values.get("password"))
        if not has_basic and not values.get("token"):
            raise Invalid(
                "fields: a dhis2 connection needs a username and password, or a token",
                details={"field": "fields.token"},
            )
    sslmode = values.get("sslmode")
    if kind is ConnectionType.POSTGRESQL and sslmode and sslmode not in _SSLMODES:
        raise Invalid(
            f"fields.sslmode: one of {', '.join(sorted(_SSLMODES))}",
            details={"field": "fields.sslmode"},
        )
    plain = {k: v for k, v in values.items() if not specs[k].secret and v}
    secret = {k: v for k, v in values.items() if specs[k].secret and v}
    return plain, secret
