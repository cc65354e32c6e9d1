"""Emails to a pipeline's recipients when its runs end."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import PipelineRecipient, PipelineRun, User, Workspace
from joliba.domain.runs import RunState


@dataclass(frozen=True)
class Notice:
    to: list[str]
    subject: str
    body: str


def notice_for(session: Session, run_id: uuid.UUID, base_url: str) -> Notice | None:
    """The email about an ended run, or None when no recipient wants it."""
    run = session.get(PipelineRun, run_id)
    if run is None or run.finished_at is None:
        return None
    succeeded = run.state == RunState.SUCCEEDED
    wanted = ["all"] if succeeded else ["all", "failure"]
    emails = session.scalars(
        select(User.email)
        .join(PipelineRecipient, PipelineRecipient.user_id == User.id)
        .where(
            PipelineRecipient.pipeline_id == run.pipeline_id,
            PipelineRecipient.notify_on.in_(wanted),
            User.is_active.is_(True),
        )
        .order_by(User.email)
    ).all()
    if not emails:
        return None
    workspace = session.get(Workspace, run.workspace_id)
    slug = workspace.slug if workspace else ""
    pipeline = run.pipeline
    state = run.state.replace("_", " ")
    duration = ""
    if run.started_at is not None:
        duration = f"{(run.finished_at - run.started_at).total_seconds():.1f} s"
    lines = [
        f"Pipeline: {pipeline.name} ({pipeline.code}), version {run.version.number}",
        f"Workspace: {slug}",
        f"Run: {run.id} ({run.trigger}{', ' + run.trigger_detail if run.trigger_detail else ''})",
        f"State: {state}" + (f" after {duration}" if duration else ""),
    ]
    if run.error:
        lines.append(f"Error: {run.error}")
    lines += ["", f"Details and logs: {base_url.rstrip('/')}/w/{slug}/runs/{run.id}"]
    return Notice(
        to=list(emails),
        subject=f"[Joliba] {pipeline.code}: run {state}",
        body="\n".join(lines) + "\n",
    )
