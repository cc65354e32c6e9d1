"""Tracker data (``/api/tracker/events``, ``/api/tracker/trackedEntities``) as Polars tables.

DHIS2 changed the tracker API's shape in 2.41: up to 2.40 an answer is ``instances`` with flat
``page``/``pageSize``/``total``/``pageCount`` and the scope is ``ouMode`` and ``orgUnit`` (a
semicolon list for tracked entities); from 2.41 it is ``pager{…}`` with a collection named
after the resource, and ``orgUnitMode`` and ``orgUnits`` (a comma list). Requests are made in
the server's dialect; answers are read in either shape, whatever the version says. Events take
one organisation unit per request in every version, so several units are several queries.

The first page asks for totals (``totalPages=true``); when the answer has them the other pages
are read in parallel, otherwise page after page until a short or empty one. Items are kept
once each, in the order read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from typing import Any

import polars as pl

from joliba.dhis2.http import DHIS2Error, Http

EVENT_FIELDS = (
    "event,status,program,programStage,enrollment,trackedEntity,orgUnit,occurredAt,"
    "scheduledAt,followUp,deleted,createdAt,updatedAt,attributeOptionCombo,geometry,"
    "dataValues[dataElement,value]"
)
EVENT_COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("event", "event", pl.String),
    ("status", "status", pl.String),
    ("program", "program", pl.String),
    ("program_stage", "programStage", pl.String),
    ("enrollment", "enrollment", pl.String),
    ("tracked_entity", "trackedEntity", pl.String),
    ("org_unit", "orgUnit", pl.String),
    ("occurred_at", "occurredAt", pl.String),
    ("scheduled_at", "scheduledAt", pl.String),
    ("created_at", "createdAt", pl.String),
    ("updated_at", "updatedAt", pl.String),
    ("follow_up", "followUp", pl.Boolean),
    ("deleted", "deleted", pl.Boolean),
    ("attribute_option_combo", "attributeOptionCombo", pl.String),
    ("geometry", "geometry", pl.String),
)
ENTITY_FIELDS = (
    "trackedEntity,trackedEntityType,orgUnit,createdAt,updatedAt,inactive,deleted,"
    "potentialDuplicate,geometry,attributes[attribute,value]"
)
ENTITY_COLUMNS: tuple[tuple[str, str, Any], ...] = (
    ("tracked_entity", "trackedEntity", pl.String),
    ("tracked_entity_type", "trackedEntityType", pl.String),
    ("org_unit", "orgUnit", pl.String),
    ("created_at", "createdAt", pl.String),
    ("updated_at", "updatedAt", pl.String),
    ("inactive", "inactive", pl.Boolean),
    ("deleted", "deleted", pl.Boolean),
    ("potential_duplicate", "potentialDuplicate", pl.Boolean),
    ("geometry", "geometry", pl.String),
)
# Modes that need organisation units; without any, ACCESSIBLE (all the user may see) is asked.
NEEDS_UNITS = frozenset({"SELECTED", "CHILDREN", "DESCENDANTS"})
MODERN = 41  # the first API version with pager{} and orgUnitMode/orgUnits


def _when(value: date | datetime | str | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def _mode(org_units: Sequence[str], mode: str) -> str:
    chosen = mode.upper()
    return "ACCESSIBLE" if not org_units and chosen in NEEDS_UNITS else chosen


def _units(org_units: str | Sequence[str]) -> list[str]:
    items = [org_units] if isinstance(org_units, str) else list(org_units)
    return list(dict.fromkeys(str(i) for i in items if i))


class Pages:
    """Every item of a tracker collection, read in pages."""

    def __init__(self, http: Http, *, max_parallel: int = 4) -> None:
        self.http = http
        self.max_parallel = max(1, max_parallel)

    def read(
        self, endpoint: str, name: str, key: str, params: list[tuple[str, Any]], page_size: int
    ) -> list[dict[str, Any]]:
        size = max(1, int(page_size))
        base = [*params, ("pageSize", size)]
        first = self.http.get(endpoint, [*base, ("page", 1), ("totalPages", "true")])
        items, paging = envelope(first, name)
        found = list(items)
        count = int(paging.get("pageCount") or 0)
        if not count and paging.get("total") is not None:
            count = -(-int(paging["total"]) // size)
        if len(items) > size:
            pass  # the server did not page: everything came at once
        elif count:
            with ThreadPoolExecutor(max_workers=self.max_parallel) as pool:
                answers = pool.map(
                    lambda page: self.http.get(endpoint, [*base, ("page", page)]),
                    range(2, count + 1),
                )
                for answer in answers:
                    found += envelope(answer, name)[0]
        else:
            seen = {item.get(key) for item in items}
            page, last = 1, items
            while len(last) >= size:
                page += 1
                last = envelope(self.http.get(endpoint, [*base, ("page", page)]), name)[0]
                if last and all(item.get(key) in seen for item in last):
                    break  # the server ignores page: nothing new will come
                seen |= {item.get(key) for item in last}
                found += last
        return _unique(found, key)


def envelope(answer: Any, name: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The items and paging of a tracker answer of either shape."""
    if not isinstance(answer, dict):
        raise DHIS2Error(0, f"DHIS2's tracker answer for {name} is not a JSON object")
    items = answer.get(name)
    if not isinstance(items, list):
        items = answer.get("instances")
    if not isinstance(items, list):
        raise DHIS2Error(0, f"DHIS2's tracker answer has neither '{name}' nor 'instances'")
    pager = answer.get("pager")
    paging = (
        dict(pager)
        if isinstance(pager, dict)
        else {k: answer[k] for k in ("page", "pageSize", "total", "pageCount") if k in answer}
    )
    return [i for i in items if isinstance(i, dict)], paging


