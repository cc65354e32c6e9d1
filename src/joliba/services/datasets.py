"""Datasets and their versions: drafts that take files, then publish and never change."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from joliba.db.tables import (
    Dataset,
    DatasetFile,
    DatasetShare,
    DatasetVersion,
    TableProfile,
    Workspace,
    utcnow,
)
from joliba.domain.datasets import VersionState, check_file_name, clean_tags, kind_of
from joliba.domain.errors import Conflict, Invalid, NotFound
from joliba.domain.numbers import whole_number
from joliba.domain.paging import PageRequest
from joliba.domain.permissions import Action
from joliba.domain.slugs import check_name, check_slug, slugify
from joliba.services import audit, commit_events
from joliba.services.newest import newest_of_each
from joliba.services.paging import paginate
from joliba.services.workspaces import Access


def _visible(access: Access) -> Select[Dataset]:
    """The datasets a workspace sees: its own, and those shared with it."""
    shared = select(DatasetShare.dataset_id).where(DatasetShare.workspace_id == access.workspace.id)
    query = select(Dataset).where(
        (Dataset.workspace_id == access.workspace.id) | Dataset.id.in_(shared)
    )
    if access.actor.token_dataset_id is not None:
        query = query.where(Dataset.id == access.actor.token_dataset_id)
    return query


def list_for(
    session: Session, access: Access, page: PageRequest, *, search: str = "", tag: str = ""
) -> tuple[Sequence[Dataset], int]:
    """Owned and shared datasets (a shared one's ``workspace`` is its source)."""
    query = _visible(access)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(func.lower(Dataset.name).like(like) | Dataset.slug.like(like))
    if tag:  # tags are a JSON list: filtered here, portable across SQLite and PostgreSQL
        matching = [d for d in session.scalars(query.order_by(Dataset.slug)) if tag in d.tags]
        return matching[page.offset : page.offset + page.limit], len(matching)
    return paginate(session, query, page, Dataset.slug, Dataset.id)


def ref_of(access: Access, dataset: Dataset) -> str:
    """How ``access.workspace`` names ``dataset``: its slug, or ``source-ws.slug`` if shared."""
    if dataset.workspace_id == access.workspace.id:
        return dataset.slug
    return f"{dataset.workspace.slug}.{dataset.slug}"


def get(session: Session, access: Access, ref: str, *, owned: bool = False) -> Dataset:
    """A dataset by slug, owned or shared; ``source-ws.slug`` names a shared one exactly.

    ``owned`` refuses shared datasets (they are read-only here) with the same NotFound.
    """
    missing = NotFound(f"dataset '{ref}' not found")
    dataset = session.scalar(
        select(Dataset).where(Dataset.workspace_id == access.workspace.id, Dataset.slug == ref)
    )
    if dataset is None and not owned:
        query = _visible(access).where(Dataset.workspace_id != access.workspace.id)
        if "." in ref:
            source, _, slug = ref.partition(".")
            query = query.join(Workspace, Workspace.id == Dataset.workspace_id).where(
                Workspace.slug == source, Dataset.slug == slug
            )
        else:
            query = query.where(Dataset.slug == ref)
        found = session.scalars(query.limit(2)).all()
        if len(found) > 1:
            raise Conflict(
                f"several datasets shared with this workspace are called '{ref}'; "
                "name one as source-workspace.slug"
            )
        dataset = found[0] if found else None
    if dataset is None:
        raise missing
    token_dataset = access.actor.token_dataset_id
    if token_dataset is not None and dataset.id != token_dataset:
        raise missing
    return dataset


def create(
    session: Session,
    access: Access,
    *,
    name: str,
    slug: str | None = None,
    description: str = "",
    tags: list[str] | None = None,
) -> Dataset:
    access.demand(Action.DATASET_WRITE)
    name = check_name(name)
    slug = check_slug(slug or slugify(name))
    if session.scalar(
        select(Dataset.id).where(Dataset.workspace_id == access.workspace.id, Dataset.slug == slug)
    ):
        raise Conflict(f"slug: a dataset '{slug}' already exists", details={"field": "slug"})
    dataset = Dataset(
        workspace_id=access.workspace.id,
        slug=slug,
        name=name,
        description=description.strip(),
        tags=clean_tags(tags or []),
        created_by_id=access.actor.user.id,
    )
    session.add(dataset)
    session.flush()
    audit.record(
        session, "dataset.create", actor=access.actor, workspace=access.workspace, target=slug
    )
    return dataset


def sees_drafts(access: Access, dataset: Dataset) -> bool:
    """Drafts are the owner's work in progress: shares and dataset tokens see published
    versions only."""
    return dataset.workspace_id == access.workspace.id and access.actor.token_dataset_id is None


def list_versions(
    session: Session, dataset: Dataset, page: PageRequest, *, drafts: bool = True
) -> tuple[Sequence[DatasetVersion], int]:
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
    if not drafts:
        query = query.where(DatasetVersion.state == VersionState.PUBLISHED)
    return paginate(session, query, page, DatasetVersion.number.desc())


def get_version(
    session: Session, dataset: Dataset, ref: str, *, drafts: bool = True
) -> DatasetVersion:
    """A version by number, by name, or ``latest`` (the newest published one)."""
    query = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
    if not drafts:
        query = query.where(DatasetVersion.state == VersionState.PUBLISHED)
    if ref == "latest":
        query = query.where(DatasetVersion.state == VersionState.PUBLISHED).order_by(
            DatasetVersion.number.desc()
        )
    elif ref.isascii() and ref.isdigit():
        number = whole_number(ref)
        if number is None:  # past any version number the database can hold
            raise NotFound(f"dataset '{dataset.slug}' has no version '{ref}'")
        query = query.where(DatasetVersion.number == number)
    else:
        query = query.where(DatasetVersion.name == ref)
    version = session.scalars(query.limit(1)).first()
    if version is None:
        raise NotFound(f"dataset '{dataset.slug}' has no version '{ref}'")
    return version


def create_version(
    session: Session, access: Access, dataset: Dataset, *, name: str = "", changelog: str = ""
) -> DatasetVersion:
    """A new draft version (the next number; named after it unless a name is given)."""
    access.demand(Action.DATASET_WRITE)
    last = session.scalar(
        select(func.max(DatasetVersion.number)).where(DatasetVersion.dataset_id == dataset.id)
    )
    number = (last or 0) + 1
    label = check_name(name) if name.strip() else f"v{number}"
    if label.isdigit() or label == "latest":
        raise Invalid("name: not a number nor 'latest'", details={"field": "name"})
    if session.scalar(
        select(DatasetVersion.id).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.name == label
        )
    ):
        raise Conflict(f"name: version '{label}' already exists", details={"field": "name"})
    version = DatasetVersion(
        dataset_id=dataset.id,
        number=number,
        name=label,
        changelog=changelog.strip(),
        state=VersionState.DRAFT,
        author_id=access.actor.user.id,
        author_run_id=access.actor.run_id,
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        "dataset.version.create",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{dataset.slug} {label}",
    )
    return version


