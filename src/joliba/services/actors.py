"""Who is acting: a user, through a browser session, an API token or the CLI."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from joliba.db.tables import User


@dataclass(frozen=True)
class Actor:
    user: User
    #: The API token used, if any (recorded in audit entries).
    token_id: uuid.UUID | None = None
    #: A token restricted to one workspace sees nothing else.
    token_workspace_id: uuid.UUID | None = None
    client_ip: str = ""
    #: A running pipeline's token: the run it belongs to (recorded as author of what it makes).
    run_id: uuid.UUID | None = None
    #: A dataset token: the one dataset it may read, and nothing else.
    token_dataset_id: uuid.UUID | None = None
    #: How the actor came in, for the dataset access log ("browser", "api token NAME", …).
    via: str = ""

    @property
    def is_superuser(self) -> bool:
        return self.user.is_superuser

    @property
    def restricted(self) -> bool:
        return self.token_workspace_id is not None
