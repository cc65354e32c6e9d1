from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from joliba.schemas.common import Input, Model


class User(Model):
    id: uuid.UUID
    email: str
    name: str
    is_superuser: bool
    created_at: datetime


class UserCreate(Input):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)
    name: str = Field(default="", max_length=200)
    is_superuser: bool = False


class PasswordChange(Input):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class Me(User):
    #: Set when the request came with a token restricted to one workspace.
    token_workspace: str | None = None
