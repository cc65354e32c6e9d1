"""Walk every API endpoint as every kind of caller and check each answer against the policy.

Callers: anonymous, outsider (admin of another workspace), viewer, editor, admin, superuser
(member of nothing), a token restricted to the workspace, and a token restricted to another
workspace held by someone who is admin of both. A new endpoint fails this test until it is
described in ENDPOINTS, so nothing escapes the walk.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from joliba.api.router import create_api
from joliba.db.tables import Workspace
from joliba.domain.permissions import POLICY, Action, Role
from joliba.services import invitations, superset_demo, users, workspaces
from joliba.services.actors import Actor
from tests.conftest import PASSWORD, Person, World, unique
from tests.dhis2.emulator_support import live_emulator
from tests.fixtures.superset_worlds import link_of, write_health_map
from tests.pipeline_helpers import SIMPLE, held_run, push, zip_files

ANONYMOUS, USER, SUPERUSER, UNRESTRICTED = "anonymous", "user", "superuser", "unrestricted"


@dataclass
class Ctx:
    world: World
    ws: str
    admin: Person
    cache: dict[str, Any] = field(default_factory=dict)


Request = dict[str, Any]
Prepare = Callable[[Ctx, "Caller"], Request]


@dataclass
class Endpoint:
    method: str
    path: str
    #: An Action for workspace endpoints, else ANONYMOUS, USER (any signed-in caller),
    #: UNRESTRICTED (signed in, not with a workspace-restricted token) or SUPERUSER.
    rule: Action | str
    prepare: Prepare = lambda ctx, caller: {}
    #: Walked in a world whose workspaces have PostgreSQL databases (``db_world``).
    databases: bool = False
    #: Walked beside a real Superset (``ss_world``).
    superset: bool = False


@dataclass
class Caller:
    name: str
    client: httpx.Client
    person: Person | None
    role: Role | None = None
    superuser: bool = False
    #: "same": token restricted to the walked workspace; "other": to another workspace;
    #: "dataset": a dataset token for the walked dataset.
    restricted: str | None = None


def _file(ctx: Ctx, caller: Caller) -> Request:
    name = unique("f") + ".txt"
    r = ctx.admin.api.put(f"/workspaces/{ctx.ws}/files/{name}", content=b"hello")
    assert r.status_code == 201, r.text
    return {"params": {"path": name}}


def _connection(ctx: Ctx, caller: Caller) -> Request:
    slug = unique("c")
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/connections",
        json={"type": "custom", "name": slug, "slug": slug, "fields": {"k": "v"}},
    )
    assert r.status_code == 201, r.text
    return {"params": {"slug": slug}}


def _dhis2_connection(ctx: Ctx, caller: Caller) -> Request:
    """A DHIS2 connection to the walk's live emulator, made once per walk."""
    if "dhis2" not in ctx.cache:
        slug = unique("d")
        fields = {"url": ctx.cache["dhis2_url"], "username": "admin", "password": "district"}
        r = ctx.admin.api.post(
            f"/workspaces/{ctx.ws}/connections",
            json={"type": "dhis2", "name": slug, "slug": slug, "fields": fields},
        )
        assert r.status_code == 201, r.text
        ctx.cache["dhis2"] = slug
    return {"params": {"slug": ctx.cache["dhis2"], "collection": "org_unit_levels"}}


def _member(ctx: Ctx, caller: Caller) -> Request:
    person = ctx.world.person()
    ctx.world.add_member(ctx.ws, person, Role.VIEWER)
    return {"params": {"user_id": str(person.user_id)}}


def _invitation(ctx: Ctx, caller: Caller) -> Request:
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/invitations", json={"email": f"{unique()}@example.org"}
    )
    assert r.status_code == 201, r.text
    return {"params": {"invitation_id": r.json()["id"]}}


def _own_token(ctx: Ctx, caller: Caller) -> Request:
    if caller.person is None:
        return {"params": {"token_id": str(uuid.uuid4())}}
    token_id = ctx.world.token_id_for(caller.person)
    return {"params": {"token_id": token_id}}


def _invitation_for_caller(ctx: Ctx, caller: Caller) -> Request:
    """An invitation to a fresh workspace, addressed to the caller."""
    email = caller.person.email if caller.person else f"{unique()}@example.org"
    platform = ctx.world.platform
    inviter = ctx.world.person()
    with platform.db.transaction() as session:
        admin = users.get_by_email(session, inviter.email)
        assert admin is not None
        ws = workspaces.create(session, None, name=unique("inv"), admin=admin)
        access = workspaces.authorize(session, Actor(user=admin), ws.slug, Action.MEMBER_MANAGE)
        created = invitations.create(
            session, access, email=email, role=Role.VIEWER, lifetime=timedelta(days=1)
        )
    return {"json": {"token": created.secret}}


