"""Walk every page route (GET and POST) as every kind of browser caller and check each
answer against the policy, as tests/api/test_permission_walk.py does for the API.

Callers are browser sessions: anonymous, outsider (admin of another workspace), viewer,
editor, admin, superuser (member of nothing), and an anonymous browser that sends a
superuser's API token as ``Authorization: Bearer`` (tokens do not sign in to pages). Every
POST carries the CSRF token of the caller's session (anonymous browsers: the token of their
``joliba_csrf`` cookie), so what is checked is the permission, not the form's origin.

What the pages answer, and what the walk accepts:

* anonymous (and the bearer-only browser), on a page that needs a user: 303 to exactly
  ``/login?next=<the page asked for>``;
* an outsider, on a workspace page: 404; a member whose role falls short of the page's
  action, or a signed-in caller on a superuser page: 403 (HTML error pages, both);
* an allowed caller: exactly the route's own success answer, stated in PAGES (200 for a
  GET; for a POST the 303 to where the route lands, or 200 for the pages that render their
  answer: a new secret, a test result, a query result). The walk sends valid forms and real
  path values, so a 400/409/422 "validation" answer is a failure for an allowed caller like
  a 403, 404 or 500 is: it must not hide a refusal. A success 303 must land where the route
  says, and never on the sign-in page.

In an archived workspace every action but reading (and unarchiving) answers 409, for GET
pages too (the new-connection form, the DHIS2 pickers). A new page route fails
``test_every_page_route_is_walked`` until it is described in PAGES.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Mount

from joliba.app import create_app
from joliba.domain.errors import Conflict
from joliba.domain.permissions import POLICY, Action, Role
from joliba.http.callers import SESSION_COOKIE
from joliba.services import invitations, sessions, users, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.web.auth import sign_in_url
from tests.api.test_permission_walk import (
    Caller,
    Ctx,
    _connection,
    _dataset,
    _dataset_token,
    _db_table,
    _file,
    _held_run,
    _invitation,
    _own_token,
    _pipeline,
    _saved,
)
from tests.api.test_permission_walk import (
    _dashboard as _api_dashboard,
)
from tests.conftest import PASSWORD, LiveServer, Person, World, unique
from tests.pipeline_helpers import push
from tests.web.page_client import PageClient, Pages, csrf_of

ANONYMOUS, SIGNED_IN, SUPERUSER = "anonymous", "signed-in", "superuser"
#: How a route is walked: with the caller's session; with a new session of the same caller
#: (signing in or out must not end the walk's sessions); or with the caller's session, which
#: the route replaces by a new one (a password change ends every session of the user).
OWN, FRESH, RENEWED = "own", "fresh", "renewed"
CSRF_REFUSAL = "the form expired or was not sent from this site"
AUTOMATION = "/w/{ws}/pipelines/{code}/automation"
#: Rarely due, so the walk's schedules start nothing.
CRON = "0 0 1 1 *"

PICKER = """
from joliba import DHIS2Connection, parameter, pipeline

@pipeline(name="Picker")
@parameter("source", type=DHIS2Connection, name="DHIS2")
@parameter("unit", type=str, name="Org unit", required=False,
           widget="dhis2.org_units", connection="source")
def picker(source, unit):
    pass