def delete_draft(
    session: Session, access: Access, dataset: Dataset, version: DatasetVersion
) -> None:
    """Drop a draft with its files (their contents stay stored for other versions)."""
    access.demand(Action.DATASET_WRITE)
    check_draft(version)
    session.delete(version)
    session.flush()
    audit.record(
        session,
        "dataset.version.delete",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{dataset.slug} {version.name}",
    )


def latest_published(
    session: Session, dataset_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, DatasetVersion]:
    """The newest published version of each dataset, in one query (for lists)."""
    return newest_of_each(
        session,
        DatasetVersion,
        DatasetVersion.dataset_id,
        DatasetVersion.number,
        dataset_ids,
        DatasetVersion.state == VersionState.PUBLISHED,
    )


def files_of(
    session: Session, version_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[DatasetFile]]:
    """The files of each version, by name, in one query (for lists)."""
    found: dict[uuid.UUID, list[DatasetFile]] = {v: [] for v in version_ids}
    if version_ids:
        for row in session.scalars(
            select(DatasetFile)
            .where(DatasetFile.version_id.in_(version_ids))
            .order_by(DatasetFile.name)
        ):
            found[row.version_id].append(row)
    return found


def files(session: Session, version: DatasetVersion) -> Sequence[DatasetFile]:
    return session.scalars(
        select(DatasetFile).where(DatasetFile.version_id == version.id).order_by(DatasetFile.name)
    ).all()


def get_file(session: Session, version: DatasetVersion, name: str) -> DatasetFile:
    found = session.scalar(
        select(DatasetFile).where(DatasetFile.version_id == version.id, DatasetFile.name == name)
    )
    if found is None:
        raise NotFound(f"version '{version.name}' has no file '{name}'")
    return found


def check_draft(version: DatasetVersion) -> None:
    if version.state != VersionState.DRAFT:
        raise Conflict(f"version '{version.name}' is published and cannot change")


def put_file(
    session: Session, access: Access, version: DatasetVersion, *, name: str, sha256: str, size: int
) -> DatasetFile:
    """Record stored content as file ``name`` of a draft (replacing one of the same name)."""
    access.demand(Action.DATASET_WRITE)
    check_draft(version)
    name = check_file_name(name)
    existing = session.scalar(
        select(DatasetFile).where(DatasetFile.version_id == version.id, DatasetFile.name == name)
    )
    if existing is not None:
        session.delete(existing)
        session.flush()
    row = DatasetFile(
        version_id=version.id, name=name, sha256=sha256, size=size, kind=kind_of(name)
    )
    session.add(row)
    session.flush()
    if row.kind != "file" and session.get(TableProfile, sha256) is None:
        try:  # the profiler picks it up; the same content uploaded meanwhile is fine
            with session.begin_nested():
                session.add(TableProfile(sha256=sha256, kind=row.kind))
        except IntegrityError:
            pass
    commit_events.announce(session, commit_events.TABLE_STORED)
    return row


def delete_file(session: Session, version: DatasetVersion, name: str) -> None:
    check_draft(version)
    session.delete(get_file(session, version, name))
    session.flush()


def publish(
    session: Session, access: Access, dataset: Dataset, version: DatasetVersion, *, present: bool
) -> DatasetVersion:
    """Publish a draft in one statement; ``present`` says every file's content is stored.

    The update is conditional on the state, so two concurrent publishes cannot both win,
    and a version whose content is missing never becomes visible as published.
    """
    access.demand(Action.DATASET_WRITE)
    check_draft(version)
    if not files(session, version):
        raise Invalid("a version needs at least one file to be published")
    if not present:
        raise Conflict("some files of this version are missing from storage; upload them again")
    moved = session.execute(
        update(DatasetVersion)
        .where(DatasetVersion.id == version.id, DatasetVersion.state == VersionState.DRAFT)
        .values(state=VersionState.PUBLISHED, published_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"version '{version.name}' was published meanwhile")
    session.refresh(version)
    audit.record(
        session,
        "dataset.version.publish",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{dataset.slug} {version.name}",
    )
    return version