def _dashboard(ctx: Ctx, caller: Caller) -> Request:
    """The demo dashboard on the walked workspace's table, built once per walk."""
    if "dashboard" not in ctx.cache:
        platform = ctx.world.platform
        write_health_map(platform, ctx.ws)
        ctx.cache["dashboard"] = superset_demo.build(link_of(platform), ctx.ws)
    return {"params": {"dashboard_id": ctx.cache["dashboard"]}}


def _pipeline(ctx: Ctx, caller: Caller) -> Request:
    """A pipeline pushed once per walk, shared by the read endpoints."""
    if "pipeline" not in ctx.cache:
        code = unique("p")
        push(ctx.admin.api, ctx.ws, code)
        ctx.cache["pipeline"] = code
    return {"params": {"code": ctx.cache["pipeline"]}}


def _fresh_pipeline(ctx: Ctx, caller: Caller) -> Request:
    code = unique("p")
    push(ctx.admin.api, ctx.ws, code)
    return {"params": {"code": code}}


def _held_run(ctx: Ctx, caller: Caller) -> Request:
    """A queued run that the runner leaves alone (due tomorrow), so it can be cancelled."""
    code = _pipeline(ctx, caller)["params"]["code"]
    return {"params": {"run_id": held_run(ctx.world.platform, ctx.ws, ctx.admin.email, code)}}


def _schedule(ctx: Ctx, caller: Caller) -> Request:
    code = _pipeline(ctx, caller)["params"]["code"]
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/pipelines/{code}/schedules", json={"cron": "0 6 * * *"}
    )
    assert r.status_code == 201, r.text
    return {"params": {"code": code, "schedule_id": r.json()["id"]}}


def _webhook(ctx: Ctx, caller: Caller) -> Request:
    code = _fresh_pipeline(ctx, caller)["params"]["code"]
    r = ctx.admin.api.post(f"/workspaces/{ctx.ws}/pipelines/{code}/webhook")
    assert r.status_code == 201, r.text
    return {"params": {"secret": r.json()["url"].rsplit("/", 1)[-1]}, "json": {"count": 3}}


def _trigger(ctx: Ctx, caller: Caller) -> Request:
    code = _pipeline(ctx, caller)["params"]["code"]
    source = _fresh_pipeline(ctx, caller)["params"]["code"]
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/pipelines/{code}/triggers", json={"source": source}
    )
    assert r.status_code == 201, r.text
    return {"params": {"code": code, "source": source}}


def _recipient(ctx: Ctx, caller: Caller) -> Request:
    code = _pipeline(ctx, caller)["params"]["code"]
    person = ctx.world.person()
    ctx.world.add_member(ctx.ws, person, Role.VIEWER)
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/pipelines/{code}/recipients", json={"email": person.email}
    )
    assert r.status_code == 201, r.text
    return {"params": {"code": code, "email": person.email}}


def _dataset(ctx: Ctx, caller: Caller) -> Request:
    """A dataset with a published v1 holding a.csv, and a draft v2 holding b.csv."""
    if "dataset" not in ctx.cache:
        slug, api = unique("d"), ctx.admin.api
        assert api.post(f"/workspaces/{ctx.ws}/datasets", json={"name": slug}).status_code == 201
        base = f"/workspaces/{ctx.ws}/datasets/{slug}/versions"
        for number, name in ((1, "a.csv"), (2, "b.csv")):
            assert api.post(base, json={}).status_code == 201
            assert api.put(f"{base}/{number}/files/{name}", content=b"x\n1\n").status_code == 201
        shapes = b"name,geometry,n\nA,POINT(1 1),3\nB,POINT(2 2),5\n"
        assert api.put(f"{base}/1/files/shapes.csv", content=shapes).status_code == 201
        assert api.post(f"{base}/1/publish").status_code == 200
        ctx.cache["dataset"] = slug
    return {"params": {"slug": ctx.cache["dataset"]}}


def _db_table(ctx: Ctx, caller: Caller) -> Request:
    """A table of the workspace database, made once per walk by its admin (the owner)."""
    if "db_table" not in ctx.cache:
        sql = "CREATE TABLE walked AS SELECT 1 AS x"
        r = ctx.admin.api.post(f"/workspaces/{ctx.ws}/database/query", json={"sql": sql})
        assert r.status_code == 200, r.text
        ctx.cache["db_table"] = "walked"
    return {"params": {"table": ctx.cache["db_table"]}}


def _load(ctx: Ctx, caller: Caller) -> Request:
    """Load a.csv of the walked dataset's v1 into a table of its own."""
    slug = _dataset(ctx, caller)["params"]["slug"]
    body = {"dataset": slug, "version": "1", "file": "a.csv", "table": unique("t")}
    return {"json": body}


