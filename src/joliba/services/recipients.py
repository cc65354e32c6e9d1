"""Who gets an email when a pipeline's run ends: on failure only, or on every run."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Membership, Pipeline, PipelineRecipient, User
from joliba.domain.errors import Invalid, NotFound
from joliba.services import audit
from joliba.services.workspaces import Access

NOTIFY_ON = ("failure", "all")


def list_for(session: Session, pipeline: Pipeline) -> Sequence[PipelineRecipient]:
    return session.scalars(
        select(PipelineRecipient)
        .join(User, User.id == PipelineRecipient.user_id)
        .where(PipelineRecipient.pipeline_id == pipeline.id)
        .order_by(User.email)
    ).all()


def set_recipient(
    session: Session, access: Access, pipeline: Pipeline, *, email: str, notify_on: str
) -> PipelineRecipient:
    if notify_on not in NOTIFY_ON:
        raise Invalid("notify_on: failure or all", details={"field": "notify_on"})
    user = session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == access.workspace.id, User.email == email.strip().lower())
    )
    if user is None:
        raise Invalid(
            f"email: {email} is not a member of this workspace", details={"field": "email"}
        )
    recipient = session.scalar(
        select(PipelineRecipient).where(
            PipelineRecipient.pipeline_id == pipeline.id, PipelineRecipient.user_id == user.id
        )
    )
    if recipient is None:
        recipient = PipelineRecipient(pipeline_id=pipeline.id, user_id=user.id)
        session.add(recipient)
    recipient.notify_on = notify_on
    session.flush()
    audit.record(
        session,
        "recipient.set",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{pipeline.code} {user.email}",
        details={"notify_on": notify_on},
    )
    return recipient


def remove(session: Session, access: Access, pipeline: Pipeline, email: str) -> None:
    recipient = session.scalar(
        select(PipelineRecipient)
        .join(User, User.id == PipelineRecipient.user_id)
        .where(PipelineRecipient.pipeline_id == pipeline.id, User.email == email.strip().lower())
    )
    if recipient is None:
        raise NotFound(f"{email} is not a recipient of '{pipeline.code}'")
    session.delete(recipient)
    session.flush()
    audit.record(
        session,
        "recipient.remove",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{pipeline.code} {email}",
    )
