from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from joliba.schemas.common import Model


class WorkspaceDatabase(Model):
    engine: Literal["sqlite", "postgresql"] = Field(
        description="sqlite: a file only the workspace's runs open; postgresql: a database "
        "BI tools can connect to with the details below"
    )
    status: Literal["ready", "pending", "archived"] = Field(
        description="pending: being made, or to be made again (see error); archived: kept, "
        "but no role may sign in until the workspace is unarchived"
    )
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = Field(default=None, description="The owner role: reads and writes")
    read_only_user: str | None = Field(default=None, description="The role for BI tools")
    password: str | None = Field(
        default=None, description="The owner's password, only with reveal=true"
    )
    read_only_password: str | None = Field(
        default=None, description="The read-only role's password, only with reveal=true"
    )
    postgis: bool = Field(default=False, description="Whether PostGIS is in the database")
    error: str = Field(default="", description="Why the last attempt to make it failed")
    rotated_at: datetime | None = Field(default=None, description="When passwords last changed")
