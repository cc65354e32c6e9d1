"""A workspace's Superset dashboards (with JOLIBA_SUPERSET_URL): the list, and guest tokens
to embed one in another page."""

from __future__ import annotations

from fastapi import APIRouter

from joliba.http.deps import ActorDep, PlatformDep
from joliba.schemas.superset import DashboardOut, GuestToken
from joliba.services.superset import required

router = APIRouter(tags=["dashboards"])


@router.get(
    "/workspaces/{ws}/dashboards",
    response_model=list[DashboardOut],
    summary="The Superset dashboards that draw only on the workspace's database",
)
def list_dashboards(ws: str, actor: ActorDep, platform: PlatformDep) -> list[DashboardOut]:
    link = required(platform.superset)
    return [DashboardOut.model_validate(d) for d in link.dashboards(actor, ws)]


@router.post(
    "/workspaces/{ws}/dashboards/{dashboard_id}/guest-token",
    response_model=GuestToken,
    summary="A guest token to embed one of the workspace's dashboards (audited)",
)
def dashboard_guest_token(
    ws: str, dashboard_id: int, actor: ActorDep, platform: PlatformDep
) -> GuestToken:
    link = required(platform.superset)
    token, embedding = link.guest_token(actor, ws, dashboard_id, platform.settings.base_origin)
    return GuestToken(token=token, uuid=embedding.uuid, superset_url=embedding.superset_url)
