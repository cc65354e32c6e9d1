from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from joliba.schemas.common import Input, Model


class TokenCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    workspace: str | None = Field(default=None, description="Restrict the token to this workspace")
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class Token(Model):
    id: uuid.UUID
    name: str
    prefix: str
    workspace: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(Token):
    token: str = Field(description="The secret: shown once, never again")