def _follow(ctx: Ctx, caller: Caller) -> Request:
    """A table kept in step with the walked dataset (for stopping)."""
    body = {**_load(ctx, caller)["json"], "follow": True}
    r = ctx.admin.api.post(f"/workspaces/{ctx.ws}/database/loads", json=body)
    assert r.status_code == 201, r.text
    return {"params": {"table": body["table"]}}


def _saved(ctx: Ctx, caller: Caller) -> Request:
    body = {"name": unique("q"), "sql": "SELECT 1"}
    r = ctx.admin.api.post(f"/workspaces/{ctx.ws}/database/queries", json=body)
    assert r.status_code == 201, r.text
    return {"params": {"query_id": r.json()["id"]}}


def _shapes(ctx: Ctx, caller: Caller) -> Request:
    """shapes.csv of the walked dataset's v1: WKT points with a value, a table with a map."""
    slug = _dataset(ctx, caller)["params"]["slug"]
    return {"params": {"slug": slug, "version": "1", "name": "shapes.csv"}}


def _draft(ctx: Ctx, caller: Caller) -> Request:
    """A fresh draft with one file (publishing or deleting it changes nothing shared)."""
    slug = _dataset(ctx, caller)["params"]["slug"]
    base = f"/workspaces/{ctx.ws}/datasets/{slug}/versions"
    number = ctx.admin.api.post(base, json={}).json()["number"]
    assert ctx.admin.api.put(f"{base}/{number}/files/c.csv", content=b"c\n").status_code == 201
    return {"params": {"slug": slug, "version": number, "name": "c.csv"}}


def _share(ctx: Ctx, caller: Caller) -> Request:
    """The walked dataset shared with a fresh workspace (for revoking)."""
    slug = _dataset(ctx, caller)["params"]["slug"]
    target = ctx.world.workspace(ctx.world.person())
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/datasets/{slug}/shares", json={"workspace": target}
    )
    assert r.status_code == 201, r.text
    return {"params": {"slug": slug, "workspace": target}}


def _share_target(ctx: Ctx, caller: Caller) -> Request:
    slug = _dataset(ctx, caller)["params"]["slug"]
    return {
        "params": {"slug": slug},
        "json": {"workspace": ctx.world.workspace(ctx.world.person())},
    }


def _dataset_token(ctx: Ctx, caller: Caller) -> Request:
    slug = _dataset(ctx, caller)["params"]["slug"]
    r = ctx.admin.api.post(f"/workspaces/{ctx.ws}/datasets/{slug}/tokens", json={"name": "bi"})
    assert r.status_code == 201, r.text
    return {"params": {"slug": slug, "token_id": r.json()["id"]}}


def _dataset_trigger(ctx: Ctx, caller: Caller) -> Request:
    code = _pipeline(ctx, caller)["params"]["code"]
    slug = _dataset(ctx, caller)["params"]["slug"]
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/pipelines/{code}/dataset-triggers", json={"dataset": slug}
    )
    assert r.status_code == 201, r.text
    return {"params": {"code": code, "dataset": slug}}


def _table(ctx: Ctx, caller: Caller) -> Request:
    return {"params": {**_dataset(ctx, caller)["params"], "version": 1, "name": "a.csv"}}


