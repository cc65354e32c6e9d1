"""Publishing a dataset version, and recording a file streamed into a draft.

Both check what is in storage, or wait for an upload, with no transaction open; then they
authorise the actor again (the role or the workspace may have changed meanwhile) and write
in one short transaction. Publishing fires the dataset's triggers in that same transaction,
so a version is never published without the runs it starts, nor the reverse.
"""

from __future__ import annotations

from joliba.db.tables import DatasetFile, DatasetVersion
from joliba.domain.permissions import Action
from joliba.services import commit_events, dataset_triggers, datasets, units
from joliba.services.actors import Actor
from joliba.services.platform import Platform


def publish(platform: Platform, actor: Actor, ws: str, slug: str, version: str) -> DatasetVersion:
    """Publish draft ``version`` of dataset ``slug`` once every file is in storage whole."""
    with units.work(platform.db, actor, ws, Action.DATASET_WRITE, write=False) as (
        session,
        access,
    ):
        dataset = datasets.get(session, access, slug, owned=True)
        draft = datasets.get_version(session, dataset, version)
        datasets.check_draft(draft)
        stored = [(f.sha256, f.size) for f in datasets.files(session, draft)]
    blobs = platform.store.blobs()
    present = all(blobs.exists(sha) and blobs.size(sha) == size for sha, size in stored)
    with units.work(platform.db, actor, ws, Action.DATASET_WRITE) as (session, access):
        dataset = datasets.get(session, access, slug, owned=True)
        published = datasets.publish(
            session,
            access,
            dataset,
            datasets.get_version(session, dataset, version),
            present=present,
        )
        dataset_triggers.fire(
            session,
            platform.box,
            dataset,
            published,
            default_timeout=platform.settings.run_timeout_seconds,
        )
        commit_events.announce(session, commit_events.DATASET_PUBLISHED)
        return published


def record_file(
    platform: Platform,
    actor: Actor,
    ws: str,
    *,
    slug: str,
    version: str,
    name: str,
    sha256: str,
    size: int,
) -> DatasetFile:
    """Make stored content (``sha256``, ``size``) file ``name`` of draft ``version``."""
    with units.work(platform.db, actor, ws, Action.DATASET_WRITE) as (session, access):
        draft = datasets.get_version(
            session, datasets.get(session, access, slug, owned=True), version
        )
        return datasets.put_file(session, access, draft, name=name, sha256=sha256, size=size)
