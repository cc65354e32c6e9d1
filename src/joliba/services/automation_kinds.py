"""The kinds of automation, the one shape they come back in, where each is stored, and the
lookup that firing goes through.

The use cases are in ``services/automations.py``. This module is apart because ``runs`` reads
it: a run that succeeds (``services/runs.py``) and a version that is published
(``dataset_triggers.fire``) find the runs they start through :func:`starts`, so it must not
import ``runs`` (which ``automations`` does, to check parameter values).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from joliba.db.tables import (
    Dataset,
    DatasetShare,
    DatasetTrigger,
    Pipeline,
    PipelineRecipient,
    PipelineTrigger,
    PipelineVersion,
    User,
)
from joliba.services.pipelines import latest_versions


class Kind(StrEnum):
    PIPELINE = "pipeline"  # another pipeline's run succeeds
    DATASET = "dataset"  # a dataset (owned or shared) publishes a version
    WEBHOOK = "webhook"  # someone posts to the pipeline's secret URL
    EMAIL = "email"  # starts nothing: a member is emailed when a run ends


#: The kinds that save run values, checked against the pipeline's latest version.
SAVES_VALUES = frozenset({Kind.PIPELINE, Kind.DATASET})


@dataclass(frozen=True)
class Automation:
    """One automation of a pipeline, whatever its kind."""

    kind: Kind
    #: What fires it, as the workspace names it (a pipeline's code, a dataset's reference), or
    #: who is told (a member's email); "" for the webhook (a pipeline has one).
    source: str
    #: The saved run values (secrets sealed), for the kinds in SAVES_VALUES.
    parameters: Mapping[str, Any] = field(default_factory=dict)
    #: Email: "failure" or "all".
    notify_on: str = ""
    #: False only for a webhook that is off.
    enabled: bool = True
    #: When a trigger was set (the other kinds keep no date).
    created_at: datetime | None = None
    #: The webhook's new secret, only in what setting it returns: shown once.
    secret: str = ""


Link = PipelineTrigger | DatasetTrigger | PipelineRecipient
Named = Pipeline | Dataset | User


@dataclass(frozen=True)
class Stored:
    """A kind kept as one row per (pipeline, source), and how the audit log names it."""

    table: type[Link]
    #: The column that points at the source's row in ``named``.
    column: InstrumentedAttribute[uuid.UUID]
    named: type[Named]
    order: InstrumentedAttribute[str]
    #: The audit actions' noun, and their target, with {source} and {code}.
    noun: str
    target: str
    #: The NotFound of removing one that is not there.
    missing: str


STORED: dict[Kind, Stored] = {
    Kind.PIPELINE: Stored(
        PipelineTrigger,
        PipelineTrigger.source_id,
        Pipeline,
        Pipeline.code,
        "trigger",
        "{source} -> {code}",
        "'{source}' does not trigger '{code}'",
    ),
    Kind.DATASET: Stored(
        DatasetTrigger,
        DatasetTrigger.dataset_id,
        Dataset,
        Dataset.slug,
        "trigger",
        "dataset {source} -> {code}",
        "dataset '{source}' does not trigger '{code}'",
    ),
    Kind.EMAIL: Stored(
        PipelineRecipient,
        PipelineRecipient.user_id,
        User,
        User.email,
        "recipient",
        "{code} {source}",
        "{source} is not a recipient of '{code}'",
    ),
}


def linked(session: Session, kind: Kind, pipeline: Pipeline) -> Sequence[tuple[Link, Named]]:
    """``pipeline``'s rows of ``kind`` with the row each names, in the sources' order."""
    stored = STORED[kind]
    rows = session.execute(
        select(stored.table, stored.named)
        .join(stored.named, stored.named.id == stored.column)
        .where(stored.table.pipeline_id == pipeline.id)
        .order_by(stored.order)
    ).all()
    # The query's columns are chosen per kind: typed here from what STORED pairs.
    return [(cast(Link, row[0]), cast(Named, row[1])) for row in rows]


def link_of(session: Session, kind: Kind, pipeline: Pipeline, source_id: uuid.UUID) -> Link | None:
    stored = STORED[kind]
    row = session.scalar(
        select(stored.table).where(
            stored.table.pipeline_id == pipeline.id, stored.column == source_id
        )
    )
    return cast(Link | None, row)


def shape(kind: Kind, row: Link, source: str) -> Automation:
    if isinstance(row, PipelineRecipient):
        return Automation(kind, source, notify_on=row.notify_on)
    return Automation(kind, source, parameters=row.parameters, created_at=row.created_at)


@dataclass(frozen=True)
class Start:
    """A run an event starts: the pipeline's latest version, with the trigger's saved values."""

    version: PipelineVersion
    parameters: Mapping[str, Any]


def starts(session: Session, kind: Kind, source_id: uuid.UUID) -> list[Start]:
    """The runs that the pipeline or dataset ``source_id`` starts (``kind``: PIPELINE when one
    of its runs succeeded, DATASET when it published a version); a pipeline with no version
    yet starts none."""
    stored = STORED[kind]
    rows = session.execute(
        select(stored.table, Pipeline)
        .join(Pipeline, Pipeline.id == stored.table.pipeline_id)
        .where(stored.column == source_id, _may_start(kind, source_id))
        .order_by(Pipeline.code)
    ).all()
    latest = latest_versions(session, [pipeline.id for _row, pipeline in rows])
    found = []
    for row, pipeline in rows:
        version = latest.get(pipeline.id)
        if version is not None and isinstance(row, PipelineTrigger | DatasetTrigger):
            found.append(Start(version, row.parameters))
    return found


def _may_start(kind: Kind, source_id: uuid.UUID) -> ColumnElement[bool]:
    """A dataset starts the pipelines of its own workspace and of those it is shared with (a
    revoked share stops its triggers); a pipeline is only ever named in its own workspace."""
    if kind is not Kind.DATASET:
        return true()
    owner = select(Dataset.workspace_id).where(Dataset.id == source_id).scalar_subquery()
    shared = select(DatasetShare.workspace_id).where(DatasetShare.dataset_id == source_id)
    return or_(Pipeline.workspace_id == owner, Pipeline.workspace_id.in_(shared))