"""


@dataclass(frozen=True)
class Call:
    """What one request sends: path values, form fields (POST) and query parameters."""

    values: dict[str, Any] = field(default_factory=dict)
    form: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


Prepare = Callable[[Ctx, Caller], Call]


def _nothing(ctx: Ctx, caller: Caller) -> Call:
    return Call()


@dataclass(frozen=True)
class Page:
    method: str
    path: str
    #: An Action for workspace pages (/w/{ws}/...), else ANONYMOUS (anyone), SIGNED_IN or
    #: SUPERUSER.
    rule: Action | str
    prepare: Prepare = _nothing
    #: The answer to an allowed caller; None: 200 for GET, 303 for POST.
    ok: int | None = None
    #: Part of the Location a successful 303 must have (formatted with ws and the values).
    lands: str = ""
    #: The (status, lands) an anonymous caller gets where it differs (ANONYMOUS pages only).
    anonymous: tuple[int, str] | None = None
    session: str = OWN
    #: The type of an allowed caller's answer (refusals are HTML pages).
    media: str = "text/html"
    #: Walked on a server beside a real Superset (``ss_walk``).
    superset: bool = False

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(kw_only=True)
class PageCaller(Caller):
    """A browser: ``page`` is its signed-in (or anonymous) page client."""

    page: PageClient
    #: An API token sent as ``Authorization: Bearer`` by an otherwise anonymous browser.
    bearer: str | None = None


@dataclass
class Walk:
    ctx: Ctx
    pages: Pages
    callers: list[PageCaller]

    def caller(self, name: str) -> PageCaller:
        return next(c for c in self.callers if c.name == name)


# ----- Path values and forms -----


def _values(request: dict[str, Any], **renamed: str) -> dict[str, Any]:
    """The API helpers' path values, with the pages' names (``slug`` -> ``ref``)."""
    params = dict(request.get("params", {}))
    for new, old in renamed.items():
        params[new] = params.pop(old)
    return params


def _ref(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return _values(_dataset(ctx, caller), ref="slug")


def _code(ctx: Ctx, caller: Caller) -> str:
    return str(_pipeline(ctx, caller)["params"]["code"])


def _source(ctx: Ctx) -> str:
    """A second pipeline of the walked workspace, whose success can start the first."""
    if "source" not in ctx.cache:
        code = unique("src")
        push(ctx.admin.api, ctx.ws, code)
        ctx.cache["source"] = code
    return str(ctx.cache["source"])


def _picker(ctx: Ctx, caller: Caller) -> Call:
    if "picker" not in ctx.cache:
        code = unique("pick")
        push(ctx.admin.api, ctx.ws, code, PICKER)
        ctx.cache["picker"] = code
    # No connection chosen yet: the fragment asks for one (DHIS2 is not contacted).
    return Call(values={"code": ctx.cache["picker"], "param": "unit"}, query={"version": "1"})


def _run(ctx: Ctx, caller: Caller) -> Call:
    """A queued run the runner leaves alone, shared by the pages that show it."""
    if "run" not in ctx.cache:
        ctx.cache["run"] = _held_run(ctx, caller)["params"]["run_id"]
    return Call(values={"run_id": ctx.cache["run"]})


def _schedule(enabled: bool) -> Prepare:
    def prepare(ctx: Ctx, caller: Caller) -> Call:
        code = _code(ctx, caller)
        r = ctx.admin.api.post(
            f"/workspaces/{ctx.ws}/pipelines/{code}/schedules",
            json={"cron": CRON, "enabled": enabled},
        )
        assert r.status_code == 201, r.text
        return Call(values={"code": code, "schedule_id": r.json()["id"]})

    return prepare


def _trigger(ctx: Ctx, caller: Caller) -> Call:
    code, source = _code(ctx, caller), _source(ctx)
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/pipelines/{code}/triggers", json={"source": source}
    )
    assert r.status_code == 201, r.text
    return Call(values={"code": code, "source": source})


def _dataset_trigger(ctx: Ctx, caller: Caller) -> Call:
    code, dataset = _code(ctx, caller), _ref(ctx, caller)["ref"]
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/pipelines/{code}/dataset-triggers", json={"dataset": dataset}
    )
    assert r.status_code == 201, r.text
    return Call(values={"code": code, "dataset": dataset})


def _bystander(ctx: Ctx) -> Person:
    """A viewer of the walked workspace who is not a caller: emailed about runs, admin of
    the workspaces datasets are shared with and invitations come from."""
    if "bystander" not in ctx.cache:
        person = ctx.world.person()
        ctx.world.add_member(ctx.ws, person, Role.VIEWER)
        ctx.cache["bystander"] = person
    found: Person = ctx.cache["bystander"]
    return found


def _member(ctx: Ctx, caller: Caller) -> Call:
    """A viewer of the walked workspace whose role is changed and who is removed (and added
    back for the next caller)."""
    if "member" not in ctx.cache:
        ctx.cache["member"] = ctx.world.person()
    person: Person = ctx.cache["member"]
    with suppress(Conflict):  # still a member: the last caller was refused
        ctx.world.add_member(ctx.ws, person, Role.VIEWER)
    return Call(values={"user_id": str(person.user_id)})


def _other_workspace(ctx: Ctx) -> str:
    return ctx.world.workspace(_bystander(ctx))


def _share(ctx: Ctx, caller: Caller) -> Call:
    """The walked dataset shared with a fresh workspace (for revoking)."""
    values, target = _ref(ctx, caller), _other_workspace(ctx)
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/datasets/{values['ref']}/shares", json={"workspace": target}
    )
    assert r.status_code == 201, r.text
    return Call(values={**values, "target": target})


def _secret(ctx: Ctx, caller: Caller) -> str:
    """An open invitation to a fresh workspace, addressed to the caller (or a new address)."""
    email = caller.person.email if caller.person else f"{unique()}@example.org"
    with ctx.world.platform.db.transaction() as session:
        inviter = users.get_by_email(session, _bystander(ctx).email)
        assert inviter is not None
        ws = workspaces.create(session, None, name=unique("inv"), admin=inviter)
        access = workspaces.authorize(session, Actor(user=inviter), ws.slug, Action.MEMBER_MANAGE)
        created = invitations.create(
            session, access, email=email, role=Role.VIEWER, lifetime=timedelta(days=1)
        )
    return created.secret


def _sign_in_form(ctx: Ctx, caller: Caller) -> Call:
    email = (caller.person or _bystander(ctx)).email
    return Call(form={"email": email, "password": PASSWORD, "next": "/workspaces"})


def _table(ctx: Ctx, caller: Caller) -> Call:
    return Call(values={**_ref(ctx, caller), "version": "1", "name": "a.csv"})


def _recipient(ctx: Ctx, caller: Caller) -> Call:
    """The bystander emailed about the walked pipeline's runs (for removing)."""
    code, email = _code(ctx, caller), _bystander(ctx).email
    r = ctx.admin.api.post(
        f"/workspaces/{ctx.ws}/pipelines/{code}/recipients", json={"email": email}
    )
    assert r.status_code == 201, r.text
    return Call(values={"code": code}, form={"email": email})


