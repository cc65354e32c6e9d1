"""The run form's DHIS2 pickers: an HTMX fragment listing what a search found, with checkboxes.

A parameter declared with ``widget="dhis2.data_elements", connection="source"`` shows a
search box; each search sends the box, the ids ticked so far (``p.<code>``) and the chosen
connection (``p.<source>``) here, and gets back the ticked items first, then the matches.
The ticked boxes are ordinary form fields, so the run form posts them as the value. The JSON
twin is ``GET /api/v1/workspaces/{ws}/connections/{slug}/dhis2/{collection}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from joliba.domain.errors import BadGateway, Invalid, NotFound
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.services import dhis2_lookups, pipelines, runs, units
from joliba.services.actors import Actor
from joliba.services.dhis2_lookups import Item, LookupRequest
from joliba.services.platform import Platform
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.pipeline_pages import PREFIX
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
#: Matches listed under the ticked items.
LIMIT = 20


@dataclass(frozen=True)
class Option:
    item: Item
    picked: bool


@dataclass
class Picker:
    """What ``_dhis2_options.html`` draws."""

    name: str
    multiple: bool
    required: bool
    options: list[Option] = field(default_factory=list)
    hint: str = ""
    error: str = ""


@router.get("/w/{ws}/pipelines/{code}/pickers/{param}")
async def picker_options(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    code: str,
    param: str,
    version: Annotated[int | None, Query(ge=1)] = None,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    picked = [v.strip() for v in request.query_params.getlist(PREFIX + param) if v.strip()]
    picker, lookup = await run_in_threadpool(
        _prepare, request, platform, actor, ws, code, param, version
    )
    status = 200
    found: list[Item] = []
    names: dict[str, Item] = {}
    if lookup is not None:
        # DHIS2 may take seconds: no database session stays open meanwhile, and the search
        # runs in the platform's outbound pool, never in the threads that serve pages.
        lookups, pool = platform.dhis2_lookups, platform.outbound
        try:
            found = await lookups.find(pool, lookup, q=q, limit=LIMIT)
            if picked:
                names = {i.id: i for i in await lookups.find(pool, lookup, ids=picked)}
        except (BadGateway, Invalid) as exc:
            picker.error = exc.message
            status = 502 if isinstance(exc, BadGateway) else 400
    # The ticked items stay first (and ticked) whatever the search, so no pick is lost.
    picker.options = [Option(names.get(i) or Item(id=i, name=i), True) for i in picked]
    ticked = set(picked)
    picker.options += [Option(item, False) for item in found if item.id not in ticked]
    return render(request, "_dhis2_options.html", {"picker": picker}, status=status)


def _prepare(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    code: str,
    param: str,
    version: int | None,
) -> tuple[Picker, LookupRequest | None]:
    lookup: LookupRequest | None = None
    with units.work(platform.db, actor, ws, Action.PIPELINE_RUN) as (session, access):
        pipeline = pipelines.get(session, access, code)
        specs = runs.specs_of(pipelines.get_version(session, pipeline, version))
        spec = next((s for s in specs if s.code == param), None)
        if spec is None or spec.dhis2_collection is None or spec.connection is None:
            raise NotFound(f"pipeline '{code}' has no DHIS2 picker '{param}'")
        picker = Picker(name=PREFIX + param, multiple=spec.multiple, required=spec.required)
        slug = request.query_params.get(PREFIX + spec.connection, "").strip()
        if not slug:
            picker.hint = f"Choose the DHIS2 connection ({spec.connection}) to search it."
        else:
            try:
                lookup = dhis2_lookups.prepare(
                    session, access, platform.box, slug, spec.dhis2_collection
                )
            except (Invalid, NotFound) as exc:
                picker.error = exc.message
    return picker, lookup
