"""Parameter type markers and the typed connection objects a pipeline receives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: What a repr shows instead of a secret field.
MASK = "********"


class Secret(str):
    """A text parameter the UI hides; its repr never shows the value (``str()`` does)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"


class File(str):
    """A workspace file path (relative to ``workspace.files_path``)."""

    __slots__ = ()


class Dataset(str):
    """A dataset of the workspace, as a parameter type (``@parameter(type=Dataset)``).

    The function receives a :class:`joliba.sdk.datasets.Dataset`: this class, so still
    equal to the slug, with the dataset's versions and files.
    """

    __slots__ = ()


def _masked(value: str) -> str:
    return MASK if value else ""


@dataclass(frozen=True, repr=False)
class DHIS2Connection:
    url: str = ""
    username: str = ""
    password: str = ""
    token: str = ""
    slug: str = ""
    name: str = ""

    def __repr__(self) -> str:
        return (
            f"DHIS2Connection(slug={self.slug!r}, url={self.url!r}, username={self.username!r}, "
            f"password={_masked(self.password)!r}, token={_masked(self.token)!r})"
        )


@dataclass(frozen=True, repr=False)
class PostgreSQLConnection:
    host: str = ""
    port: int = 5432
    database: str = ""
    username: str = ""
    password: str = ""
    sslmode: str = ""
    slug: str = ""
    name: str = ""

    @property
    def url(self) -> str:
        """``postgresql://user:password@host:port/database`` with each part URL-quoted."""
        from urllib.parse import quote  # only when asked: keeps `import joliba` light

        auth = quote(self.username, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        url = f"postgresql://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}"
        return f"{url}?sslmode={quote(self.sslmode, safe='')}" if self.sslmode else url

    def __repr__(self) -> str:
        return (
            f"PostgreSQLConnection(slug={self.slug!r}, host={self.host!r}, port={self.port!r}, "
            f"database={self.database!r}, username={self.username!r}, "
            f"password={_masked(self.password)!r}, sslmode={self.sslmode!r})"
        )


@dataclass(frozen=True, repr=False)
class S3Connection:
    bucket: str = ""
    access_key_id: str = ""
    secret_access_key: str = ""
    region: str = ""
    endpoint_url: str = ""
    slug: str = ""
    name: str = ""

    def __repr__(self) -> str:
        return (
            f"S3Connection(slug={self.slug!r}, bucket={self.bucket!r}, "
            f"access_key_id={self.access_key_id!r}, "
            f"secret_access_key={_masked(self.secret_access_key)!r}, region={self.region!r}, "
            f"endpoint_url={self.endpoint_url!r})"
        )


@dataclass(frozen=True, repr=False)
class CustomConnection:
    """Free-form fields, read as attributes (``conn.api_key``) or items (``conn["api_key"]``).

    The SDK is not told which custom fields are secret, so a repr masks every value.
    """

    fields: dict[str, str] = field(default_factory=dict)
    slug: str = ""
    name: str = ""

    def __getattr__(self, key: str) -> str:
        # Only called when normal lookup fails; dunder lookups (copy, pickle) must not recurse.
        fields = self.__dict__.get("fields", {})
        if key.startswith("_") or key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise AttributeError(
                f"custom connection '{self.__dict__.get('slug', '')}' has no field '{key}' "
                f"(fields: {known})"
            )
        return str(fields[key])

    def __getitem__(self, key: str) -> str:
        return str(self.fields[key])

    def __repr__(self) -> str:
        shown = {k: _masked(v) for k, v in self.fields.items()}
        return f"CustomConnection(slug={self.slug!r}, name={self.name!r}, fields={shown!r})"


Connection = DHIS2Connection | PostgreSQLConnection | S3Connection | CustomConnection

#: Python type given to ``@parameter(type=...)`` → the spec's type string.
SPEC_TYPES: dict[type, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    Secret: "secret",
    File: "file",
    Dataset: "dataset",
    DHIS2Connection: "dhis2",
    PostgreSQLConnection: "postgresql",
    S3Connection: "s3",
    CustomConnection: "custom",
}

_CONNECTION_CLASSES: dict[str, type[Connection]] = {
    "dhis2": DHIS2Connection,
    "postgresql": PostgreSQLConnection,
    "s3": S3Connection,
    "custom": CustomConnection,
}


def spec_type_of(python_type: Any, code: str) -> str:
    """The spec type for ``python_type``, or ``TypeError`` naming the parameter."""
    try:
        return SPEC_TYPES[python_type]
    except (KeyError, TypeError):
        known = ", ".join(t.__name__ for t in SPEC_TYPES)
        raise TypeError(
            f"parameter '{code}': unsupported type {python_type!r} (supported: {known})"
        ) from None


def connection_from_json(slug: str, data: Any) -> Connection:
    """Build the typed connection from ``{"type", "name", "fields": {...}}``.

    Unknown fields of the built-in types are ignored; missing ones are "" (port 5432).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"connection '{slug}': expected an object")
    kind = data.get("type")
    cls = _CONNECTION_CLASSES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"connection '{slug}': unknown type {kind!r}")
    raw = data.get("fields") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"connection '{slug}': fields must be an object")
    fields = {str(k): "" if v is None else str(v) for k, v in raw.items()}
    name = str(data.get("name") or slug)
    if cls is CustomConnection:
        return CustomConnection(fields=fields, slug=slug, name=name)
    known = set(cls.__dataclass_fields__) - {"slug", "name"}
    values: dict[str, Any] = {k: v for k, v in fields.items() if k in known}
    if cls is PostgreSQLConnection:
        port = values.get("port", "").strip()
        if port and not port.isdigit():
            raise ValueError(f"connection '{slug}': port must be a number")
        values["port"] = int(port) if port else 5432
    return cls(slug=slug, name=name, **values)


def connection_type(connection: Connection) -> str:
    return SPEC_TYPES[type(connection)]