ENDPOINTS: list[Endpoint] = [
    Endpoint("GET", "/health", ANONYMOUS),
    Endpoint("GET", "/me", USER),
    Endpoint(
        "POST",
        "/me/password",
        USER,
        lambda ctx, c: {"json": {"current_password": PASSWORD, "new_password": PASSWORD}},
    ),
    Endpoint("GET", "/me/tokens", USER),
    Endpoint("POST", "/me/tokens", UNRESTRICTED, lambda ctx, c: {"json": {"name": "walk"}}),
    Endpoint("DELETE", "/me/tokens/{token_id}", UNRESTRICTED, _own_token),
    Endpoint("GET", "/users", SUPERUSER),
    Endpoint(
        "POST",
        "/users",
        SUPERUSER,
        lambda ctx, c: {"json": {"email": f"{unique()}@example.org", "password": PASSWORD}},
    ),
    Endpoint("GET", "/workspaces", USER),
    Endpoint("POST", "/workspaces", SUPERUSER, lambda ctx, c: {"json": {"name": unique("w")}}),
    Endpoint("GET", "/connection-types", USER),
    Endpoint("POST", "/invitations/accept", UNRESTRICTED, _invitation_for_caller),
    Endpoint("GET", "/workspaces/{ws}", Action.WORKSPACE_VIEW),
    Endpoint(
        "GET",
        "/workspaces/{ws}/database",
        Action.DATABASE_REVEAL,  # with reveal=true; without it, DATABASE_READ (every member)
        lambda ctx, caller: {"query": {"reveal": "true"}},
        databases=True,
    ),
    Endpoint("POST", "/workspaces/{ws}/database/rotate", Action.DATABASE_ROTATE, databases=True),
    Endpoint("GET", "/workspaces/{ws}/dashboards", Action.DATABASE_READ, superset=True),
    Endpoint(
        "POST",
        "/workspaces/{ws}/dashboards/{dashboard_id}/guest-token",
        Action.DATABASE_READ,
        _dashboard,
        superset=True,
    ),
    Endpoint("GET", "/workspaces/{ws}/database/tables", Action.DATABASE_READ),
    Endpoint(
        "GET", "/workspaces/{ws}/database/tables/{table}/rows", Action.DATABASE_READ, _db_table
    ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/database/query",
        Action.DATABASE_READ,
        lambda ctx, caller: {"json": {"sql": "SELECT 1 AS one"}},
    ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/database/export",
        Action.DATABASE_READ,
        lambda ctx, caller: {"json": {"sql": "SELECT 1 AS one", "format": "csv"}},
    ),
    Endpoint("GET", "/workspaces/{ws}/database/queries", Action.DATABASE_READ),
    Endpoint("POST", "/workspaces/{ws}/database/loads", Action.DATABASE_WRITE, _load),
    Endpoint("GET", "/workspaces/{ws}/database/follows", Action.DATABASE_READ),
    Endpoint("DELETE", "/workspaces/{ws}/database/follows/{table}", Action.DATABASE_WRITE, _follow),
    Endpoint(
        "POST",
        "/workspaces/{ws}/database/queries",
        Action.DATABASE_WRITE,
        lambda ctx, caller: {"json": {"name": unique("q"), "sql": "SELECT 1"}},
    ),
    Endpoint(
        "DELETE", "/workspaces/{ws}/database/queries/{query_id}", Action.DATABASE_WRITE, _saved
    ),
    Endpoint(
        "PATCH",
        "/workspaces/{ws}",
        Action.WORKSPACE_UPDATE,
        lambda ctx, c: {"json": {"description": unique("d")}},
    ),
    Endpoint("GET", "/workspaces/{ws}/members", Action.MEMBER_LIST),
    Endpoint(
        "PATCH",
        "/workspaces/{ws}/members/{user_id}",
        Action.MEMBER_MANAGE,
        lambda ctx, c: {**_member(ctx, c), "json": {"role": "editor"}},
    ),
    Endpoint("DELETE", "/workspaces/{ws}/members/{user_id}", Action.MEMBER_MANAGE, _member),
    Endpoint("GET", "/workspaces/{ws}/invitations", Action.MEMBER_MANAGE),
    Endpoint(
        "POST",
        "/workspaces/{ws}/invitations",
        Action.MEMBER_MANAGE,
        lambda ctx, c: {"json": {"email": f"{unique()}@example.org", "role": "viewer"}},
    ),
    Endpoint(
        "DELETE",
        "/workspaces/{ws}/invitations/{invitation_id}",
        Action.MEMBER_MANAGE,
        _invitation,
    ),
    Endpoint("GET", "/workspaces/{ws}/files", Action.FILE_READ),
    Endpoint("GET", "/workspaces/{ws}/files/{path}", Action.FILE_READ, _file),
    Endpoint(
        "PUT",
        "/workspaces/{ws}/files/{path}",
        Action.FILE_WRITE,
        lambda ctx, c: {"params": {"path": unique("up") + ".csv"}, "content": b"a,b\n1,2\n"},
    ),
    Endpoint("DELETE", "/workspaces/{ws}/files/{path}", Action.FILE_DELETE, _file),
    Endpoint(
        "POST",
        "/workspaces/{ws}/folders",
        Action.FILE_WRITE,
        lambda ctx, c: {"json": {"path": unique("dir")}},
    ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/file-moves",
        Action.FILE_WRITE,
        lambda ctx, c: {
            "json": {"source": _file(ctx, c)["params"]["path"], "destination": unique("m")}
        },
    ),
    Endpoint("GET", "/workspaces/{ws}/connections", Action.CONNECTION_READ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/connections",
        Action.CONNECTION_WRITE,
        lambda ctx, c: {
            "json": {"type": "custom", "name": unique("c"), "fields": {"a": "1"}},
        },
    ),
    Endpoint("GET", "/workspaces/{ws}/connections/{slug}", Action.CONNECTION_READ, _connection),
    Endpoint(
        "PATCH",
        "/workspaces/{ws}/connections/{slug}",
        Action.CONNECTION_WRITE,
        lambda ctx, c: {**_connection(ctx, c), "json": {"description": "x"}},
    ),
    Endpoint(
        "DELETE", "/workspaces/{ws}/connections/{slug}", Action.CONNECTION_DELETE, _connection
    ),
    Endpoint(
        "POST", "/workspaces/{ws}/connections/{slug}/test", Action.CONNECTION_TEST, _connection
    ),
    Endpoint(
        "GET",
        "/workspaces/{ws}/connections/{slug}/dhis2/{collection}",
        Action.PIPELINE_RUN,
        _dhis2_connection,
    ),
    Endpoint("GET", "/workspaces/{ws}/audit", Action.AUDIT_READ),
    Endpoint("GET", "/workspaces/{ws}/usage", Action.WORKSPACE_VIEW),
    Endpoint(
        "PUT",
        "/workspaces/{ws}/quota",
        Action.WORKSPACE_QUOTA,
        lambda c, _: {"json": {"quota_mb": 0}},
    ),
    Endpoint("GET", "/workspaces/{ws}/pipelines", Action.PIPELINE_READ),
    Endpoint("GET", "/workspaces/{ws}/pipelines/{code}", Action.PIPELINE_READ, _pipeline),
    Endpoint(
        "DELETE", "/workspaces/{ws}/pipelines/{code}", Action.PIPELINE_DELETE, _fresh_pipeline
    ),
    Endpoint(
        "PUT",
        "/workspaces/{ws}/pipelines/{code}/limits",
        Action.PIPELINE_LIMITS,
        lambda ctx, c: {**_pipeline(ctx, c), "json": {"memory_mb": 1024}},
    ),
    Endpoint("GET", "/workspaces/{ws}/pipelines/{code}/versions", Action.PIPELINE_READ, _pipeline),
    Endpoint(
        "GET",
        "/workspaces/{ws}/pipelines/{code}/versions/{number}",
        Action.PIPELINE_READ,
        lambda ctx, c: {
            **_pipeline(ctx, c),
            "params": {**_pipeline(ctx, c)["params"], "number": 1},
        },
    ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/pipelines/{code}/versions",
        Action.PIPELINE_WRITE,
        lambda ctx, c: {
            "params": {"code": unique("p")},
            "content": zip_files({"pipeline.py": SIMPLE}),
        },
    ),
    Endpoint("GET", "/workspaces/{ws}/pipelines/{code}/runs", Action.PIPELINE_READ, _pipeline),
    Endpoint(
        "POST",
        "/workspaces/{ws}/pipelines/{code}/runs",
        Action.PIPELINE_RUN,
        lambda ctx, c: {**_pipeline(ctx, c), "json": {"parameters": {"count": 2}}},
    ),
    Endpoint("GET", "/workspaces/{ws}/runs", Action.PIPELINE_READ),
    Endpoint("GET", "/workspaces/{ws}/runs/{run_id}", Action.PIPELINE_READ, _held_run),
    Endpoint("GET", "/workspaces/{ws}/runs/{run_id}/logs", Action.PIPELINE_READ, _held_run),
    Endpoint("GET", "/workspaces/{ws}/runs/{run_id}/logs.txt", Action.PIPELINE_READ, _held_run),
    Endpoint("POST", "/workspaces/{ws}/runs/{run_id}/cancel", Action.PIPELINE_RUN, _held_run),
    Endpoint("GET", "/workspaces/{ws}/pipelines/{code}/schedules", Action.PIPELINE_READ, _pipeline),
    Endpoint(
        "POST",
        "/workspaces/{ws}/pipelines/{code}/schedules",
        Action.PIPELINE_WRITE,
        lambda ctx, c: {**_pipeline(ctx, c), "json": {"cron": "*/5 * * * *", "enabled": False}},
    ),
    Endpoint(
        "PATCH",
        "/workspaces/{ws}/pipelines/{code}/schedules/{schedule_id}",
        Action.PIPELINE_WRITE,
        lambda ctx, c: {**_schedule(ctx, c), "json": {"enabled": False}},
    ),
    Endpoint(
        "DELETE",
        "/workspaces/{ws}/pipelines/{code}/schedules/{schedule_id}",
        Action.PIPELINE_WRITE,
        _schedule,
    ),
    Endpoint(
        "POST", "/workspaces/{ws}/pipelines/{code}/webhook", Action.PIPELINE_WRITE, _fresh_pipeline
    ),
    Endpoint(
        "DELETE", "/workspaces/{ws}/pipelines/{code}/webhook", Action.PIPELINE_WRITE, _pipeline
    ),
    Endpoint("POST", "/hooks/{secret}", ANONYMOUS, _webhook),
    Endpoint("GET", "/workspaces/{ws}/pipelines/{code}/triggers", Action.PIPELINE_READ, _pipeline),
    Endpoint(
        "POST",
        "/workspaces/{ws}/pipelines/{code}/triggers",
        Action.PIPELINE_WRITE,
        lambda ctx, c: {
            **_pipeline(ctx, c),
            "json": {"source": _fresh_pipeline(ctx, c)["params"]["code"]},
        },
    ),
    Endpoint(
        "DELETE",
        "/workspaces/{ws}/pipelines/{code}/triggers/{source}",
        Action.PIPELINE_WRITE,
        _trigger,
    ),
    Endpoint(
        "GET", "/workspaces/{ws}/pipelines/{code}/recipients", Action.PIPELINE_READ, _pipeline
    ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/pipelines/{code}/recipients",
        Action.PIPELINE_WRITE,
        lambda ctx, c: {**_pipeline(ctx, c), "json": {"email": ctx.admin.email}},
    ),
    Endpoint(
        "DELETE",
        "/workspaces/{ws}/pipelines/{code}/recipients/{email}",
        Action.PIPELINE_WRITE,
        _recipient,
    ),
    Endpoint("GET", "/workspaces/{ws}/datasets", Action.DATASET_READ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/datasets",
        Action.DATASET_WRITE,
        lambda ctx, c: {"json": {"name": unique("d")}},
    ),
    Endpoint("GET", "/workspaces/{ws}/datasets/{slug}", Action.DATASET_READ, _dataset),
    Endpoint("GET", "/workspaces/{ws}/datasets/{slug}/versions", Action.DATASET_READ, _dataset),
    Endpoint(
        "POST",
        "/workspaces/{ws}/datasets/{slug}/versions",
        Action.DATASET_WRITE,
        lambda ctx, c: {**_dataset(ctx, c), "json": {}},
    ),
    Endpoint(
        "GET",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}",
        Action.DATASET_READ,
        lambda ctx, c: {"params": {**_dataset(ctx, c)["params"], "version": "latest"}},
    ),
    Endpoint(
        "DELETE",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}",
        Action.DATASET_WRITE,
        _draft,
    ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/publish",
        Action.DATASET_WRITE,
        _draft,
    ),
    Endpoint(
        "GET",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}",
        Action.DATASET_READ,
        lambda ctx, c: {"params": {**_dataset(ctx, c)["params"], "version": 1, "name": "a.csv"}},
    ),
    Endpoint(
        "PUT",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}",
        Action.DATASET_WRITE,
        lambda ctx, c: {
            "params": {**_dataset(ctx, c)["params"], "version": 2, "name": unique("f") + ".csv"},
            "content": b"y\n2\n",
        },
    ),
    Endpoint(
        "DELETE",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}",
        Action.DATASET_WRITE,
        _draft,
    ),
    Endpoint(
        "GET",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}/upload",
        Action.DATASET_WRITE,
        lambda ctx, c: {
            "params": {**_dataset(ctx, c)["params"], "version": 2, "name": "z.csv"},
            "query": {"sha256": "0" * 64},
        },
    ),
    Endpoint(
        "GET",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}/profile",
        Action.DATASET_READ,
        _table,
    ),
    Endpoint(
        "GET",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}/preview",
        Action.DATASET_READ,
        _table,
    ),
    Endpoint(
        "GET",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}/map",
        Action.DATASET_READ,
        _shapes,
    ),
    Endpoint(
        "GET",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}/export",
        Action.DATASET_READ,
        _table,
    ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/datasets/{slug}/versions/{version}/query",
        Action.DATASET_READ,
        lambda ctx, c: {**_table(ctx, c), "json": {"sql": "SELECT count(*) FROM a"}},
    ),
    Endpoint(
        "GET",
        "/workspaces/{ws}/datasets/{slug}/diff",
        Action.DATASET_READ,
        lambda ctx, c: {**_dataset(ctx, c), "query": {"old": "1", "new": "latest"}},
    ),
    Endpoint("GET", "/workspaces/{ws}/datasets/{slug}/shares", Action.DATASET_SHARE, _dataset),
    Endpoint(
        "POST", "/workspaces/{ws}/datasets/{slug}/shares", Action.DATASET_SHARE, _share_target
    ),
    Endpoint(
        "DELETE",
        "/workspaces/{ws}/datasets/{slug}/shares/{workspace}",
        Action.DATASET_SHARE,
        _share,
    ),
    Endpoint("GET", "/workspaces/{ws}/datasets/{slug}/tokens", Action.DATASET_SHARE, _dataset),
    Endpoint(
        "POST",
        "/workspaces/{ws}/datasets/{slug}/tokens",
        Action.DATASET_SHARE,
        lambda ctx, c: {**_dataset(ctx, c), "json": {"name": "walk"}},
    ),
    Endpoint(
        "DELETE",
        "/workspaces/{ws}/datasets/{slug}/tokens/{token_id}",
        Action.DATASET_SHARE,
        _dataset_token,
    ),
    Endpoint("GET", "/workspaces/{ws}/datasets/{slug}/access", Action.DATASET_ACCESS_LOG, _dataset),
    Endpoint(
        "GET",
        "/workspaces/{ws}/pipelines/{code}/dataset-triggers",
        Action.PIPELINE_READ,
        _pipeline,
    ),
    Endpoint(
        "POST",
        "/workspaces/{ws}/pipelines/{code}/dataset-triggers",
        Action.PIPELINE_WRITE,
        lambda ctx, c: {
            **_pipeline(ctx, c),
            "json": {"dataset": _dataset(ctx, c)["params"]["slug"]},
        },
    ),
    Endpoint(
        "DELETE",
        "/workspaces/{ws}/pipelines/{code}/dataset-triggers/{dataset}",
        Action.PIPELINE_WRITE,
        _dataset_trigger,
    ),
]