def _unique(items: Iterable[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    kept: dict[Any, dict[str, Any]] = {}
    for item in items:
        kept.setdefault(item.get(key), item)
    return list(kept.values())


def _frame(
    items: list[dict[str, Any]],
    columns: tuple[tuple[str, str, Any], ...],
    values_key: str,
    id_key: str,
) -> pl.DataFrame:
    """Fixed columns, then one text column per data element or attribute (sorted by id)."""
    data: dict[str, list[Any]] = {name: [] for name, _source, _dtype in columns}
    pivot: list[dict[str, str | None]] = []
    extra: set[str] = set()
    for item in items:
        for name, source, _dtype in columns:
            value = item.get(source)
            if source == "geometry" and value is not None:
                value = json.dumps(value, separators=(",", ":"))
            data[name].append(value)
        values = {
            str(v[id_key]): None if v.get("value") is None else str(v["value"])
            for v in item.get(values_key) or []
            if isinstance(v, dict) and v.get(id_key)
        }
        extra |= set(values)
        pivot.append(values)
    schema = {name: dtype for name, _source, dtype in columns}
    for ident in sorted(extra):
        data[ident] = [values.get(ident) for values in pivot]
        schema[ident] = pl.String
    return pl.DataFrame(data, schema=schema)


def read_events(
    http: Http,
    version: int,
    *,
    program: str,
    org_units: str | Sequence[str] = (),
    org_unit_mode: str = "DESCENDANTS",
    program_stage: str | None = None,
    occurred_after: date | datetime | str | None = None,
    occurred_before: date | datetime | str | None = None,
    updated_after: date | datetime | str | None = None,
    page_size: int = 1000,
    max_parallel: int = 4,
) -> pl.DataFrame:
    units = _units(org_units)
    mode = _mode(units, org_unit_mode)
    mode_key = "orgUnitMode" if version >= MODERN else "ouMode"
    common: list[tuple[str, Any]] = [("program", program), ("fields", EVENT_FIELDS)]
    optional = {
        "programStage": program_stage,
        "occurredAfter": _when(occurred_after),
        "occurredBefore": _when(occurred_before),
        "updatedAfter": _when(updated_after),
    }
    common += [(k, v) for k, v in optional.items() if v is not None]
    scopes = [[("orgUnit", u), (mode_key, mode)] for u in units] or [[(mode_key, mode)]]
    pages = Pages(http, max_parallel=max_parallel)
    items = [
        item
        for scope in scopes
        for item in pages.read("tracker/events", "events", "event", [*common, *scope], page_size)
    ]
    return _frame(_unique(items, "event"), EVENT_COLUMNS, "dataValues", "dataElement")


def read_tracked_entities(
    http: Http,
    version: int,
    *,
    program: str | None = None,
    tracked_entity_type: str | None = None,
    org_units: str | Sequence[str] = (),
    org_unit_mode: str = "DESCENDANTS",
    updated_after: date | datetime | str | None = None,
    page_size: int = 1000,
    max_parallel: int = 4,
) -> pl.DataFrame:
    if not program and not tracked_entity_type:
        raise ValueError("tracked_entities needs a program or a tracked_entity_type")
    units = _units(org_units)
    mode = _mode(units, org_unit_mode)
    params: list[tuple[str, Any]] = [("fields", ENTITY_FIELDS)]
    if program:
        params.append(("program", program))
    if tracked_entity_type:
        params.append(("trackedEntityType", tracked_entity_type))
    if updated_after is not None:
        params.append(("updatedAfter", _when(updated_after)))
    if version >= MODERN:
        params += [("orgUnitMode", mode)] + ([("orgUnits", ",".join(units))] if units else [])
    else:
        params += [("ouMode", mode)] + ([("orgUnit", ";".join(units))] if units else [])
    items = Pages(http, max_parallel=max_parallel).read(
        "tracker/trackedEntities", "trackedEntities", "trackedEntity", params, page_size
    )
    return _frame(items, ENTITY_COLUMNS, "attributes", "attribute")
