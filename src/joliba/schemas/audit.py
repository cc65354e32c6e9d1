from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from joliba.schemas.common import Model


class AuditEntry(Model):
    id: uuid.UUID
    at: datetime
    action: str
    actor_email: str
    token_id: uuid.UUID | None
    target: str
    client_ip: str
    details: dict[str, Any]