@functools.cache
def _paths() -> dict[str, Any]:
    """The API's OpenAPI paths, built once per test process (read, never changed)."""
    paths: dict[str, Any] = create_api("test").openapi()["paths"]
    return paths


def test_every_endpoint_is_walked() -> None:
    paths = _paths()
    routes = {(method.upper(), path) for path, ops in paths.items() for method in ops}
    walked = {(e.method, e.path) for e in ENDPOINTS}
    assert routes == walked, f"not walked: {routes - walked}; gone: {walked - routes}"


def _allowed(endpoint: Endpoint, caller: Caller) -> bool:
    rule = endpoint.rule
    if rule == ANONYMOUS:
        return True
    if caller.person is None:
        return False
    if rule == USER:
        return True
    if rule == UNRESTRICTED:
        return caller.restricted is None
    if rule == SUPERUSER:
        return caller.superuser and caller.restricted is None
    assert isinstance(rule, Action)
    if caller.restricted == "other":
        return False
    if caller.restricted == "dataset":  # reads the walked dataset, nothing else
        return rule is Action.DATASET_READ
    return caller.superuser or (caller.role is not None and caller.role in POLICY[rule])


def _expected_refusal(endpoint: Endpoint, caller: Caller) -> int:
    if caller.person is None:
        return 401
    if isinstance(endpoint.rule, Action):
        member = caller.superuser or caller.role is not None
        return 404 if caller.restricted == "other" or not member else 403
    return 403


