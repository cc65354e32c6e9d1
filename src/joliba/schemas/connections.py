from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from joliba.domain import connections
from joliba.schemas.common import Input, Model

FieldValue = str | int | bool | None
_TYPES = [kind.value for kind in connections.ConnectionType]


class Connection(Model):
    id: uuid.UUID
    slug: str
    name: str
    type: str
    description: str
    fields: dict[str, str] = Field(description="Secret fields that hold a value show ********")
    secret_fields: list[str]
    created_at: datetime
    updated_at: datetime


class ConnectionEdited(Connection):
    cleared_secret_fields: list[str] = Field(
        default_factory=list,
        description="Secrets this edit cleared because it changed where the connection points",
    )
    notice: str = Field(
        default="",
        description='e.g. "the password was cleared because the server URL changed; '
        'enter it again"',
    )


class ConnectionCreate(Input):
    type: str = Field(description=f"{', '.join(_TYPES[:-1])} or {_TYPES[-1]}")
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=10_000)
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    secret_fields: list[str] | None = Field(
        default=None, description="custom connections: the keys whose values are secret"
    )


class ConnectionUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    fields: dict[str, FieldValue] | None = Field(
        default=None, description="Merged into the stored values; ******** keeps a secret"
    )
    secret_fields: list[str] | None = None


class ConnectionTest(Model):
    ok: bool
    message: str


class DHIS2Item(Model):
    id: str = Field(description="The DHIS2 uid")
    name: str
    level: int | None = Field(default=None, description="Organisation units and their levels")
    path: str | None = Field(default=None, description="Organisation units: /root/…/uid")


class DHIS2Items(Model):
    items: list[DHIS2Item]


class ConnectionField(Model):
    name: str
    label: str
    secret: bool
    required: bool
    kind: str
    help: str


class ConnectionType(Model):
    type: str
    fields: list[ConnectionField] = Field(description="Empty for custom: any keys")
