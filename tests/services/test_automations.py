"""Every kind of automation is set, listed and removed through the one service, and firing finds
what to start through its one lookup (both databases: ``world`` runs on each)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import AuditEntry, Pipeline
from joliba.domain.errors import Invalid, NotFound
from joliba.domain.permissions import Action, Role
from joliba.services import automations, datasets, pipelines, units, users
from joliba.services.actors import Actor
from joliba.services.automation_kinds import Kind, starts
from joliba.services.workspaces import Access, AccessMismatch
from tests.conftest import Person, World
from tests.pipeline_helpers import push

TARGET = """
from joliba import Secret, parameter, pipeline

@pipeline(name="Target")
@parameter("count", type=int, default=1)
@parameter("key", type=Secret, required=False)
def target(count, key):
    pass
"""


@contextmanager
def work(
    world: World, person: Person, ws: str, action: Action
) -> Iterator[tuple[Session, Access, Pipeline]]:
    """A unit of work as ``person`` for ``action``, with the pipeline ``target``."""
    with world.platform.db.transaction() as session:
        user = users.get_by_email(session, person.email)
        assert user is not None
    with units.work(world.platform.db, Actor(user=user), ws, action) as (session, access):
        yield session, access, pipelines.get(session, access, "target")


def _setup(world: World) -> tuple[Person, Person, str]:
    admin, member = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, member, Role.VIEWER)
    push(admin.api, ws, "target", TARGET)
    push(admin.api, ws, "upstream")
    assert admin.api.post(f"/workspaces/{ws}/datasets", json={"name": "cases"}).status_code == 201
    return admin, member, ws


def test_every_kind_is_set_listed_and_removed_through_the_one_service(world: World) -> None:
    admin, member, ws = _setup(world)
    box = world.platform.box
    # Each write demands the action it does: an access proving only a read cannot reach it.
    with (
        pytest.raises(AccessMismatch),
        work(world, admin, ws, Action.PIPELINE_READ) as (session, access, target),
    ):
        automations.set(session, access, box, target, Kind.WEBHOOK)
    with work(world, admin, ws, Action.PIPELINE_WRITE) as (session, access, target):
        values = {"count": 3, "key": "s3cret"}
        set_ = [
            automations.set(
                session, access, box, target, Kind.PIPELINE, source="upstream", parameters=values
            ),
            automations.set(session, access, box, target, Kind.DATASET, source="cases"),
            automations.set(session, access, box, target, Kind.WEBHOOK),
            automations.set(
                session,
                access,
                box,
                target,
                Kind.EMAIL,
                source=member.email.upper(),
                notify_on="all",
            ),
        ]
        assert [a.kind for a in set_] == [Kind.PIPELINE, Kind.DATASET, Kind.WEBHOOK, Kind.EMAIL]
        assert set_[2].secret.startswith("jlw_") and set_[3].source == member.email
        assert "encrypted" in set_[0].parameters["key"]  # a secret value is saved sealed
        # Setting one again replaces its values.
        again = automations.set(
            session, access, box, target, Kind.PIPELINE, source="upstream", parameters={"count": 4}
        )
        assert again.parameters == {"count": 4, "key": None}
        with pytest.raises(Invalid, match="cannot trigger itself"):
            automations.set(session, access, box, target, Kind.PIPELINE, source="target")
        with pytest.raises(Invalid, match="notify_on"):
            automations.set(
                session, access, box, target, Kind.EMAIL, source=member.email, notify_on="x"
            )

    with work(world, member, ws, Action.PIPELINE_READ) as (session, access, target):
        listed = automations.list_for(session, access, target)
        assert [(a.kind, a.source) for a in listed] == [
            (Kind.PIPELINE, "upstream"),
            (Kind.DATASET, "cases"),
            (Kind.WEBHOOK, ""),
            (Kind.EMAIL, member.email),
        ]
        by_kind = {a.kind: a for a in listed}
        assert by_kind[Kind.WEBHOOK].enabled and by_kind[Kind.EMAIL].notify_on == "all"
        assert by_kind[Kind.PIPELINE].parameters["count"] == 4
        assert by_kind[Kind.PIPELINE].created_at is not None

    with work(world, admin, ws, Action.PIPELINE_WRITE) as (session, access, target):
        for a in listed:
            automations.remove(session, access, target, a.kind, a.source)
        with pytest.raises(NotFound, match="does not trigger"):
            automations.remove(session, access, target, Kind.DATASET, "cases")
        with pytest.raises(NotFound, match="is not a recipient"):
            automations.remove(session, access, target, Kind.EMAIL, member.email)
        left = automations.list_for(session, access, target)
        assert [(a.kind, a.enabled) for a in left] == [(Kind.WEBHOOK, False)]
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.workspace_id == access.workspace.id)
        ).all()
    for action in ("trigger.set", "trigger.remove", "webhook.enable", "webhook.disable"):
        assert action in actions
    assert "recipient.set" in actions and "recipient.remove" in actions


def test_firing_looks_up_what_a_run_or_a_version_starts(world: World) -> None:
    admin, partner_admin = world.person(), world.person()
    ws = world.workspace(admin)
    partner = world.workspace(partner_admin)
    push(admin.api, ws, "target", TARGET)
    push(admin.api, ws, "upstream")
    push(partner_admin.api, partner, "target", TARGET)
    assert admin.api.post(f"/workspaces/{ws}/datasets", json={"name": "cases"}).status_code == 201
    shared = admin.api.post(f"/workspaces/{ws}/datasets/cases/shares", json={"workspace": partner})
    assert shared.status_code in (200, 201), shared.text
    box = world.platform.box
    with work(world, admin, ws, Action.PIPELINE_WRITE) as (session, access, target):
        automations.set(
            session, access, box, target, Kind.PIPELINE, source="upstream", parameters={"count": 2}
        )
        automations.set(session, access, box, target, Kind.DATASET, source="cases")
        upstream = pipelines.get(session, access, "upstream")
        cases = datasets.get(session, access, "cases")
        [after_run] = starts(session, Kind.PIPELINE, upstream.id)
        assert after_run.version.pipeline_id == target.id and after_run.parameters["count"] == 2
        assert starts(session, Kind.PIPELINE, target.id) == []
        target_id, upstream_id, cases_id = target.id, upstream.id, cases.id
    with work(world, partner_admin, partner, Action.PIPELINE_WRITE) as (session, access, mirror):
        automations.set(session, access, box, mirror, Kind.DATASET, source=f"{ws}.cases")
        mirror_id = mirror.id
    with world.platform.db.transaction() as session:
        started = {s.version.pipeline_id for s in starts(session, Kind.DATASET, cases_id)}
        assert started == {target_id, mirror_id}
        assert len(starts(session, Kind.PIPELINE, upstream_id)) == 1

    assert admin.api.delete(f"/workspaces/{ws}/datasets/cases/shares/{partner}").status_code == 204
    with world.platform.db.transaction() as session:
        # A revoked share stops the partner's trigger; the owner's own still fires.
        started = {s.version.pipeline_id for s in starts(session, Kind.DATASET, cases_id)}
        assert started == {target_id}