def _callers(ctx: Ctx) -> list[Caller]:
    world = ctx.world
    outsider = world.person()
    world.workspace(outsider)  # admin of some other workspace
    viewer, editor = world.person(), world.person()
    world.add_member(ctx.ws, viewer, Role.VIEWER)
    world.add_member(ctx.ws, editor, Role.EDITOR)
    superuser = world.person(superuser=True)
    dual = world.person()
    world.add_member(ctx.ws, dual, Role.ADMIN)
    other_ws = world.workspace(dual)
    slug = _dataset(ctx, None)["params"]["slug"]  # type: ignore[arg-type]
    reader = ctx.admin.api.post(f"/workspaces/{ctx.ws}/datasets/{slug}/tokens", json={"name": "r"})
    return [
        Caller("anonymous", world.client(), None),
        Caller("outsider", outsider.api, outsider),
        Caller("viewer", viewer.api, viewer, Role.VIEWER),
        Caller("editor", editor.api, editor, Role.EDITOR),
        Caller("admin", ctx.admin.api, ctx.admin, Role.ADMIN),
        Caller("superuser", superuser.api, superuser, superuser=True),
        Caller(
            "admin-token-for-this-workspace",
            world.client(world.token_for(dual, ctx.ws)),
            dual,
            Role.ADMIN,
            restricted="same",
        ),
        Caller(
            "admin-token-for-other-workspace",
            world.client(world.token_for(dual, other_ws)),
            dual,
            Role.ADMIN,
            restricted="other",
        ),
        Caller(
            "dataset-token",
            world.client(reader.json()["token"]),
            ctx.admin,
            Role.ADMIN,
            restricted="dataset",
        ),
    ]


