"""Parameter type markers and the typed connection objects a pipeline receives.

The connection types are :class:`joliba.domain.wire.ConnectionType`; the fields of each and
which of them are secret, :data:`joliba.domain.connections.FIELDS`. The classes here hold
those fields (``tests/test_wire_contracts.py`` checks they agree) and their reprs mask the
secret ones. ``FIELDS`` is imported on first use: ``import joliba`` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joliba.domain.wire import MASK, ConnectionType


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


def _typed_repr(connection: Connection, cls: type[Connection]) -> str:
    """``Class(slug=..., field=...)`` in the order of ``FIELDS``, secret fields masked."""
    from joliba.domain.connections import FIELDS

    shown = [f"slug={connection.slug!r}"]
    for spec in FIELDS[_TYPES[cls]]:
        value = getattr(connection, spec.name)
        shown.append(f"{spec.name}={_masked(value) if spec.secret else value!r}")
    return f"{cls.__name__}({', '.join(shown)})"


@dataclass(frozen=True, repr=False)
class DHIS2Connection:
    url: str = ""
    username: str = ""
    password: str = ""
    token: str = ""
    slug: str = ""
    name: str = ""

    def __repr__(self) -> str:
        return _typed_repr(self, DHIS2Connection)


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
        return _typed_repr(self, PostgreSQLConnection)


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
        return _typed_repr(self, S3Connection)


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

#: The class of each connection type.
CONNECTION_CLASSES: dict[ConnectionType, type[Connection]] = {
    ConnectionType.DHIS2: DHIS2Connection,
    ConnectionType.POSTGRESQL: PostgreSQLConnection,
    ConnectionType.S3: S3Connection,
    ConnectionType.CUSTOM: CustomConnection,
}
_TYPES: dict[type, ConnectionType] = {cls: kind for kind, cls in CONNECTION_CLASSES.items()}

#: Python type given to ``@parameter(type=...)`` → the spec's type string.
SPEC_TYPES: dict[type, str] = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    Secret: "secret",
    File: "file",
    Dataset: "dataset",
    **{cls: kind.value for kind, cls in CONNECTION_CLASSES.items()},
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
    given = data.get("type")
    kind = next((t for t in ConnectionType if t.value == given), None)
    if kind is None:
        raise ValueError(f"connection '{slug}': unknown type {given!r}")
    cls = CONNECTION_CLASSES[kind]
    raw = data.get("fields") or {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"connection '{slug}': fields must be an object")
    fields = {str(k): "" if v is None else str(v) for k, v in raw.items()}
    name = str(data.get("name") or slug)
    if cls is CustomConnection:
        return CustomConnection(fields=fields, slug=slug, name=name)
    from joliba.domain.connections import FIELDS

    specs = FIELDS[kind]
    values: dict[str, Any] = {s.name: fields[s.name] for s in specs if s.name in fields}
    for spec in specs:
        if spec.kind == "int" and spec.name in values:
            number = values.pop(spec.name).strip()  # empty: the class's default (port 5432)
            if number and not number.isdigit():
                raise ValueError(f"connection '{slug}': {spec.name} must be a number")
            if number:
                values[spec.name] = int(number)
    return cls(slug=slug, name=name, **values)


def connection_type(connection: Connection) -> str:
    return SPEC_TYPES[type(connection)]
