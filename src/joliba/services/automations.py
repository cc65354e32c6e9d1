"""What starts a pipeline by itself, and who is told how its runs went: one service for all.

Every kind (:class:`~joliba.services.automation_kinds.Kind`) — another pipeline's run
succeeding, a dataset publishing a version, the pipeline's secret webhook, the members emailed
about its runs — is listed, set and removed here and comes back as one ``Automation``; the API
routes and the automation page differ only in their wording per kind.

Schedules are not folded in: a schedule is a clock, not an event. It has its own table (many
per pipeline, each with an id), a cron slot that servers claim by moving it forward so that it
fires once across servers, a time zone, an overlap policy and pause/resume — all in
``services/schedules.py``.

Firing stays with the events: a run that succeeds (``services/runs.py``) and a version that
is published (``dataset_triggers.fire``) find the runs they start through
``automation_kinds.starts``; a post to a webhook URL finds its pipeline by the secret's hash
(``webhooks.trigger``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Dataset, Membership, Pipeline, PipelineRecipient, User
from joliba.domain.errors import Invalid, NotFound
from joliba.domain.permissions import Action
from joliba.services import audit, datasets, pipelines, runs, webhooks
from joliba.services.automation_kinds import (
    SAVES_VALUES,
    STORED,
    Automation,
    Kind,
    Named,
    link_of,
    linked,
    shape,
)
from joliba.services.crypto import SecretBox
from joliba.services.workspaces import Access

NOTIFY_ON = ("failure", "all")


def list_for(
    session: Session, access: Access, pipeline: Pipeline, *kinds: Kind
) -> list[Automation]:
    """``pipeline``'s automations of ``kinds`` (every kind when none), kind by kind; the
    webhook is always listed, on (enabled) or off."""
    found = []
    for kind in kinds or tuple(Kind):
        if kind is Kind.WEBHOOK:
            on = pipeline.webhook_token_hash is not None
            found.append(Automation(kind, "", enabled=on))
            continue
        rows = linked(session, kind, pipeline)
        found += [shape(kind, row, _name(access, named)) for row, named in rows]
    return found


def set(
    session: Session,
    access: Access,
    box: SecretBox,
    pipeline: Pipeline,
    kind: Kind,
    *,
    source: str = "",
    parameters: Mapping[str, Any] | None = None,
    notify_on: str = "failure",
) -> Automation:
    """Start ``pipeline`` on ``kind``'s event from ``source`` with ``parameters`` (checked
    against its latest version, secrets sealed), or email the member ``source`` (``notify_on``
    failure or all). Setting one again replaces its values; the webhook gets a new secret,
    returned once in ``secret``."""
    access.demand(Action.PIPELINE_WRITE)
    if kind is Kind.WEBHOOK:
        return Automation(kind, "", secret=webhooks.enable(session, access, pipeline))
    if kind is Kind.EMAIL and notify_on not in NOTIFY_ON:
        raise Invalid("notify_on: failure or all", details={"field": "notify_on"})
    named, label = _chosen(session, access, pipeline, kind, source)
    values: dict[str, Any] = {}
    if kind in SAVES_VALUES:
        version = pipelines.get_version(session, pipeline, None)
        values = runs.check_values(session, box, version, parameters or {})
    stored = STORED[kind]
    row = link_of(session, kind, pipeline, named.id)
    if row is None:
        row = stored.table(pipeline_id=pipeline.id, **{stored.column.key: named.id})
        session.add(row)
    details = None
    if isinstance(row, PipelineRecipient):
        row.notify_on = notify_on
        details = {"notify_on": notify_on}
    else:
        row.parameters = values
    session.flush()
    _audit(session, access, kind, "set", pipeline, label, details)
    return shape(kind, row, label)


def remove(
    session: Session, access: Access, pipeline: Pipeline, kind: Kind, source: str = ""
) -> None:
    """Stop ``source``'s automation of ``kind`` (NotFound if there is none); the webhook is
    turned off, and its URL stops working."""
    access.demand(Action.PIPELINE_WRITE)
    if kind is Kind.WEBHOOK:
        webhooks.disable(session, access, pipeline)
        return
    named = _named(session, access, kind, source)
    row = None if named is None else link_of(session, kind, pipeline, named.id)
    if row is None:
        raise NotFound(STORED[kind].missing.format(source=source, code=pipeline.code))
    session.delete(row)
    session.flush()
    _audit(session, access, kind, "remove", pipeline, source)


def _chosen(
    session: Session, access: Access, pipeline: Pipeline, kind: Kind, source: str
) -> tuple[Named, str]:
    """The row a new automation's ``source`` names, and how the answer and audit name it."""
    if kind is Kind.PIPELINE:
        upstream = pipelines.get(session, access, source)
        if upstream.id == pipeline.id:
            raise Invalid("source: a pipeline cannot trigger itself", details={"field": "source"})
        return upstream, source
    if kind is Kind.DATASET:
        try:
            return datasets.get(session, access, source), source
        except NotFound:
            raise NotFound(f"dataset '{source}' not found", details={"field": "dataset"}) from None
    member = session.scalar(
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.workspace_id == access.workspace.id, User.email == _email(source))
    )
    if member is None:
        raise Invalid(
            f"email: {source} is not a member of this workspace", details={"field": "email"}
        )
    return member, member.email


def _named(session: Session, access: Access, kind: Kind, source: str) -> Named | None:
    """The row an existing automation's ``source`` names (a former member stays removable)."""
    if kind is Kind.PIPELINE:
        return pipelines.get(session, access, source)
    if kind is Kind.DATASET:
        return datasets.get(session, access, source)
    return session.scalar(select(User).where(User.email == _email(source)))


def _name(access: Access, named: Named) -> str:
    if isinstance(named, Pipeline):
        return named.code
    if isinstance(named, Dataset):
        return datasets.ref_of(access, named)
    return named.email


def _email(source: str) -> str:
    return source.strip().lower()


def _audit(
    session: Session,
    access: Access,
    kind: Kind,
    verb: str,
    pipeline: Pipeline,
    source: str,
    details: dict[str, Any] | None = None,
) -> None:
    stored = STORED[kind]
    audit.record(
        session,
        f"{stored.noun}.{verb}",
        actor=access.actor,
        workspace=access.workspace,
        target=stored.target.format(source=source, code=pipeline.code),
        details=details,
    )
