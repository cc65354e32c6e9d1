"""Loading a dataset's table into the workspace's database, once or kept in step.

``load`` writes one table file of a dataset version (the workspace's own, or one shared
with it) as a table of the workspace database, all or nothing, streamed from its Parquet
copy (``workspace.write_table`` does the writing, so a table loaded here is the same as one a
pipeline writes). With ``follow`` the table is kept in step: whenever a newer version of the
dataset is published, ``refresh`` loads the same file of it again. The runner's follower
calls ``refresh`` when a version is published (``DATASET_PUBLISHED``) and every minute, so a
server that was down catches up. A load is recorded in the dataset's access log and in the
workspace's audit log; the metadata transaction is closed while the table is written.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Dataset, DatasetShare, DatasetVersion, Workspace
from joliba.db.workspace_database_tables import TableFollow
from joliba.domain.datasets import VersionState
from joliba.domain.errors import Invalid, NotFound
from joliba.domain.permissions import Action
from joliba.sdk.tables import TableError, write_table
from joliba.services import audit, dataset_access, datasets, units, workspaces
from joliba.services.actors import Actor
from joliba.services.dataset_access import ReadKind
from joliba.services.platform import Platform
from joliba.services.workspaces import Access

log = logging.getLogger("joliba.table_loads")
IF_EXISTS = ("replace", "append", "fail")


@dataclass(frozen=True)
class Loaded:
    table: str
    rows: int
    dataset: str
    version: int
    file: str
    following: bool


def load(
    platform: Platform,
    actor: Actor,
    ws: str,
    ref: str,
    version: str,
    file: str,
    table: str,
    *,
    if_exists: str = "replace",
    follow: bool = False,
) -> Loaded:
    """Write ``file`` of ``version`` of dataset ``ref`` as ``table``; with ``follow``, keep it
    in step with the dataset's latest published version from now on."""
    if if_exists not in IF_EXISTS:
        raise Invalid(
            f"if_exists: one of {', '.join(IF_EXISTS)}, not '{if_exists}'",
            details={"field": "if_exists"},
        )
    if follow and if_exists != "replace":
        raise Invalid(
            "follow: a table kept in step is replaced by each new version (if_exists=replace)",
            details={"field": "follow"},
        )
    with units.work(platform.db, actor, ws, Action.DATABASE_WRITE, write=False) as (
        session,
        _access,
    ):
        reader = workspaces.authorize(session, actor, ws, Action.DATASET_READ)
        dataset, chosen, row = dataset_access.readable_file(session, reader, ref, version, file)
        if row.kind == "file":
            raise Invalid(f"file: '{file}' is not a table", details={"field": "file"})
        if follow and chosen.state != VersionState.PUBLISHED:
            raise Invalid(
                "follow: a table kept in step follows published versions; load a published one",
                details={"field": "follow"},
            )
        dataset_id, version_id, number = dataset.id, chosen.id, chosen.number
        shown = datasets.ref_of(reader, dataset)
        sha256, kind, workspace_id = row.sha256, row.kind, reader.workspace.id
    rows = _write(platform, workspace_id, sha256, kind, table, if_exists)
    with units.work(platform.db, actor, ws, Action.DATABASE_WRITE) as (session, access):
        reader = workspaces.authorize(session, actor, ws, Action.DATASET_READ)
        dataset_access.record(
            session,
            reader,
            session.get_one(Dataset, dataset_id),
            kind=ReadKind.LOAD,
            version=str(number),
            file=file,
            rows=rows,
        )
        if follow:
            _follow(session, access, dataset_id, file, table, version_id)
        audit.record(
            session,
            "database.load",
            actor=access.actor,
            workspace=access.workspace,
            target=table,
            details={
                "dataset": shown,
                "version": number,
                "file": file,
                "rows": rows,
                "follow": follow,
            },
        )
    return Loaded(table, rows, shown, number, file, follow)


def _write(
    platform: Platform, workspace_id: uuid.UUID, sha256: str, kind: str, table: str, if_exists: str
) -> int:
    path = platform.tables.parquet(sha256, kind)
    target = platform.databases.target(workspace_id, writable=True)
    try:
        return write_table(path, table, target.url, if_exists=if_exists)  # type: ignore[arg-type]
    except TableError as exc:
        raise Invalid(str(exc), details={"field": "table"}) from None


def _follow(
    session: Session,
    access: Access,
    dataset_id: uuid.UUID,
    file: str,
    table: str,
    version_id: uuid.UUID,
) -> None:
    access.demand(Action.DATABASE_WRITE)
    row = session.scalar(
        select(TableFollow).where(
            TableFollow.workspace_id == access.workspace.id, TableFollow.table == table
        )
    )
    if row is None:
        row = TableFollow(workspace_id=access.workspace.id, table=table)
        session.add(row)
    row.dataset_id, row.file = dataset_id, file
    row.created_by = access.actor.user.email
    row.loaded_version_id, row.loaded_at, row.error = version_id, datetime.now(UTC), ""
    session.flush()


