"""``GET /api/analytics``: data elements, ``de.coc`` operands and indicators summed over the
organisation unit hierarchy and periods, computed on the fly from the generated and imported
values (real DHIS2 reads analytics tables, so its imported data shows only after the next
analytics run; here it shows at once).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from joliba.dhis2.emulator import _periods
from joliba.dhis2.emulator.country import Country
from joliba.dhis2.emulator.ids import Obj
from joliba.dhis2.emulator.messages import error, json_response
from joliba.dhis2.emulator.values import Values

MAX_ROWS = 50_000
TERM = re.compile(r"#\{([A-Za-z][A-Za-z0-9]{10})(?:\.([A-Za-z][A-Za-z0-9]{10}))?\}")
HEADERS = {
    "dx": "Data",
    "co": "Category option combo",
    "ou": "Organisation unit",
    "pe": "Period",
}


class Invalid(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Query:
    dx: list[str] = field(default_factory=list)
    pe: list[_periods.Period] = field(default_factory=list)
    ou: list[Obj] = field(default_factory=list)
    co: bool = False
    order: list[str] = field(default_factory=list)
    filters: set[str] = field(default_factory=set)
    level: Obj | None = None


def _split(param: str) -> tuple[str, list[str]]:
    name, _, items = param.partition(":")
    return name, [i for i in items.split(";") if i]


def _resolve_ou(country: Country, items: list[str], query: Query) -> list[Obj]:
    roots = [country.by_id[i] for i in items if country.get("organisationUnits", i)]
    unknown = [
        i
        for i in items
        if not i.startswith(("LEVEL-", "USER_ORGUNIT", "OU_GROUP-"))
        and country.get("organisationUnits", i) is None
    ]
    if unknown:
        raise Invalid(
            f"Organisation unit or organisation unit level is not valid: `{unknown[0]}`", "E7143"
        )
    units: list[Obj] = []
    boundaries = roots or [country.root]
    levels = [i for i in items if i.startswith("LEVEL-")]
    for item in items:
        if item == "USER_ORGUNIT":
            units.append(country.root)
        elif item == "USER_ORGUNIT_CHILDREN":
            units += [country.by_id[c["id"]] for c in country.root["children"]]
        elif item.startswith("OU_GROUP-"):
            group = country.get("organisationUnitGroups", item[9:])
            if group is None:
                raise Invalid(f"Organisation unit group is not valid: `{item[9:]}`", "E7143")
            units += [country.by_id[m["id"]] for m in group["organisationUnits"]]
    for item in levels:
        try:
            number = int(item[6:])
        except ValueError:
            number = next(
                (
                    lv["level"]
                    for lv in country.collections["organisationUnitLevels"]
                    if lv["id"] == item[6:]
                ),
                0,
            )
        query.level = next(
            (lv for lv in country.collections["organisationUnitLevels"] if lv["level"] == number),
            None,
        )
        if query.level is None:
            raise Invalid(f"Organisation unit level is not valid: `{item}`", "E7143")
        for boundary in boundaries:
            units += [o for o in country.level(number) if o["path"].startswith(boundary["path"])]
    if not levels:
        units = roots + units
    return list({u["id"]: u for u in units}.values())


def _resolve_pe(items: list[str], values: Values) -> list[_periods.Period]:
    found: list[_periods.Period] = []
    for item in items:
        relative = _periods.relative(item, values.today)
        if relative is not None:
            found += relative
            continue
        period = _periods.parse(item)
        if period is None:
            raise Invalid(f"Period is not valid: `{item}`", "E7124")
        found.append(period)
    return list({p.id: p for p in found}.values())


def parse(request: Request, country: Country, values: Values) -> Query:
    query = Query()
    for kind, params in (
        ("dimension", request.query_params.getlist("dimension")),
        ("filter", request.query_params.getlist("filter")),
    ):
        for param in params:
            name, items = _split(param)
            if name == "co":
                query.co = kind == "dimension"
                if kind == "dimension":
                    query.order.append("co")
                continue
            if name not in ("dx", "pe", "ou"):
                raise Invalid(f"Dimension is not valid: `{name}`", "E7125")
            if kind == "dimension":
                query.order.append(name)
            else:
                query.filters.add(name)
            if name == "dx":
                query.dx += items
            elif name == "pe":
                query.pe += _resolve_pe(items, values)
            else:
                query.ou += _resolve_ou(country, items, query)
    if not query.dx:
        raise Invalid(
            "At least one data dimension item or data element group set dimension "
            "item must be specified when a data dimension is specified",
            "E7102",
        )
    if not query.pe:
        raise Invalid("Start and end date or at least one period must be specified", "E7104")
    if not query.ou:
        query.ou = [country.root]
    for item in query.dx:
        head = item.split(".")[0]
        if country.kind_of.get(head) not in ("dataElements", "indicators"):
            raise Invalid(f"Dimension item is not valid: `{item}`", "E7143")
    return query


class _Numbers:
    """The values a query needs, generated once per data element for all its facilities and
    periods (``Values.numbers``, in blocks), then looked up cell by cell."""

    def __init__(
        self,
        country: Country,
        values: Values,
        periods: list[_periods.Period],
        facilities: list[str],
    ) -> None:
        self.country = country
        self.values = values
        self.periods = periods
        self.facilities = facilities
        self._tables: dict[str, dict[tuple[str, str, str], float]] = {}
        self._base: dict[tuple[str, str], list[_periods.Period]] = {}

    def base(self, kind: str, period: _periods.Period) -> list[_periods.Period]:
        key = (kind, period.id)
        if key not in self._base:
            self._base[key] = _periods.base_periods(kind, period)
        return self._base[key]

    def of(self, de: str) -> dict[tuple[str, str, str], float]:
        """(facility, period id, coc) → value of ``de``."""
        if de not in self._tables:
            kind = self.country.period_type[de]
            wanted = {p.id: p for q in self.periods for p in self.base(kind, q)}
            self._tables[de] = self.values.numbers(de, list(wanted.values()), self.facilities)
        return self._tables[de]


def _sum(
    country: Country,
    numbers: _Numbers,
    de: str,
    coc: str | None,
    facilities: list[str],
    period: _periods.Period,
) -> float | None:
    kind = country.period_type.get(de)
    if kind is None:
        return None
    average = country.by_id[de]["aggregationType"] == "AVERAGE"
    base = numbers.base(kind, period)
    cocs = [coc] if coc else country.cocs_of(de)
    table = numbers.of(de)
    total, seen = 0.0, False
    for ou in facilities:
        reported = [
            number for pe in base for c in cocs if (number := table.get((ou, pe.id, c))) is not None
        ]
        if reported:
            seen = True
            total += sum(reported) / len(base) if average else sum(reported)
    return total if seen else None


def _indicator(
    country: Country,
    numbers: _Numbers,
    indicator: Obj,
    facilities: list[str],
    period: _periods.Period,
) -> float | None:
    def side(expression: str) -> float | None:
        terms = TERM.findall(expression)
        if not terms:
            try:
                return float(expression)
            except ValueError:
                return None
        parts = [_sum(country, numbers, de, coc or None, facilities, period) for de, coc in terms]
        known = [p for p in parts if p is not None]
        return sum(known) if known else None

    numerator = side(indicator["numerator"])
    denominator = side(indicator["denominator"])
    if numerator is None or not denominator:
        return None
    factor = float(country.by_id[indicator["indicatorType"]["id"]]["factor"])
    return numerator / denominator * factor


def _format(number: float) -> str:
    rounded = round(number, 1)
    return str(int(rounded)) if rounded == int(rounded) else str(rounded)


def _cells(
    country: Country, values: Values, query: Query
) -> Iterable[tuple[dict[str, str], float]]:
    ou_groups = [query.ou] if "ou" in query.filters else [[o] for o in query.ou]
    pe_groups = [query.pe] if "pe" in query.filters else [[p] for p in query.pe]
    facility_cache = {
        o["id"]: [f["id"] for f in country.facilities_under(o)]
        or ([o["id"]] if o["level"] == 4 else [])
        for o in query.ou
    }
    every_facility = list(dict.fromkeys(f for fs in facility_cache.values() for f in fs))
    numbers = _Numbers(country, values, query.pe, every_facility)
    for item in query.dx:
        head, _, coc = item.partition(".")
        obj = country.by_id[head]
        cocs: list[str | None] = [None]
        if query.co and country.kind_of[head] == "dataElements" and not coc:
            cocs = list(country.cocs_of(head))
        elif coc:
            cocs = [coc]
        for ous in ou_groups:
            facilities = list(dict.fromkeys(f for o in ous for f in facility_cache[o["id"]]))
            for pes in pe_groups:
                for each in cocs:
                    total: float | None = None
                    for period in pes:
                        if country.kind_of[head] == "indicators":
                            found = _indicator(country, numbers, obj, facilities, period)
                        else:
                            found = _sum(country, numbers, head, each, facilities, period)
                        if found is not None:
                            total = (total or 0.0) + found
                    if total is None:
                        continue
                    cell = {"dx": item, "ou": ous[0]["id"], "pe": pes[0].id}
                    if query.co and not coc:
                        if each is None:
                            continue
                        cell["co"] = each
                    yield cell, total


def get(request: Request, country: Country, values: Values, minor: int) -> Response:
    """The analytics answer, keys as the emulated version (``minor``, 39 for 2.39) has them."""
    try:
        query = parse(request, country, values)
    except Invalid as exc:
        return error(409, str(exc), exc.code)
    names = [n for n in query.order if n in HEADERS]
    # DHIS2 puts co right after dx
    if "co" in names:
        names.remove("co")
        names.insert(names.index("dx") + 1 if "dx" in names else 0, "co")
    ignore_limit = (request.query_params.get("ignoreLimit") or "").lower() == "true"
    rows: list[list[str]] = []
    for cell, total in _cells(country, values, query):
        rows.append([cell[n] for n in names] + [_format(total)])
        if len(rows) > MAX_ROWS and not ignore_limit:
            return error(409, f"Query result set exceeded max limit: `{MAX_ROWS}`", "E7128")
    headers: list[dict[str, Any]] = [
        {
            "name": n,
            "column": HEADERS[n],
            "valueType": "TEXT",
            "type": "java.lang.String",
            "hidden": False,
            "meta": True,
        }
        for n in names
    ]
    headers.append(
        {
            "name": "value",
            "column": "Value",
            "valueType": "NUMBER",
            "type": "java.lang.Double",
            "hidden": False,
            "meta": False,
        }
    )
    meta = _meta(country, query)
    width = len(headers)
    if minor <= 36:
        tail: dict[str, Any] = {"height": len(rows), "width": width, "headerWidth": width}
    elif minor == 37:
        tail = {"height": len(rows), "headerWidth": width, "width": width}
    else:
        tail = {"headerWidth": width, "width": width, "height": len(rows)}
    head: dict[str, Any] = {"headers": headers, "metaData": meta}
    if minor >= 38:  # rowContext appeared in 2.38
        head["rowContext"] = {}
    return json_response({**head, "rows": rows, **tail})


def _meta(country: Country, query: Query) -> dict[str, Any]:
    items: dict[str, Any] = {name: {"name": label} for name, label in HEADERS.items()}
    dx_ids = list(query.dx)
    co_ids: list[str] = []
    for item in query.dx:
        head, _, coc = item.partition(".")
        items[head] = {"name": country.by_id[head]["name"]}
        if coc:
            items[item] = {"name": f"{country.by_id[head]['name']} {country.by_id[coc]['name']}"}
        if query.co and country.kind_of[head] == "dataElements":
            co_ids += [c for c in country.cocs_of(head) if c not in co_ids]
    for coc_id in co_ids:
        items[coc_id] = {"name": country.by_id[coc_id]["name"]}
    for period in query.pe:
        items[period.id] = {"name": period.name}
    for unit in query.ou:
        items[unit["id"]] = {"name": unit["name"]}
    if query.level is not None:
        items[query.level["id"]] = {"uid": query.level["id"], "name": query.level["name"]}
    return {
        "items": items,
        "dimensions": {
            "dx": dx_ids,
            "pe": [p.id for p in query.pe],
            "ou": [o["id"] for o in query.ou],
            "co": co_ids,
        },
    }
