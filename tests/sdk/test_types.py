"""Connection objects and type markers: built from the platform's JSON, secrets masked."""

from __future__ import annotations

import copy
import pickle

import pytest

from joliba import (
    CustomConnection,
    DHIS2Connection,
    PostgreSQLConnection,
    S3Connection,
    Secret,
)
from joliba.sdk.types import connection_from_json


def test_reprs_never_show_secrets() -> None:
    connections = [
        DHIS2Connection(url="https://x", username="admin", password="district", token="pat"),
        PostgreSQLConnection(host="h", database="d", username="u", password="pg-pw"),
        S3Connection(bucket="b", access_key_id="AK", secret_access_key="sk-secret"),
        CustomConnection(fields={"api_key": "custom-secret"}),
    ]
    text = repr(connections) + str(connections)
    for secret in ("district", "pat'", "pg-pw", "sk-secret", "custom-secret"):
        assert secret not in text
    assert text.count("'********'") >= 8
    assert repr(Secret("hunter2")) == "Secret('********')"
    assert str(Secret("hunter2")) == "hunter2" and f"{Secret('hunter2')}" == "hunter2"


def test_postgresql_url_and_default_port() -> None:
    conn = connection_from_json(
        "dw",
        {
            "type": "postgresql",
            "fields": {"host": "db", "database": "moh", "username": "u", "password": "a b/c"},
        },
    )
    assert isinstance(conn, PostgreSQLConnection)
    assert conn.port == 5432 and conn.name == "dw" and conn.slug == "dw"
    assert conn.url == "postgresql://u:a%20b%2Fc@db:5432/moh"
    assert PostgreSQLConnection(host="h", port=6543, database="d", username="u").url == (
        "postgresql://u@h:6543/d"
    )


def test_connections_from_json_ignore_extra_fields_and_fill_missing_ones() -> None:
    conn = connection_from_json(
        "sl", {"type": "dhis2", "name": "SL", "fields": {"url": "https://x", "extra": "?"}}
    )
    assert conn == DHIS2Connection(url="https://x", slug="sl", name="SL")
    with pytest.raises(ValueError, match="connection 'x': unknown type 'ftp'"):
        connection_from_json("x", {"type": "ftp", "fields": {}})
    with pytest.raises(ValueError, match="port must be a number"):
        connection_from_json("x", {"type": "postgresql", "fields": {"port": "abc"}})


def test_custom_connection_fields_read_as_attributes() -> None:
    conn = connection_from_json("api", {"type": "custom", "fields": {"key": "k", "n": 3}})
    assert isinstance(conn, CustomConnection)
    assert conn.key == "k" and conn["n"] == "3" and conn.fields == {"key": "k", "n": "3"}
    with pytest.raises(AttributeError, match=r"custom connection 'api' has no field 'nope' \("):
        _ = conn.nope
    # Copying and pickling do not trip over the attribute lookup.
    assert copy.deepcopy(conn) == conn
    assert pickle.loads(pickle.dumps(conn)) == conn  # noqa: S301 - our own bytes