#: One test per kind of caller, each in a workspace of its own, so the walk spreads over the
#: test workers.
CALLERS = [
    "anonymous",
    "outsider",
    "viewer",
    "editor",
    "admin",
    "superuser",
    "admin-token-for-this-workspace",
    "admin-token-for-other-workspace",
    "dataset-token",
]


@pytest.mark.parametrize("caller", CALLERS)
def test_permission_walk(world: World, caller: str) -> None:
    admin = world.person()
    ctx = Ctx(world=world, ws=world.workspace(admin), admin=admin)
    failures: list[str] = []
    with live_emulator(scale=0.1) as dhis2:  # the DHIS2 pickers' endpoint searches it
        ctx.cache["dhis2_url"] = str(dhis2.base_url)
        _walk(ctx, failures, caller, [e for e in ENDPOINTS if not (e.databases or e.superset)])
    assert not failures, "\n" + "\n".join(failures)


@pytest.mark.parametrize("caller", CALLERS)
def test_permission_walk_of_workspace_databases(db_world: World, caller: str) -> None:
    """The workspace-database endpoints, where workspaces have PostgreSQL databases."""
    admin = db_world.person()
    ctx = Ctx(world=db_world, ws=db_world.workspace(admin), admin=admin)
    failures: list[str] = []
    _walk(ctx, failures, caller, [e for e in ENDPOINTS if e.databases])
    assert not failures, "\n" + "\n".join(failures)