def _dashboard(ctx: Ctx, caller: Caller) -> Call:
    return Call(values=_api_dashboard(ctx, caller)["params"])


def _with_code(**form: Any) -> Prepare:
    return lambda ctx, c: Call(values={"code": _code(ctx, c)}, form=form)


PASSWORDS = {"current_password": PASSWORD, "new_password": PASSWORD, "new_password_again": PASSWORD}

PAGES: list[Page] = [
    # ----- Signing in and out, the list of workspaces, your account -----
    Page("GET", "/", ANONYMOUS, ok=303, lands="/workspaces", anonymous=(303, "/login")),
    Page("GET", "/login", ANONYMOUS, ok=303, anonymous=(200, "")),
    Page("POST", "/login", ANONYMOUS, _sign_in_form, lands="/workspaces", session=FRESH),
    Page("POST", "/logout", ANONYMOUS, lands="/login", session=FRESH),
    Page("GET", "/workspaces", SIGNED_IN),
    Page(
        "POST",
        "/workspaces",
        SUPERUSER,
        lambda ctx, c: Call(form={"name": unique("Walked ")}),
        lands="/w/",
    ),
    Page("GET", "/account", SIGNED_IN),
    Page("POST", "/account/tokens", SIGNED_IN, lambda ctx, c: Call(form={"name": "walk"}), ok=200),
    Page(
        "POST",
        "/account/tokens/{token_id}/revoke",
        SIGNED_IN,
        lambda ctx, c: Call(values=_values(_own_token(ctx, c))),
        lands="/account",
    ),
    Page(
        "POST",
        "/account/password",
        SIGNED_IN,
        lambda ctx, c: Call(form=PASSWORDS),
        lands="/account",
        session=RENEWED,
    ),
    # ----- Invitation links -----
    Page(
        "GET",
        "/invitations/{secret}",
        ANONYMOUS,
        lambda ctx, c: Call(values={"secret": _secret(ctx, c)}),
    ),
    Page(
        "POST",
        "/invitations/{secret}/accept",
        SIGNED_IN,
        lambda ctx, c: Call(values={"secret": _secret(ctx, c)}),
        lands="/w/",
    ),
    Page(
        "POST",
        "/invitations/{secret}/register",
        ANONYMOUS,
        lambda ctx, c: Call(
            values={"secret": _secret(ctx, c)},
            form={"password": PASSWORD, "password_again": PASSWORD, "name": "Walker"},
        ),
        # Signed in: back to the invitation, which offers the right choice.
        lands="/invitations/{secret}",
        anonymous=(303, "/w/"),
        session=FRESH,
    ),
    # ----- A workspace and its members -----
    Page("GET", "/w/{ws}", Action.WORKSPACE_VIEW),
    Page(
        "POST",
        "/w/{ws}/settings",
        Action.WORKSPACE_UPDATE,
        lambda ctx, c: Call(
            form={"name": f"Workspace {ctx.ws}", "description": unique(), "time_zone": "UTC"}
        ),
        lands="/w/{ws}?",
    ),
    Page(
        "POST",
        "/w/{ws}/archive",
        Action.WORKSPACE_UPDATE,
        lambda ctx, c: Call(form={"archived": "false"}),
        lands="/w/{ws}?flash=Workspace+unarchived",
    ),
    Page("GET", "/w/{ws}/members", Action.MEMBER_LIST),
    Page(
        "POST",
        "/w/{ws}/members/{user_id}/role",
        Action.MEMBER_MANAGE,
        lambda ctx, c: Call(values=_member(ctx, c).values, form={"role": "editor"}),
        lands="/w/{ws}/members",
    ),
    Page(
        "POST",
        "/w/{ws}/members/{user_id}/remove",
        Action.MEMBER_MANAGE,
        _member,
        lands="/w/{ws}/members",
    ),
    Page(
        "POST",
        "/w/{ws}/invitations",
        Action.MEMBER_MANAGE,
        lambda ctx, c: Call(form={"email": f"{unique()}@example.org", "role": "viewer"}),
        ok=200,
    ),
    Page(
        "POST",
        "/w/{ws}/invitations/{invitation_id}/revoke",
        Action.MEMBER_MANAGE,
        lambda ctx, c: Call(values=_values(_invitation(ctx, c))),
        lands="/w/{ws}/members",
    ),
    Page("GET", "/w/{ws}/audit", Action.AUDIT_READ),
    # ----- Files -----
    Page("GET", "/w/{ws}/files", Action.FILE_READ),
    Page(
        "POST",
        "/w/{ws}/files/folder",
        Action.FILE_WRITE,
        lambda ctx, c: Call(form={"name": unique("dir")}),
        lands="/w/{ws}/files",
    ),
    Page(
        "POST",
        "/w/{ws}/files/move",
        Action.FILE_WRITE,
        lambda ctx, c: Call(
            form={"source": _file(ctx, c)["params"]["path"], "destination": unique("moved")}
        ),
        lands="/w/{ws}/files",
    ),
    Page(
        "POST",
        "/w/{ws}/files/delete",
        Action.FILE_DELETE,
        lambda ctx, c: Call(form={"path": _file(ctx, c)["params"]["path"]}),
        lands="/w/{ws}/files",
    ),
    # ----- Connections -----
    Page("GET", "/w/{ws}/connections", Action.CONNECTION_READ),
    Page("GET", "/w/{ws}/connections/new", Action.CONNECTION_WRITE),
    Page(
        "POST",
        "/w/{ws}/connections",
        Action.CONNECTION_WRITE,
        lambda ctx, c: Call(
            form={
                "type": "custom",
                "name": unique("c"),
                "custom_key": "a",
                "custom_value": "1",
            }
        ),
        lands="/edit",
    ),
    Page(
        "GET",
        "/w/{ws}/connections/{slug}/edit",
        Action.CONNECTION_READ,
        lambda ctx, c: Call(values=_values(_connection(ctx, c))),
    ),
    Page(
        "POST",
        "/w/{ws}/connections/{slug}/edit",
        Action.CONNECTION_WRITE,
        lambda ctx, c: Call(
            values=_values(_connection(ctx, c)),
            form={"name": unique("c"), "custom_key": "k", "custom_value": "w"},
        ),
        lands="/w/{ws}/connections/{slug}/edit",
    ),
    Page(
        "POST",
        "/w/{ws}/connections/{slug}/delete",
        Action.CONNECTION_DELETE,
        lambda ctx, c: Call(values=_values(_connection(ctx, c))),
        lands="/w/{ws}/connections",
    ),
    Page(
        "POST",
        "/w/{ws}/connections/{slug}/test",
        Action.CONNECTION_TEST,
        lambda ctx, c: Call(values=_values(_connection(ctx, c))),
        ok=200,
    ),
    # ----- Pipelines and runs -----
    Page("GET", "/w/{ws}/pipelines", Action.PIPELINE_READ),
    Page(
        "GET",
        "/w/{ws}/pipelines/{code}",
        Action.PIPELINE_READ,
        lambda ctx, c: Call(values={"code": _code(ctx, c)}),
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/runs",
        Action.PIPELINE_RUN,
        _with_code(version="1", **{"p.count": "2"}),
        lands="/w/{ws}/runs/",
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/limits",
        Action.PIPELINE_LIMITS,
        _with_code(memory_mb="1024"),
        lands="Limits+saved",
    ),
    Page("GET", "/w/{ws}/pipelines/{code}/pickers/{param}", Action.PIPELINE_RUN, _picker),
    Page(
        "GET",
        "/w/{ws}/pipelines/{code}/automation",
        Action.PIPELINE_READ,
        lambda ctx, c: Call(values={"code": _code(ctx, c)}),
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/schedules",
        Action.PIPELINE_WRITE,
        _with_code(cron=CRON, time_zone="UTC"),
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/schedules/{schedule_id}/pause",
        Action.PIPELINE_WRITE,
        _schedule(enabled=True),
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/schedules/{schedule_id}/resume",
        Action.PIPELINE_WRITE,
        _schedule(enabled=False),
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/schedules/{schedule_id}/delete",
        Action.PIPELINE_WRITE,
        _schedule(enabled=False),
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/webhook",
        Action.PIPELINE_WRITE,
        _with_code(),
        ok=200,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/webhook/off",
        Action.PIPELINE_WRITE,
        _with_code(),
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/triggers",
        Action.PIPELINE_WRITE,
        lambda ctx, c: Call(values={"code": _code(ctx, c)}, form={"source": _source(ctx)}),
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/triggers/{source}/remove",
        Action.PIPELINE_WRITE,
        _trigger,
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/dataset-triggers",
        Action.PIPELINE_WRITE,
        lambda ctx, c: Call(values={"code": _code(ctx, c)}, form={"dataset": _ref(ctx, c)["ref"]}),
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/dataset-triggers/{dataset}/remove",
        Action.PIPELINE_WRITE,
        _dataset_trigger,
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/recipients",
        Action.PIPELINE_WRITE,
        lambda ctx, c: Call(values={"code": _code(ctx, c)}, form={"email": ctx.admin.email}),
        lands=AUTOMATION,
    ),
    Page(
        "POST",
        "/w/{ws}/pipelines/{code}/recipients/remove",
        Action.PIPELINE_WRITE,
        _recipient,
        lands=AUTOMATION,
    ),
    Page(
        "GET",
        "/w/{ws}/runs",
        Action.PIPELINE_READ,
        lambda ctx, c: Call(query={"state": "queued", "pipeline": _code(ctx, c)}),
    ),
    Page("GET", "/w/{ws}/runs/{run_id}", Action.PIPELINE_READ, _run),
    Page("GET", "/w/{ws}/runs/{run_id}/summary", Action.PIPELINE_READ, _run),
    Page(
        "POST",
        "/w/{ws}/runs/{run_id}/cancel",
        Action.PIPELINE_RUN,
        lambda ctx, c: Call(values=_values(_held_run(ctx, c))),
        lands="Run+cancelled",
    ),
    # ----- Datasets -----
    Page("GET", "/w/{ws}/datasets", Action.DATASET_READ),
    Page(
        "POST",
        "/w/{ws}/datasets",
        Action.DATASET_WRITE,
        lambda ctx, c: Call(form={"name": unique("Walked ")}),
        lands="/w/{ws}/datasets/",
    ),
    Page(
        "GET",
        "/w/{ws}/datasets/{ref}",
        Action.DATASET_READ,
        lambda ctx, c: Call(values=_ref(ctx, c)),
    ),
    Page(
        "GET",
        "/w/{ws}/datasets/{ref}/versions/{version}/files/{name}/profile",
        Action.DATASET_READ,
        _table,
    ),
    Page(
        "GET",
        "/w/{ws}/datasets/{ref}/versions/{version}/files/{name}/preview",
        Action.DATASET_READ,
        _table,
    ),
    Page(
        "GET",
        "/w/{ws}/datasets/{ref}/versions/{version}/files/{name}/map",
        Action.DATASET_READ,
        lambda ctx, c: Call(values={**_ref(ctx, c), "version": "1", "name": "shapes.csv"}),
    ),
    Page(
        "POST",
        "/w/{ws}/datasets/{ref}/versions/{version}/query",
        Action.DATASET_READ,
        lambda ctx, c: Call(
            values={**_ref(ctx, c), "version": "1"}, form={"sql": "SELECT count(*) FROM a"}
        ),
        ok=200,
    ),
    Page(
        "GET",
        "/w/{ws}/datasets/{ref}/compare",
        Action.DATASET_READ,
        lambda ctx, c: Call(values=_ref(ctx, c), query={"old": "1", "new": "1"}),
    ),
    Page(
        "POST",
        "/w/{ws}/datasets/{ref}/shares",
        Action.DATASET_SHARE,
        lambda ctx, c: Call(values=_ref(ctx, c), form={"workspace": _other_workspace(ctx)}),
        lands="#sharing",
    ),
    Page(
        "POST",
        "/w/{ws}/datasets/{ref}/shares/{target}/revoke",
        Action.DATASET_SHARE,
        _share,
        lands="#sharing",
    ),
    Page(
        "POST",
        "/w/{ws}/datasets/{ref}/tokens",
        Action.DATASET_SHARE,
        lambda ctx, c: Call(values=_ref(ctx, c), form={"name": "walk"}),
        ok=200,
    ),
    Page(
        "POST",
        "/w/{ws}/datasets/{ref}/tokens/{token_id}/revoke",
        Action.DATASET_SHARE,
        lambda ctx, c: Call(values=_values(_dataset_token(ctx, c), ref="slug")),
        lands="#tokens",
    ),
    Page(
        "GET",
        "/w/{ws}/datasets/{ref}/access",
        Action.DATASET_ACCESS_LOG,
        lambda ctx, c: Call(values=_ref(ctx, c)),
    ),
    # ----- The workspace database -----
    Page("GET", "/w/{ws}/database", Action.DATABASE_READ),
    Page(
        "GET",
        "/w/{ws}/database/tables/{table}/preview",
        Action.DATABASE_READ,
        lambda ctx, c: Call(values=_db_table(ctx, c)["params"]),
    ),
    Page(
        "POST",
        "/w/{ws}/database/query",
        Action.DATABASE_READ,
        lambda ctx, c: Call(form={"sql": "SELECT 1 AS one"}),
        ok=200,
    ),
    Page(
        "POST",
        "/w/{ws}/database/export",
        Action.DATABASE_READ,
        lambda ctx, c: Call(form={"sql": "SELECT 1 AS one", "format": "csv"}),
        ok=200,
        media="text/csv",
    ),
    Page(
        "POST",
        "/w/{ws}/database/queries",
        Action.DATABASE_WRITE,
        lambda ctx, c: Call(form={"sql": "SELECT 1", "name": unique("walk ")}),
        lands="/w/{ws}/database?query=",
    ),
    Page(
        "POST",
        "/w/{ws}/database/queries/{query_id}/delete",
        Action.DATABASE_WRITE,
        lambda ctx, c: Call(values=_saved(ctx, c)["params"]),
        lands="/w/{ws}/database",
    ),
    Page("POST", "/w/{ws}/database/reveal", Action.DATABASE_REVEAL, ok=200),
    Page("POST", "/w/{ws}/database/rotate", Action.DATABASE_ROTATE, ok=200),
    # ----- Superset: one sign-in, the workspace's dashboards -----
    Page(
        "GET", "/superset/signin", SIGNED_IN, ok=303, lands="/joliba/signin?token=", superset=True
    ),
    Page("GET", "/w/{ws}/dashboards", Action.DATABASE_READ, superset=True),
    Page(
        "GET", "/w/{ws}/dashboards/{dashboard_id}", Action.DATABASE_READ, _dashboard, superset=True
    ),
    Page(
        "POST",
        "/w/{ws}/dashboards/{dashboard_id}/guest-token",
        Action.DATABASE_READ,
        _dashboard,
        ok=200,
        media="application/json",
        superset=True,
    ),
]


