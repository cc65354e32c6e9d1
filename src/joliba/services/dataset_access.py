"""The access log of datasets: every download, export, preview, query and diff, by whom; and
what a reader may read. The reads themselves, each recorded here, are
:mod:`joliba.services.dataset_reading`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Dataset, DatasetAccess, DatasetFile, DatasetVersion, User, Workspace
from joliba.domain.paging import PageRequest
from joliba.domain.permissions import Action
from joliba.services import datasets
from joliba.services.paging import paginate
from joliba.services.workspaces import Access


class ReadKind(StrEnum):
    DOWNLOAD = "download"  # a file's bytes as stored
    EXPORT = "export"  # a table converted to CSV, Parquet or Excel
    PREVIEW = "preview"
    QUERY = "query"
    DIFF = "diff"  # two versions compared (rows shown when a key is given)
    LOAD = "load"  # a table loaded into a workspace database
    MAP = "map"  # a table drawn as a map


def record(
    session: Session,
    access: Access,
    dataset: Dataset,
    *,
    kind: ReadKind,
    version: str,
    file: str = "",
    rows: int | None = None,
    size: int | None = None,
) -> DatasetAccess:
    """One entry in the dataset's access log (flushed, not committed)."""
    access.demand(Action.DATASET_READ)
    entry = DatasetAccess(
        dataset_id=dataset.id,
        version_name=version,
        file_name=file,
        action=kind,
        reader_workspace_id=access.workspace.id,
        user_id=access.actor.user.id,
        via=access.actor.via[:255],
        rows=rows,
        bytes=size,
        client_ip=access.actor.client_ip[:64],
    )
    session.add(entry)
    session.flush()
    return entry


def record_follow(
    session: Session,
    dataset_id: uuid.UUID,
    workspace_id: uuid.UUID,
    *,
    version: str,
    file: str,
    table: str,
    rows: int,
) -> DatasetAccess:
    """The access log's entry for a load of a followed table (``services.table_loads``):
    done by the server for the workspace, so it names the table and no person."""
    entry = DatasetAccess(
        dataset_id=dataset_id,
        version_name=version,
        file_name=file,
        action=ReadKind.LOAD,
        reader_workspace_id=workspace_id,
        user_id=None,
        via=f"table {table} kept in step"[:255],
        rows=rows,
        client_ip="",
    )
    session.add(entry)
    session.flush()
    return entry


def list_for(
    session: Session, dataset: Dataset, page: PageRequest
) -> tuple[Sequence[tuple[DatasetAccess, str | None, str | None]], int]:
    """Entries newest first, with the reader's email and workspace slug."""
    query = select(DatasetAccess).where(DatasetAccess.dataset_id == dataset.id)
    entries, total = paginate(
        session, query, page, DatasetAccess.at.desc(), DatasetAccess.id.desc()
    )
    users = {
        u.id: u.email
        for u in session.scalars(
            select(User).where(User.id.in_({e.user_id for e in entries if e.user_id}))
        )
    }
    spaces = {
        w.id: w.slug
        for w in session.scalars(
            select(Workspace).where(
                Workspace.id.in_({e.reader_workspace_id for e in entries if e.reader_workspace_id})
            )
        )
    }
    return [
        (
            e,
            users.get(e.user_id) if e.user_id else None,
            spaces.get(e.reader_workspace_id) if e.reader_workspace_id else None,
        )
        for e in entries
    ], total


def readable_versions(
    session: Session, access: Access, ref: str, *versions: str
) -> tuple[Dataset, list[DatasetVersion]]:
    """Versions of a dataset the caller may read (shares and dataset tokens: published only)."""
    dataset = datasets.get(session, access, ref)
    drafts = datasets.sees_drafts(access, dataset)
    return dataset, [datasets.get_version(session, dataset, v, drafts=drafts) for v in versions]


def readable_file(
    session: Session, access: Access, slug: str, version: str, name: str
) -> tuple[Dataset, DatasetVersion, DatasetFile]:
    """A file of a version the caller may read (shares and dataset tokens: published only)."""
    dataset, (chosen,) = readable_versions(session, access, slug, version)
    return dataset, chosen, datasets.get_file(session, chosen, name)
