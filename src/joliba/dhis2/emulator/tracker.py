"""Tracker export, ``/api/tracker/events`` and ``/api/tracker/trackedEntities``: malaria cases
computed from the seed (a few a month per facility), with the paging envelope of the emulated
version: ``instances`` with flat ``page``/``pageSize`` up to 2.40, ``pager`` and a collection
named after the resource from 2.41.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from joliba.dhis2.emulator import _periods
from joliba.dhis2.emulator.ids import DEFAULT_COC, Obj, uid
from joliba.dhis2.emulator.messages import error, json_response

if TYPE_CHECKING:
    from joliba.dhis2.emulator.app import Emulator

SPECIES = ["P. falciparum", "P. vivax", "P. malariae", "Mixed"]


def _n(seed: int, *parts: object) -> int:
    digest = hashlib.blake2b(repr((seed, *parts)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def _program(emulator: Emulator, kind: str) -> Obj:
    return next(p for p in emulator.country.collections["programs"] if p["programType"] == kind)


def _scope(request: Request, emulator: Emulator) -> list[str] | Response:
    params = request.query_params
    raw = params.get("orgUnits") or params.get("orgUnit") or ""
    mode = (params.get("orgUnitMode") or params.get("ouMode") or "").upper()
    country = emulator.country
    if mode in ("ALL", "ACCESSIBLE", "CAPTURE"):
        return [f["id"] for f in country.level(4)]
    if not raw:
        return error(409, "Either `orgUnits` or `orgUnitMode` ALL needs to be specified", "E1003")
    found: list[str] = []
    for identifier in raw.replace(";", ",").split(","):
        unit = country.get("organisationUnits", identifier)
        if unit is None:
            return error(400, f"Organisation unit does not exist: `{identifier}`")
        if mode == "SELECTED" or (mode == "" and unit["level"] == 4):
            found.append(identifier)
        else:
            found += [f["id"] for f in country.facilities_under(unit)]
    return found


def _months(emulator: Emulator) -> list[_periods.Period]:
    today = emulator.values.today
    start = date(emulator.values.first_year, 1, 1)
    return _periods.periods_between("Monthly", start, today.replace(day=1) - timedelta(days=1))


def _cases(emulator: Emulator, facilities: list[str]) -> Iterator[tuple[str, str, date, int]]:
    seed = emulator.country.seed
    for ou in facilities:
        for month in _months(emulator):
            for k in range(_n(seed, "cases", ou, month.id) % 3):
                day = month.start + timedelta(days=_n(seed, "day", ou, month.id, k) % 28)
                yield ou, month.id, day, k


def _event(
    emulator: Emulator, program: Obj, ou: str, month: str, day: date, k: int, tei: str | None
) -> dict[str, Any]:
    seed = emulator.country.seed
    stage = program["programStages"][0]["id"]
    stamp = f"{day.isoformat()}T10:00:00.000"
    species_de = uid(seed, "de", "tracker Malaria species")
    return {
        "event": uid(seed, "event", program["id"], ou, month, k),
        "status": "COMPLETED",
        "program": program["id"],
        "programStage": stage,
        "enrollment": uid(seed, "enrollment", ou, month, k) if tei else None,
        "trackedEntity": tei,
        "orgUnit": ou,
        "occurredAt": stamp,
        "scheduledAt": stamp,
        "followUp": False,
        "deleted": False,
        "createdAt": stamp,
        "updatedAt": stamp,
        "attributeOptionCombo": DEFAULT_COC,
        "attributeCategoryOptions": "xYerKDKCefk",
        "dataValues": [
            {
                "dataElement": species_de,
                "value": SPECIES[_n(seed, "species", ou, month, k) % len(SPECIES)],
                "createdAt": stamp,
                "updatedAt": stamp,
                "storedBy": "admin",
                "providedElsewhere": False,
            }
        ],
        "notes": [],
    }


def _page(request: Request, emulator: Emulator, name: str, items: list[dict[str, Any]]) -> Response:
    params = request.query_params
    try:
        page = max(1, int(params.get("page", "1")))
        page_size = max(1, int(params.get("pageSize", "50")))
    except ValueError:
        return error(400, "page and pageSize must be numbers")
    unpaged = (params.get("paging") or "").lower() == "false" or (
        params.get("skipPaging") or ""
    ).lower() == "true"
    totals = (params.get("totalPages") or "").lower() == "true"
    chosen = items if unpaged else items[(page - 1) * page_size : page * page_size]
    paging: dict[str, Any] = {"page": page, "pageSize": page_size}
    if totals:
        paging["total"] = len(items)
        paging["pageCount"] = max(1, -(-len(items) // page_size))
    if emulator.minor >= 41:
        body: dict[str, Any] = {} if unpaged else {"pager": paging}
        body[name] = chosen
        return json_response(body)
    return json_response({**({} if unpaged else paging), "instances": chosen})


def events(request: Request, emulator: Emulator) -> Response:
    scope = _scope(request, emulator)
    if isinstance(scope, Response):
        return scope
    program_id = request.query_params.get("program")
    programs = emulator.country.collections["programs"]
    if program_id and not any(p["id"] == program_id for p in programs):
        return error(400, f"Program is specified but does not exist: `{program_id}`")
    program = (
        next(p for p in programs if p["id"] == program_id)
        if program_id
        else _program(emulator, "WITHOUT_REGISTRATION")
    )
    registered = program["programType"] == "WITH_REGISTRATION"
    seed = emulator.country.seed
    after = request.query_params.get("occurredAfter")
    before = request.query_params.get("occurredBefore")
    items = []
    for ou, month, day, k in _cases(emulator, scope):
        if (after and day.isoformat() < after[:10]) or (before and day.isoformat() > before[:10]):
            continue
        tei = uid(seed, "tei", ou, month, k) if registered else None
        items.append(_event(emulator, program, ou, month, day, k, tei))
    return _page(request, emulator, "events", items)


def tracked_entities(request: Request, emulator: Emulator) -> Response:
    params = request.query_params
    if not (params.get("program") or params.get("trackedEntityType")):
        return error(409, "Either Program or Tracked entity type should be specified", "E1003")
    scope = _scope(request, emulator)
    if isinstance(scope, Response):
        return scope
    program = _program(emulator, "WITH_REGISTRATION")
    seed = emulator.country.seed
    items = []
    for ou, month, day, k in _cases(emulator, scope):
        stamp = f"{day.isoformat()}T10:00:00.000"
        items.append(
            {
                "trackedEntity": uid(seed, "tei", ou, month, k),
                "trackedEntityType": program["trackedEntityType"]["id"],
                "orgUnit": ou,
                "createdAt": stamp,
                "updatedAt": stamp,
                "inactive": False,
                "deleted": False,
                "potentialDuplicate": False,
                "attributes": [],
                "enrollments": [],
            }
        )
    return _page(request, emulator, "trackedEntities", items)