# ----- Which routes the app has -----


def _page_routes(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path) of every route of the app, but those of its mounts (/api/v1, /static)."""
    found: set[tuple[str, str]] = set()
    for route in iter_route_contexts(routes):
        if isinstance(route.original_route, Mount):
            assert route.path in ("/api/v1", "/static"), f"an unexpected mount: {route.path}"
            continue
        assert route.path is not None, f"a route without a path: {route!r}"
        found |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return found


def test_every_page_route_is_walked(platform: Platform) -> None:
    routes = _page_routes(create_app(platform=platform).routes)
    walked = [(page.method, page.path) for page in PAGES]
    assert len(walked) == len(set(walked)), "a route is described twice"
    assert routes == set(walked), (
        f"not walked: {sorted(routes - set(walked))}; gone: {sorted(set(walked) - routes)}"
    )


# ----- The callers, made once per backend -----


def _anonymous(pages: Pages, bearer: str | None = None) -> PageClient:
    """An anonymous browser holding the CSRF cookie of the sign-in form."""
    client = pages.anonymous()
    if bearer is not None:
        client.http.headers["Authorization"] = f"Bearer {bearer}"
    client.csrf = csrf_of(client.get("/login").text)
    return client


@pytest.fixture(scope="module")
def walk(platform: Platform, server: LiveServer) -> Iterator[Walk]:
    yield from _walk_on(platform, server)


@pytest.fixture(scope="module")
def ss_walk(ss_platform: Platform, ss_server: LiveServer) -> Iterator[Walk]:
    """The walk of the Superset pages, on a server beside the session's Superset."""
    yield from _walk_on(ss_platform, ss_server)