def follows(session: Session, access: Access) -> list[tuple[TableFollow, str]]:
    """The workspace's tables kept in step, with how the workspace names their dataset."""
    rows = session.scalars(
        select(TableFollow)
        .where(TableFollow.workspace_id == access.workspace.id)
        .order_by(TableFollow.table)
    ).all()
    found = []
    for row in rows:
        dataset = session.get_one(Dataset, row.dataset_id)
        found.append((row, datasets.ref_of(access, dataset)))
    return found


def unfollow(session: Session, access: Access, table: str) -> None:
    """Stop keeping ``table`` in step (the table itself stays as it is)."""
    access.demand(Action.DATABASE_WRITE)
    row = session.scalar(
        select(TableFollow).where(
            TableFollow.workspace_id == access.workspace.id, TableFollow.table == table
        )
    )
    if row is None:
        raise NotFound(f"table '{table}' is not kept in step with a dataset")
    session.delete(row)
    audit.record(
        session, "database.unfollow", actor=access.actor, workspace=access.workspace, target=table
    )


def refresh(platform: Platform) -> list[str]:
    """Load the newest published version into every followed table that is behind; the
    tables done, as "workspace.table". A failure is kept in the follow's ``error`` and tried
    again at the next refresh; a dataset the workspace may no longer read is not loaded."""
    with platform.db.transaction(write=False) as session:
        behind = _behind(session)
    done = []
    for item in behind:
        try:
            rows = _write(
                platform, item.workspace_id, item.sha256, item.kind, item.table, "replace"
            )
        except Exception as exc:  # the next refresh tries again; the page shows why
            message = (exc.message if isinstance(exc, Invalid) else str(exc))[:2000]
            if message != item.error:  # said once, not at every refresh
                log.warning("could not refresh table %s of %s: %s", item.table, item.slug, message)
            _mark(platform, item.follow_id, error=message)
            continue
        _mark(platform, item.follow_id, version_id=item.version_id, rows=rows)
        done.append(f"{item.slug}.{item.table}")
    return done


@dataclass(frozen=True)
class _Behind:
    follow_id: uuid.UUID
    workspace_id: uuid.UUID
    slug: str
    table: str
    version_id: uuid.UUID
    sha256: str
    kind: str
    error: str


def _behind(session: Session) -> list[_Behind]:
    follows = session.scalars(select(TableFollow)).all()
    if not follows:
        return []
    newest = datasets.latest_published(session, {f.dataset_id for f in follows})
    found = []
    for follow in follows:
        latest = newest.get(follow.dataset_id)
        if latest is None or latest.id == follow.loaded_version_id:
            continue
        dataset = session.get_one(Dataset, follow.dataset_id)
        if dataset.workspace_id != follow.workspace_id and not session.scalar(
            select(DatasetShare.id).where(
                DatasetShare.dataset_id == dataset.id,
                DatasetShare.workspace_id == follow.workspace_id,
            )
        ):
            continue  # no longer shared with the workspace
        file = next((f for f in datasets.files(session, latest) if f.name == follow.file), None)
        if file is None:
            continue  # the new version has no such file: the table keeps the last one
        workspace = session.get_one(Workspace, follow.workspace_id)
        if workspace.archived:
            continue
        found.append(
            _Behind(
                follow.id,
                workspace.id,
                workspace.slug,
                follow.table,
                latest.id,
                file.sha256,
                file.kind,
                follow.error,
            )
        )
    return found


def _mark(
    platform: Platform,
    follow_id: uuid.UUID,
    *,
    version_id: uuid.UUID | None = None,
    rows: int = 0,
    error: str = "",
) -> None:
    with platform.db.transaction() as session:
        row = session.get(TableFollow, follow_id)
        if row is None:
            return
        row.error = error
        if version_id is not None:
            row.loaded_version_id, row.loaded_at = version_id, datetime.now(UTC)
        version = session.get(DatasetVersion, version_id) if version_id else None
        if version is not None:
            dataset_access.record_follow(
                session,
                version.dataset_id,
                row.workspace_id,
                version=str(version.number),
                file=row.file,
                table=row.table,
                rows=rows,
            )
            audit.record(
                session,
                "database.load",
                email="joliba",
                workspace=session.get(Workspace, row.workspace_id),
                target=row.table,
                details={"version": version.number, "file": row.file, "follow": True},
            )