def test_permission_walk_of_dashboards(ss_world: World) -> None:
    """The dashboard endpoints, beside a real Superset: every kind of caller in one
    workspace, whose dashboard is built once."""
    admin = ss_world.person()
    ctx = Ctx(world=ss_world, ws=ss_world.workspace(admin), admin=admin)
    failures: list[str] = []
    for caller in CALLERS:
        _walk(ctx, failures, caller, [e for e in ENDPOINTS if e.superset])
    assert not failures, "\n" + "\n".join(failures)


def test_every_kind_of_caller_is_walked(world: World) -> None:
    admin = world.person()
    ctx = Ctx(world=world, ws=world.workspace(admin), admin=admin)
    assert [c.name for c in _callers(ctx)] == CALLERS


def _declared() -> dict[tuple[str, str], set[str]]:
    """The statuses the OpenAPI document declares for each operation."""
    paths = _paths()
    return {
        (method.upper(), path): set(operation["responses"])
        for path, operations in paths.items()
        for method, operation in operations.items()
    }


def _walk(ctx: Ctx, failures: list[str], name: str, endpoints: list[Endpoint]) -> None:
    declared = _declared()
    for caller in _callers(ctx):
        if caller.name != name:
            continue
        for endpoint in endpoints:
            spec = endpoint.prepare(ctx, caller)
            url = endpoint.path.format(ws=ctx.ws, **spec.get("params", {}))
            response = caller.client.request(
                endpoint.method,
                url,
                json=spec.get("json"),
                content=spec.get("content"),
                params=spec.get("query"),
            )
            if _allowed(endpoint, caller):
                ok = 200 <= response.status_code < 300
                want = "2xx"
            else:
                expected = _expected_refusal(endpoint, caller)
                ok = response.status_code == expected
                want = str(expected)
                if ok:
                    assert response.json()["error"]["code"], response.text
            if not ok:
                failures.append(
                    f"{caller.name:32} {endpoint.method:6} {url}: got {response.status_code}, "
                    f"want {want}: {response.text[:160]}"
                )
            statuses = declared[(endpoint.method, endpoint.path)]
            if str(response.status_code) not in statuses:
                failures.append(
                    f"{caller.name:32} {endpoint.method:6} {url}: {response.status_code} is not "
                    f"declared in the OpenAPI document ({', '.join(sorted(statuses))})"
                )


def test_what_an_archived_workspace_refuses_is_declared() -> None:
    """An archived workspace answers 409 to every action but reading (and unarchiving), some
    of them asked with GET (a dataset's tokens): each such operation declares 409."""
    declared = _declared()
    missing = [
        f"{endpoint.method} {endpoint.path} ({endpoint.rule.value})"
        for endpoint in ENDPOINTS
        if isinstance(endpoint.rule, Action)
        and workspaces.refused_when_archived(endpoint.rule)
        and "409" not in declared[(endpoint.method, endpoint.path)]
    ]
    assert not missing, missing


def test_refused_changes_leave_nothing_behind(world: World) -> None:
    """A viewer's and an outsider's attempts to change things are refused without effect."""
    admin, viewer, outsider = world.person(), world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, viewer, Role.VIEWER)
    for person, status in ((viewer, 403), (outsider, 404)):
        assert person.api.put(f"/workspaces/{ws}/files/x.txt", content=b"x").status_code == status
        r = person.api.post(f"/workspaces/{ws}/connections", json={"type": "custom", "name": "n"})
        assert r.status_code == status
        r = person.api.patch(f"/workspaces/{ws}", json={"name": "Hijacked"})
        assert r.status_code == status
    assert admin.api.get(f"/workspaces/{ws}/files").json()["total"] == 0
    assert admin.api.get(f"/workspaces/{ws}/connections").json()["total"] == 0
    assert admin.api.get(f"/workspaces/{ws}").json()["name"] == f"Workspace {ws}"
    with world.platform.db.session() as session:
        assert session.scalar(select(Workspace.name).where(Workspace.slug == ws)) != "Hijacked"


def test_restricted_token_lists_only_its_workspace(world: World) -> None:
    person = world.person()
    first, second = world.workspace(person), world.workspace(person)
    scoped = world.client(world.token_for(person, first))
    slugs = [w["slug"] for w in scoped.get("/workspaces").json()["items"]]
    assert slugs == [first]
    assert scoped.get(f"/workspaces/{second}").status_code == 404
    assert scoped.get(f"/workspaces/{second}/files").status_code == 404
    assert scoped.get("/me").json()["token_workspace"] == first
    unscoped = {w["slug"] for w in person.api.get("/workspaces").json()["items"]}
    assert {first, second} <= unscoped
