"""A service that writes refuses an access proving another action (a wiring bug)."""

from __future__ import annotations

import pytest

from joliba.domain.permissions import Action, Role
from joliba.services import members, units, users, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.services.workspaces import AccessMismatch
from tests.conftest import PASSWORD, unique


def test_writes_demand_the_action_the_edge_authorised(platform: Platform) -> None:
    slug = unique("ws-")
    with platform.db.transaction() as session:
        admin = users.create_user(session, email=f"{unique('a')}@example.org", password=PASSWORD)
        other = users.create_user(session, email=f"{unique('b')}@example.org", password=PASSWORD)
        workspace = workspaces.create(session, None, name=slug, slug=slug, admin=admin)
        members.add(session, None, workspace, other, Role.VIEWER)
        actor, other_id = Actor(user=admin), other.id
    # An admin may manage members, but an access proving only "list members" cannot.
    refused = pytest.raises(AccessMismatch, match=r"member\.list.*member\.manage")
    with refused, units.work(platform.db, actor, slug, Action.MEMBER_LIST) as (session, access):
        assert access.action is Action.MEMBER_LIST and access.allows(Action.MEMBER_MANAGE)
        members.set_role(session, access, other_id, Role.EDITOR)
    with units.work(platform.db, actor, slug, Action.MEMBER_MANAGE) as (session, access):
        assert members.set_role(session, access, other_id, Role.EDITOR).role == Role.EDITOR