def _walk_on(platform: Platform, server: LiveServer) -> Iterator[Walk]:
    world = World(platform, server)
    admin = world.person()
    ctx = Ctx(world=world, ws=world.workspace(admin), admin=admin)
    outsider, viewer, editor = world.person(), world.person(), world.person()
    world.workspace(outsider)  # admin of some other workspace
    world.add_member(ctx.ws, viewer, Role.VIEWER)
    world.add_member(ctx.ws, editor, Role.EDITOR)
    superuser = world.person(superuser=True)
    with Pages(server.url) as pages:

        def browser(
            name: str, person: Person, role: Role | None = None, **extra: Any
        ) -> PageCaller:
            client = pages.signed_in(person.email, person.password)
            return PageCaller(name, client.http, person, role, page=client, **extra)

        anonymous = _anonymous(pages)
        bearer = _anonymous(pages, superuser.token)
        callers = [
            PageCaller("anonymous", anonymous.http, None, page=anonymous),
            PageCaller(
                "superuser-token-only", bearer.http, None, page=bearer, bearer=superuser.token
            ),
            browser("outsider", outsider),
            browser("viewer", viewer, Role.VIEWER),
            browser("editor", editor, Role.EDITOR),
            browser("admin", admin, Role.ADMIN),
            browser("superuser", superuser, superuser=True),
        ]
        yield Walk(ctx, pages, callers)
    world.close()


