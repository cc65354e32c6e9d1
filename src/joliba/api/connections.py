"""Workspace connections: typed fields, write-only secrets, and a test action."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from joliba.db.tables import Connection as ConnectionRow
from joliba.domain.connections import FIELDS
from joliba.domain.permissions import Action
from joliba.http.deps import ActorDep, Paging, PlatformDep, ReadDB, WriteDB, page_of, require
from joliba.schemas.common import Page
from joliba.schemas.connections import (
    Connection,
    ConnectionCreate,
    ConnectionEdited,
    ConnectionField,
    ConnectionTest,
    ConnectionType,
    ConnectionUpdate,
    DHIS2Item,
    DHIS2Items,
)
from joliba.services import connections, dhis2_lookups
from joliba.services.platform import Platform
from joliba.services.workspaces import Access

router = APIRouter(tags=["connections"])
ReadAccess = Annotated[Access, Depends(require(Action.CONNECTION_READ))]
WriteAccess = Annotated[Access, Depends(require(Action.CONNECTION_WRITE))]


def connection_out(row: ConnectionRow) -> Connection:
    shown = connections.view(row)
    return Connection(
        id=row.id,
        slug=row.slug,
        name=row.name,
        type=row.type,
        description=row.description,
        fields=shown.fields,
        secret_fields=shown.secret_fields,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.get(
    "/connection-types", response_model=list[ConnectionType], summary="Connection types and fields"
)
def connection_types(actor: ActorDep) -> list[ConnectionType]:
    return [
        ConnectionType(
            type=kind.value, fields=[ConnectionField.model_validate(asdict(f)) for f in specs]
        )
        for kind, specs in FIELDS.items()
    ]


@router.get("/workspaces/{ws}/connections", response_model=Page[Connection], summary="Connections")
def list_connections(access: ReadAccess, session: ReadDB, page: Paging) -> Page[Connection]:
    rows, total = connections.list_for(session, access, page)
    return page_of([connection_out(c) for c in rows], page, total)


@router.post(
    "/workspaces/{ws}/connections",
    status_code=201,
    response_model=Connection,
    summary="Create a connection",
)
def create_connection(
    body: ConnectionCreate, access: WriteAccess, session: WriteDB, platform: PlatformDep
) -> Connection:
    row = connections.create(
        session,
        access,
        platform.box,
        type=body.type,
        name=body.name,
        slug=body.slug,
        description=body.description,
        fields=body.fields,
        secret_fields=body.secret_fields,
    )
    return connection_out(row)


@router.get(
    "/workspaces/{ws}/connections/{slug}", response_model=Connection, summary="One connection"
)
def get_connection(slug: str, access: ReadAccess, session: ReadDB) -> Connection:
    return connection_out(connections.get(session, access, slug))


@router.patch(
    "/workspaces/{ws}/connections/{slug}",
    response_model=ConnectionEdited,
    summary="Edit a connection",
)
def update_connection(
    slug: str,
    body: ConnectionUpdate,
    access: WriteAccess,
    session: WriteDB,
    platform: PlatformDep,
) -> ConnectionEdited:
    edited = connections.edit(
        session,
        access,
        platform.box,
        slug,
        name=body.name,
        description=body.description,
        fields=body.fields,
        secret_fields=body.secret_fields,
    )
    return ConnectionEdited(
        **connection_out(edited.connection).model_dump(),
        cleared_secret_fields=edited.cleared,
        notice=edited.notice,
    )


@router.delete(
    "/workspaces/{ws}/connections/{slug}", status_code=204, summary="Delete a connection"
)
def delete_connection(
    slug: str,
    access: Annotated[Access, Depends(require(Action.CONNECTION_DELETE))],
    session: WriteDB,
) -> Response:
    connections.delete(session, access, slug)
    return Response(status_code=204)


@router.post(
    "/workspaces/{ws}/connections/{slug}/test",
    response_model=ConnectionTest,
    summary="Test a connection",
)
async def test_connection(
    slug: str,
    access: Annotated[Access, Depends(require(Action.CONNECTION_TEST, write=False))],
    session: ReadDB,
    platform: PlatformDep,
) -> ConnectionTest:
    # The remote check can take seconds: no transaction stays open while it runs, and it
    # runs in the platform's outbound pool (a few at a time, a deadline each), so that
    # silent servers never hold the event loop or the threads that serve other requests.
    request = await run_in_threadpool(_prepare_test, session, access, platform, slug)
    result = await platform.outbound.run(lambda: platform.checker.check(*request.args()))
    await run_in_threadpool(_record_test, platform, access, slug, result.ok)
    return ConnectionTest(ok=result.ok, message=result.message)


def _prepare_test(
    session: Session, access: Access, platform: Platform, slug: str
) -> connections.TestRequest:
    try:
        return connections.prepare_test(session, access, platform.box, slug)
    finally:
        session.close()


def _record_test(platform: Platform, access: Access, slug: str, ok: bool) -> None:
    with platform.db.transaction() as session:
        connections.record_test(session, access, slug, ok=ok)


@router.get(
    "/workspaces/{ws}/connections/{slug}/dhis2/{collection}",
    response_model=DHIS2Items,
    response_model_exclude_none=True,
    summary="Search a DHIS2 connection (run-form pickers)",
)
async def search_dhis2(
    slug: str,
    collection: str,
    # Those who may start runs may browse what a run could be given.
    access: Annotated[Access, Depends(require(Action.PIPELINE_RUN, write=False))],
    session: ReadDB,
    platform: PlatformDep,
    q: Annotated[str, Query(max_length=200, description="Words of the name, or an id")] = "",
    limit: Annotated[int, Query(ge=1, le=dhis2_lookups.MAX_LIMIT)] = 20,
    ids: Annotated[
        list[str] | None, Query(description="These items instead of a search (repeatable)")
    ] = None,
) -> DHIS2Items:
    # DHIS2 may take seconds: no transaction stays open meanwhile, and the search runs in
    # the platform's outbound pool, like connection tests.
    request = await run_in_threadpool(_prepare_lookup, session, access, platform, slug, collection)
    items = await platform.dhis2_lookups.find(
        platform.outbound, request, q=q, limit=limit, ids=ids or []
    )
    return DHIS2Items(items=[DHIS2Item.model_validate(asdict(item)) for item in items])


def _prepare_lookup(
    session: Session, access: Access, platform: Platform, slug: str, collection: str
) -> dhis2_lookups.LookupRequest:
    try:
        return dhis2_lookups.prepare(session, access, platform.box, slug, collection)
    finally:
        session.close()
