from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from joliba.domain.permissions import Role
from joliba.schemas.common import Input, Model


class Member(Model):
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    created_at: datetime


class MemberUpdate(Input):
    role: Role


class InvitationCreate(Input):
    email: str = Field(max_length=320)
    role: Role = Role.VIEWER


class Invitation(Model):
    id: uuid.UUID
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime


class InvitationCreated(Invitation):
    url: str = Field(description="The single-use link to send to the invitee: shown once")


class InvitationAccept(Input):
    token: str = Field(max_length=200)