# ----- What each caller should get -----


@dataclass(frozen=True)
class Expected:
    status: int
    #: The Location must equal this (sign-in redirects) ...
    location: str | None = None
    #: ... or contain this (successful posts).
    lands: str = ""
    allowed: bool = False


def _allowed(page: Page, caller: Caller) -> bool:
    rule = page.rule
    if rule == ANONYMOUS:
        return True
    if caller.person is None:
        return False
    if rule == SIGNED_IN:
        return True
    if rule == SUPERUSER:
        return caller.superuser
    assert isinstance(rule, Action)
    return caller.superuser or (caller.role is not None and caller.role in POLICY[rule])


def _expected(
    page: Page, caller: Caller, url: httpx.URL, values: dict[str, Any], *, archived: bool = False
) -> Expected:
    if _allowed(page, caller):
        status = page.ok or (200 if page.method == "GET" else 303)
        lands = page.lands
        if caller.person is None and page.anonymous is not None:
            status, lands = page.anonymous
        if (
            archived
            and isinstance(page.rule, Action)
            and workspaces.refused_when_archived(page.rule)
        ):
            return Expected(409)
        return Expected(status, lands=lands.format(**values), allowed=True)
    if caller.person is None:
        asked = url.path + (f"?{url.query.decode()}" if url.query else "")
        return Expected(303, location=sign_in_url(asked))
    if isinstance(page.rule, Action) and not caller.superuser and caller.role is None:
        return Expected(404)
    return Expected(403)


