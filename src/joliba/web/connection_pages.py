"""Workspace connections: list, create, edit, delete, and "Test connection" (HTMX).

Secret values go in and never come out: forms show the mask for a stored secret, and a
form shown again after an error leaves typed secrets out rather than echo them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from joliba.db.tables import Connection
from joliba.domain.connections import FIELDS, MASK, ConnectionType, parse_type
from joliba.domain.errors import Conflict, Invalid
from joliba.domain.paging import PageRequest
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.services import connections, units, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.forms import FormDep, problem, see_other, text, texts
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 200
#: Empty key/value rows offered for custom connections (joliba.js can add more).
EMPTY_ROWS = 2

Row = dict[str, Any]


@router.get("/w/{ws}/connections")
def connection_list(request: Request, platform: PlatformDep, actor: PageActor, ws: str) -> Response:
    with units.work(platform.db, actor, ws, Action.CONNECTION_READ) as (session, access):
        rows, total = connections.list_for(session, access, PageRequest(page_size=PAGE_SIZE))
    writable = not access.workspace.archived
    context = workspace_context(
        access,
        "connections",
        rows=rows,
        total=total,
        can_write=writable and access.allows(Action.CONNECTION_WRITE),
        can_test=writable and access.allows(Action.CONNECTION_TEST),
    )
    return render(request, "connections.html", context)


@router.get("/w/{ws}/connections/new")
def connection_new(request: Request, platform: PlatformDep, actor: PageActor, ws: str) -> Response:
    access = _authorize(platform, actor, ws, Action.CONNECTION_WRITE)
    return _form_page(request, access, None, _blank_form(ConnectionType.DHIS2.value))


@router.post("/w/{ws}/connections")
def connection_create(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, form: FormDep
) -> Response:
    kind_value = text(form, "type")
    try:
        with units.work(platform.db, actor, ws, Action.CONNECTION_WRITE) as (session, access):
            kind = parse_type(kind_value)
            values, secret_keys = _submitted(form, kind)
            created = connections.create(
                session,
                access,
                platform.box,
                type=kind.value,
                name=text(form, "name"),
                slug=text(form, "slug").strip() or None,
                description=text(form, "description"),
                fields=values,
                secret_fields=secret_keys,
            )
            slug = created.slug
    except (Invalid, Conflict) as exc:
        message, status = problem(exc)
        access = _authorize(platform, actor, ws, Action.CONNECTION_WRITE)
        shown = _echo(form, kind_value, None)
        return _form_page(request, access, None, shown, error=message, status=status)
    return see_other(f"/w/{ws}/connections/{slug}/edit", "Connection created.")


@router.get("/w/{ws}/connections/{slug}/edit")
def connection_edit(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, slug: str
) -> Response:
    with units.work(platform.db, actor, ws, Action.CONNECTION_READ) as (session, access):
        row = connections.get(session, access, slug)
    return _form_page(request, access, row, _stored_form(row))


@router.post("/w/{ws}/connections/{slug}/edit")
def connection_update(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, slug: str, form: FormDep
) -> Response:
    try:
        with units.work(platform.db, actor, ws, Action.CONNECTION_WRITE) as (session, access):
            row = connections.get(session, access, slug)
            kind = ConnectionType(row.type)
            values, secret_keys = _submitted(form, kind)
            if kind is ConnectionType.CUSTOM:
                # Rows the user deleted are cleared; a masked value keeps its secret.
                values.update({key: None for key in row.fields if key not in values})
                values.update({key: None for key in row.secret_names if key not in values})
            else:
                # The form sends every field: pass on only real changes, so the audit
                # entry names what was changed.
                values = {k: v for k, v in values.items() if not _unchanged(row, k, v)}
            edited = connections.edit(
                session,
                access,
                platform.box,
                slug,
                name=text(form, "name"),
                description=text(form, "description"),
                fields=values,
                secret_fields=secret_keys,
            )
    except (Invalid, Conflict) as exc:
        message, status = problem(exc)
        with units.work(platform.db, actor, ws, Action.CONNECTION_READ) as (session, access):
            row = connections.get(session, access, slug)
        shown = _echo(form, row.type, row)
        return _form_page(request, access, row, shown, error=message, status=status)
    saved = "Connection saved."
    if edited.notice:  # "The password was cleared because the server URL changed; …"
        saved += f" {edited.notice[:1].upper()}{edited.notice[1:]}."
    return see_other(f"/w/{ws}/connections/{slug}/edit", saved)


@router.post("/w/{ws}/connections/{slug}/delete")
def connection_delete(platform: PlatformDep, actor: PageActor, ws: str, slug: str) -> Response:
    with units.work(platform.db, actor, ws, Action.CONNECTION_DELETE) as (session, access):
        connections.delete(session, access, slug)
    return see_other(f"/w/{ws}/connections", f"Connection '{slug}' deleted.")


@router.post("/w/{ws}/connections/{slug}/test")
async def connection_test(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, slug: str
) -> Response:
    access, prepared = await run_in_threadpool(_prepare_test, platform, actor, ws, slug)
    # The remote check can take seconds: no transaction stays open while it runs, and it
    # runs in the platform's outbound pool, never in the threads that serve pages.
    result = await platform.outbound.run(lambda: platform.checker.check(*prepared.args()))
    await run_in_threadpool(_record_test, platform, access, slug, result.ok)
    return render(request, "_connection_test.html", {"result": result})


def _prepare_test(
    platform: Platform, actor: Actor, ws: str, slug: str
) -> tuple[Access, connections.TestRequest]:
    with units.work(platform.db, actor, ws, Action.CONNECTION_TEST) as (session, access):
        return access, connections.prepare_test(session, access, platform.box, slug)


def _record_test(platform: Platform, access: Access, slug: str, ok: bool) -> None:
    with platform.db.transaction() as session:
        connections.record_test(session, access, slug, ok=ok)


def _authorize(platform: Platform, actor: Actor, ws: str, action: Action) -> Access:
    with platform.db.session(write=False) as session:
        return workspaces.authorize(session, actor, ws, action)


def _submitted(form: FormData, kind: ConnectionType) -> tuple[dict[str, Any], list[str]]:
    """The fields of ``kind`` from the form, and (custom only) the keys marked secret."""
    if kind is not ConnectionType.CUSTOM:
        return {s.name: text(form, f"{kind.value}.{s.name}") for s in FIELDS[kind]}, []
    values: dict[str, Any] = {}
    secret_keys: list[str] = []
    for number, row in enumerate(_custom_rows(form), start=1):
        key = row["key"]
        if not key:
            raise Invalid(
                f"fields: row {number} has a value but no key", details={"field": "fields"}
            )
        values[key] = row["value"]
        if row["secret"]:
            secret_keys.append(key)
    return values, secret_keys


def _unchanged(row: Connection, key: str, value: Any) -> bool:
    if key in row.secret_names:
        return bool(value == MASK)
    return str(row.fields.get(key, "")) == str(value or "").strip()


def _custom_rows(form: FormData) -> list[Row]:
    keys, values = texts(form, "custom_key"), texts(form, "custom_value")
    # Checkboxes are only sent when ticked, so each one carries its row's index.
    ticked = set(texts(form, "custom_secret"))
    rows = [
        {"key": key.strip(), "value": value, "secret": str(index) in ticked}
        for index, (key, value) in enumerate(zip(keys, values, strict=False))
    ]
    return [r for r in rows if r["key"] or r["value"]]


def _blank_form(kind: str) -> dict[str, Any]:
    return {
        "type": kind,
        "name": "",
        "slug": "",
        "description": "",
        "values": {k.value: {} for k in ConnectionType},
        "rows": [],
    }


def _stored_form(row: Connection) -> dict[str, Any]:
    shown = connections.view(row)  # secrets already replaced by the mask
    form = _blank_form(row.type)
    form.update(name=row.name, slug=row.slug, description=row.description)
    form["values"][row.type] = dict(shown.fields)
    form["rows"] = [
        {"key": key, "value": value, "secret": key in row.secret_names}
        for key, value in sorted(shown.fields.items())
    ]
    return form


def _echo(form: FormData, kind: str, row: Connection | None) -> dict[str, Any]:
    """The submitted form shown again: plain values as typed, secrets only as the mask."""
    known = {k.value for k in ConnectionType}
    shown = _blank_form(kind if kind in known else ConnectionType.DHIS2.value)
    shown.update(
        name=text(form, "name"), slug=text(form, "slug"), description=text(form, "description")
    )
    stored = set(row.secret_names) if row is not None else set()
    for kind_ in ConnectionType:
        specs = FIELDS[kind_]
        shown["values"][kind_.value] = {
            s.name: (MASK if s.name in stored else "")
            if s.secret
            else text(form, f"{kind_.value}.{s.name}")
            for s in specs
        }
    shown["rows"] = [
        {
            **r,
            "value": (MASK if r["key"] in stored else "") if r["secret"] else r["value"],
        }
        for r in _custom_rows(form)
    ]
    return shown


def _form_page(
    request: Request,
    access: Access,
    row: Connection | None,
    form: dict[str, Any],
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    writable = not access.workspace.archived
    rows = [*form["rows"], *({"key": "", "value": "", "secret": False} for _ in range(EMPTY_ROWS))]
    context = workspace_context(
        access,
        "connections",
        connection=row,
        form=form,
        rows=rows,
        types=[k.value for k in ConnectionType],
        specs={k.value: FIELDS[k] for k in ConnectionType},
        can_write=writable and access.allows(Action.CONNECTION_WRITE),
        can_delete=row is not None and writable and access.allows(Action.CONNECTION_DELETE),
        can_test=row is not None and writable and access.allows(Action.CONNECTION_TEST),
        error=error,
    )
    return render(request, "connection_form.html", context, status=status)
