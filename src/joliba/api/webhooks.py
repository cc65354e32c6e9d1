"""A pipeline's secret webhook: turn it on (new URL), off, and the URL itself."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from joliba.domain.permissions import Action
from joliba.http.callers import client_ip
from joliba.http.deps import PlatformDep, WriteDB, require
from joliba.schemas.pipelines import Webhook
from joliba.services import automations, pipelines, webhooks
from joliba.services.automation_kinds import Kind
from joliba.services.workspaces import Access

router = APIRouter(tags=["webhooks"])


@router.post(
    "/workspaces/{ws}/pipelines/{code}/webhook",
    status_code=201,
    response_model=Webhook,
    summary="Create a new webhook URL (the previous one stops working); shown once",
)
def enable_webhook(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
    platform: PlatformDep,
) -> Webhook:
    pipeline = pipelines.get(session, access, code)
    secret = automations.set(session, access, platform.box, pipeline, Kind.WEBHOOK).secret
    return Webhook(url=f"{platform.settings.base_url.rstrip('/')}/api/v1/hooks/{secret}")


@router.delete(
    "/workspaces/{ws}/pipelines/{code}/webhook", status_code=204, summary="Turn the webhook off"
)
def disable_webhook(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
) -> Response:
    automations.remove(session, access, pipelines.get(session, access, code), Kind.WEBHOOK)
    return Response(status_code=204)


@router.post(
    "/hooks/{secret}",
    status_code=201,
    summary="Start a run through a webhook URL (no token: the URL is the secret)",
)
def call_webhook(
    secret: str,
    request: Request,
    session: WriteDB,
    platform: PlatformDep,
    parameters: Annotated[dict[str, Any] | None, Body(description="Parameter values")] = None,
) -> dict[str, str]:
    run = webhooks.trigger(
        session,
        platform.box,
        secret,
        parameters or {},
        default_timeout=platform.settings.run_timeout_seconds,
        client_ip=client_ip(request),
    )
    run_id, state = str(run.id), run.state
    return {"id": run_id, "state": state}
