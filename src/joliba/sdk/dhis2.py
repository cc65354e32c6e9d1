"""What a ``DHIS2Connection`` parameter gives the pipeline: a ready :mod:`joliba.dhis2` client.

Imported only when such a parameter is bound, so ``import joliba`` never loads httpx or
Polars. Building the client opens no connection: the first request does.
"""

from __future__ import annotations

from typing import Any

from joliba.dhis2 import DHIS2
from joliba.sdk.types import DHIS2Connection


class ConnectedDHIS2(DHIS2):
    """A :class:`joliba.dhis2.DHIS2` built from a workspace connection.

    The connection itself is ``client.connection`` (slug, name, url, username; its repr
    masks the secrets). ``client.slug``, ``.name``, ``.username``, ``.password`` and
    ``.token`` read the connection's fields, as they did when the parameter was the
    connection object; ``client.url`` is the server's root URL.
    """

    def __init__(self, connection: DHIS2Connection, **options: Any) -> None:
        super().__init__(
            connection.url,
            username=connection.username,
            password=connection.password,
            token=connection.token,
            **options,
        )
        self.connection = connection

    @property
    def slug(self) -> str:
        return self.connection.slug

    @property
    def name(self) -> str:
        return self.connection.name

    @property
    def username(self) -> str:
        return self.connection.username

    @property
    def password(self) -> str:
        return self.connection.password

    @property
    def token(self) -> str:
        return self.connection.token

    def __repr__(self) -> str:
        return f"DHIS2({self.url!r}, connection={self.connection.slug!r})"  # no credentials


def client_for(connection: DHIS2Connection) -> ConnectedDHIS2:
    """The client for ``connection``; ``ValueError`` when it has neither a username nor a
    token, or no URL."""
    if not connection.url.strip():
        raise ValueError(f"connection '{connection.slug}' has no URL")
    try:
        return ConnectedDHIS2(connection)
    except ValueError as exc:  # no credentials: say which connection lacks them
        raise ValueError(f"connection '{connection.slug}': {exc}") from None
