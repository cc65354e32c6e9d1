from __future__ import annotations

from pydantic import Field

from joliba.schemas.common import Model


class DashboardOut(Model):
    id: int = Field(description="The dashboard's id in Superset")
    title: str
    url: str = Field(description="The dashboard in Superset (sign in through Joliba)")
    published: bool
    changed: str = Field(description="When it last changed, as Superset says it")


class GuestToken(Model):
    token: str = Field(
        description="A Superset guest token for this one dashboard (valid 5 minutes), for "
        "the embedded SDK's fetchGuestToken"
    )
    uuid: str = Field(description="The dashboard's embedding id (embedDashboard's id)")
    superset_url: str = Field(description="embedDashboard's supersetDomain")
