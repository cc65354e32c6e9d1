"""Lists are built in a fixed number of queries, whatever the number of rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from joliba.builds.versions import VersionSource
from joliba.db.tables import Dataset, Pipeline, PipelineRun
from joliba.domain.permissions import Action
from joliba.domain.runs import Trigger
from joliba.http import views
from joliba.services import datasets, pipelines, runs, units, users, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from tests.conftest import PASSWORD, unique

SPEC = {"name": "Count", "function": "count", "parameters": []}


def _workspace(platform: Platform, size: int) -> tuple[Actor, str]:
    """A workspace with ``size`` pipelines (each with a version and a run) and datasets
    (each with a published version and a file)."""
    slug = unique("ws-")
    with platform.db.transaction() as session:
        user = users.create_user(session, email=f"{unique('u')}@example.org", password=PASSWORD)
        workspaces.create(session, None, name=slug, slug=slug, admin=user)
        actor = Actor(user=user)
    for n in range(size):
        with units.work(platform.db, actor, slug, Action.PIPELINE_WRITE) as (session, access):
            source = VersionSource("a" * 64, 10, "b" * 64, dict(SPEC))
            version = pipelines.create_version(session, access, code=f"p{n}", source=source)
            runs.queue(
                session,
                platform.box,
                version=version,
                values={},
                trigger=Trigger.MANUAL,
                default_timeout=60,
                actor=actor,
                # Not due for a year: the test server's runner leaves these runs as they are.
                not_before=datetime.now(UTC) + timedelta(days=365),
            )
        with units.work(platform.db, actor, slug, Action.DATASET_WRITE) as (session, access):
            dataset = datasets.create(session, access, name=f"Dataset {n}", slug=f"d{n}")
            draft = datasets.create_version(session, access, dataset, name="v1")
            datasets.put_file(session, access, draft, name="a.csv", sha256="c" * 64, size=3)
            datasets.publish(session, access, dataset, draft, present=True)
    return actor, slug


@contextmanager
def counting(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _queries(platform: Platform, size: int, build: Callable[[Session, Any], object]) -> int:
    actor, slug = _workspace(platform, size)
    with units.work(platform.db, actor, slug, Action.PIPELINE_READ) as (session, access):
        with counting(session) as statements:
            shown = build(session, access)
        assert isinstance(shown, list) and len(shown) == size
        return len(statements)


def _pipelines(session: Session, access: Any) -> object:
    rows = session.scalars(select(Pipeline).where(Pipeline.workspace_id == access.workspace.id))
    return views.pipeline_views(session, list(rows))


def _runs(session: Session, access: Any) -> object:
    rows = session.scalars(
        select(PipelineRun).where(PipelineRun.workspace_id == access.workspace.id)
    )
    return views.run_views(session, list(rows))


def _datasets(session: Session, access: Any) -> object:
    rows = session.scalars(select(Dataset).where(Dataset.workspace_id == access.workspace.id))
    return views.dataset_views(session, access, list(rows))


def test_pipeline_run_and_dataset_lists_do_not_query_per_row(platform: Platform) -> None:
    for build in (_pipelines, _runs, _datasets):
        one, many = _queries(platform, 1, build), _queries(platform, 5, build)
        assert one == many, f"{build.__name__}: {one} queries for 1 row, {many} for 5"


def test_the_views_show_what_each_row_has(platform: Platform) -> None:
    actor, slug = _workspace(platform, 2)
    with units.work(platform.db, actor, slug, Action.PIPELINE_READ) as (session, access):
        shown = views.pipeline_views(
            session,
            list(
                session.scalars(
                    select(Pipeline)
                    .where(Pipeline.workspace_id == access.workspace.id)
                    .order_by(Pipeline.code)
                )
            ),
        )
        assert [p.code for p in shown] == ["p0", "p1"]
        assert all(p.latest_version and p.latest_version.number == 1 for p in shown)
        assert all(p.last_run_state == "queued" for p in shown)
        ran = views.run_views(
            session,
            list(
                session.scalars(
                    select(PipelineRun).where(PipelineRun.workspace_id == access.workspace.id)
                )
            ),
        )
        assert {r.pipeline for r in ran} == {"p0", "p1"}
        assert {r.triggered_by for r in ran} == {actor.user.email}
        found = views.dataset_views(
            session,
            access,
            list(
                session.scalars(select(Dataset).where(Dataset.workspace_id == access.workspace.id))
            ),
        )
        assert all(d.latest and [f.name for f in d.latest.files] == ["a.csv"] for d in found)
        assert {d.latest.author for d in found if d.latest} == {actor.user.email}