def _client(walk: Walk, page: Page, caller: PageCaller) -> PageClient:
    if page.session != FRESH:
        return caller.page
    if caller.person is None:
        return _anonymous(walk.pages, caller.bearer)
    # Another browser session of the caller, started as the sign-in form starts one.
    platform = walk.ctx.world.platform
    with platform.db.transaction() as session:
        user = users.get_by_email(session, caller.person.email)
        assert user is not None
        started = sessions.start(session, user, lifetime=timedelta(hours=1))
    client = walk.pages.anonymous()
    client.http.cookies.set(SESSION_COOKIE, started.cookie_value, domain="127.0.0.1")
    client.refresh_csrf()
    return client


def _url(walk: Walk, page: Page, call: Call) -> tuple[str, dict[str, Any]]:
    values = {"ws": walk.ctx.ws, **{k: quote(str(v), safe="") for k, v in call.values.items()}}
    return page.path.format(**values), values


def _send(
    walk: Walk, page: Page, caller: PageCaller, call: Call, *, csrf: str | None = ""
) -> httpx.Response:
    """Ask ``page`` as ``caller``; ``csrf``: "" the session's token, None none at all."""
    client = _client(walk, page, caller)
    path, _ = _url(walk, page, call)
    data: dict[str, Any] | None = None
    if page.method == "POST":
        token = client.csrf if csrf == "" else csrf
        data = {**call.form, **({"csrf_token": token} if token is not None else {})}
    response = client.http.request(page.method, path, params=call.query or None, data=data)
    if page.session == RENEWED and caller.person is not None:
        caller.page.refresh_csrf()  # the answer carried the session that replaced the old one
    return response


_ALERT = re.compile(r'role="alert"[^>]*>(.*?)</', re.DOTALL)
_TITLE = re.compile(r"<title>(.*?)</title>", re.DOTALL)


def _gist(html: str) -> str:
    """What a page says, in short: its error message, else its title."""
    found = _ALERT.search(html) or _TITLE.search(html)
    return " ".join((found.group(1) if found else html[:200]).split())


def _check(
    walk: Walk, page: Page, caller: PageCaller, call: Call, *, archived: bool = False
) -> str | None:
    """Ask ``page`` as ``caller``; what is wrong with the answer, if anything."""
    response = _send(walk, page, caller, call)
    _, values = _url(walk, page, call)
    want = _expected(page, caller, response.request.url, values, archived=archived)
    got = response.status_code
    location = response.headers.get("location", "")
    problems = []
    if got != want.status:
        problems.append(f"want {want.status}")
    elif got == 303:
        if want.location is not None and location != want.location:
            problems.append(f"want Location {want.location}")
        if want.lands and want.lands not in location:
            problems.append(f"want a Location with {want.lands!r}")
        if want.allowed and page.rule != ANONYMOUS and location.startswith("/login"):
            problems.append("a success must not send to the sign-in page")
    else:
        wanted = page.media if want.allowed else "text/html"
        if wanted not in response.headers.get("content-type", ""):
            problems.append(f"want {wanted}")
    if not problems:
        return None
    shown = location or _gist(response.text)
    asked = f"{page.method} {response.request.url.raw_path.decode()}"
    return f"{caller.name:22} {asked}: got {got}, {', '.join(problems)}: {shown}"


# ----- The walks -----


#: The pages of Joliba alone, walked on the session's server (``walk``), and those that need a
#: Superset, walked on a server beside the shared one (``ss_walk``). Each test below comes
#: twice, one per walk, so that pytest keeps each module-scoped walk for all its pages.
OWN_PAGES = [page for page in PAGES if not page.superset]
SUPERSET_PAGES = [page for page in PAGES if page.superset]


