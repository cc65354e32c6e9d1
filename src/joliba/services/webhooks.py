"""A pipeline's secret webhook URL, which starts a run with the JSON parameters posted to it.

Turning it on and off is the webhook kind of ``services/automations.py``; what is particular to
it lives here: the secret (only its hash is stored, on the pipeline) and the run a post starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Pipeline, PipelineRun, Workspace
from joliba.domain.errors import Conflict, NotFound
from joliba.domain.permissions import Action
from joliba.domain.runs import Trigger
from joliba.services import audit, runs
from joliba.services.crypto import SecretBox, new_token, token_hash
from joliba.services.pipelines import get_version
from joliba.services.workspaces import Access

WEBHOOK_PREFIX = "jlw_"


def enable(session: Session, access: Access, pipeline: Pipeline) -> str:
    """A new secret for the pipeline's webhook (any previous URL stops working)."""
    access.demand(Action.PIPELINE_WRITE)
    secret = new_token(WEBHOOK_PREFIX)
    pipeline.webhook_token_hash = token_hash(secret)
    session.flush()
    audit.record(
        session,
        "webhook.enable",
        actor=access.actor,
        workspace=access.workspace,
        target=pipeline.code,
    )
    return secret


def disable(session: Session, access: Access, pipeline: Pipeline) -> None:
    access.demand(Action.PIPELINE_WRITE)
    pipeline.webhook_token_hash = None
    session.flush()
    audit.record(
        session,
        "webhook.disable",
        actor=access.actor,
        workspace=access.workspace,
        target=pipeline.code,
    )


def trigger(
    session: Session,
    box: SecretBox,
    secret: str,
    values: Mapping[str, Any],
    *,
    default_timeout: int,
    client_ip: str = "",
) -> PipelineRun:
    """Queue a run for the pipeline whose webhook secret this is."""
    pipeline = None
    if secret.startswith(WEBHOOK_PREFIX):
        pipeline = session.scalar(
            select(Pipeline).where(Pipeline.webhook_token_hash == token_hash(secret))
        )
    if pipeline is None:
        raise NotFound("no webhook at this address (it may have been replaced or turned off)")
    workspace = session.get(Workspace, pipeline.workspace_id)
    if workspace is None or workspace.archived:
        raise Conflict("the pipeline's workspace is archived")
    version = get_version(session, pipeline, None)
    run = runs.queue(
        session,
        box,
        version=version,
        values=values,
        trigger=Trigger.WEBHOOK,
        default_timeout=default_timeout,
        detail="webhook",
    )
    audit.record(
        session,
        "run.create",
        workspace=workspace,
        email="webhook",
        client_ip=client_ip,
        target=f"{pipeline.code} v{version.number} run {run.id}",
    )
    return run