def _answers_as_the_policy_says(walk: Walk, page: Page) -> None:
    failures = [
        problem
        for caller in walk.callers
        if (problem := _check(walk, page, caller, page.prepare(walk.ctx, caller))) is not None
    ]
    assert not failures, "\n" + "\n".join(failures)


@pytest.mark.parametrize("page", OWN_PAGES, ids=lambda page: page.name)
def test_page_answers_every_caller_as_the_policy_says(walk: Walk, page: Page) -> None:
    _answers_as_the_policy_says(walk, page)


@pytest.mark.parametrize("page", SUPERSET_PAGES, ids=lambda page: page.name)
def test_superset_page_answers_every_caller_as_the_policy_says(ss_walk: Walk, page: Page) -> None:
    _answers_as_the_policy_says(ss_walk, page)


def _workspace_pages(pages: list[Page]) -> list[Page]:
    return [page for page in pages if isinstance(page.rule, Action)]


def _set_archived(walk: Walk, archived: bool) -> None:
    r = walk.ctx.admin.api.patch(f"/workspaces/{walk.ctx.ws}", json={"archived": archived})
    assert r.status_code == 200, r.text


def _archived_refuses_every_change(walk: Walk, page: Page) -> None:
    """Members allowed to act get 409 for every action but reading and unarchiving; the
    others are refused as in a live workspace."""
    callers = [walk.caller(name) for name in ("viewer", "editor", "admin", "superuser")]
    calls = [page.prepare(walk.ctx, caller) for caller in callers]  # while it takes changes
    failures: list[str] = []
    _set_archived(walk, True)
    try:
        for caller, call in zip(callers, calls, strict=True):
            if page.rule is Action.WORKSPACE_UPDATE:
                _set_archived(walk, True)  # the last caller may have unarchived it
            if (problem := _check(walk, page, caller, call, archived=True)) is not None:
                failures.append(problem)
    finally:
        _set_archived(walk, False)
    assert not failures, "\n" + "\n".join(failures)


@pytest.mark.parametrize("page", _workspace_pages(OWN_PAGES), ids=lambda page: page.name)
def test_archived_workspace_refuses_every_change(walk: Walk, page: Page) -> None:
    _archived_refuses_every_change(walk, page)


@pytest.mark.parametrize("page", _workspace_pages(SUPERSET_PAGES), ids=lambda page: page.name)
def test_archived_workspace_refuses_every_superset_change(ss_walk: Walk, page: Page) -> None:
    _archived_refuses_every_change(ss_walk, page)


def _posts(pages: list[Page]) -> list[Page]:
    return [page for page in pages if page.method == "POST"]


def _post_without_the_csrf_token_is_refused(walk: Walk, page: Page) -> None:
    """Without the form's token, or with a forged one, every post is refused before it acts
    (403): as an anonymous browser, and as the first of admin and superuser it would let in."""
    signed_in = next(
        c for c in (walk.caller("admin"), walk.caller("superuser")) if _allowed(page, c)
    )
    failures: list[str] = []
    for caller in (walk.caller("anonymous"), signed_in):
        call = page.prepare(walk.ctx, caller)  # nothing is done with it: it serves twice
        for csrf in (None, "forged"):
            response = _send(walk, page, caller, call, csrf=csrf)
            if response.status_code != 403 or CSRF_REFUSAL not in response.text:
                shown = response.headers.get("location") or response.text[:200]
                failures.append(
                    f"{caller.name} {page.name} with token {csrf}: got {response.status_code}: "
                    + shown
                )
    assert not failures, "\n" + "\n".join(failures)


@pytest.mark.parametrize("page", _posts(OWN_PAGES), ids=lambda page: page.name)
def test_post_without_the_csrf_token_is_refused(walk: Walk, page: Page) -> None:
    _post_without_the_csrf_token_is_refused(walk, page)


@pytest.mark.parametrize("page", _posts(SUPERSET_PAGES), ids=lambda page: page.name)
def test_superset_post_without_the_csrf_token_is_refused(ss_walk: Walk, page: Page) -> None:
    _post_without_the_csrf_token_is_refused(ss_walk, page)


def test_an_api_token_does_not_sign_in_to_pages(walk: Walk) -> None:
    """A browser that only sends a superuser's API token is an anonymous one."""
    caller = walk.caller("superuser-token-only")
    assert caller.page.get("/").headers["location"] == "/login"
    assert caller.page.get("/workspaces").headers["location"] == sign_in_url("/workspaces")
    assert caller.page.get(f"/w/{walk.ctx.ws}").headers["location"] == sign_in_url(
        f"/w/{walk.ctx.ws}"
    )
    # The same token opens the API: it is a live token, refused by the pages only.
    assert caller.page.get("/api/v1/me").status_code == 200
