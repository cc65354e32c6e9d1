"""``GET /api/dataValueSets`` (JSON or CSV, streamed, values computed on demand) and
``POST /api/dataValueSets`` (JSON import into the emulator's memory, with DHIS2's conflicts).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from joliba.dhis2.emulator import _periods, value_stream
from joliba.dhis2.emulator.country import Country
from joliba.dhis2.emulator.faults import Faults
from joliba.dhis2.emulator.ids import DEFAULT_COC
from joliba.dhis2.emulator.messages import MEDIA_TYPE, error, json_response, web_message
from joliba.dhis2.emulator.values import DataValue, Values, timestamp

NUMERIC = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
INTEGER = re.compile(r"^[+-]?\d+$")
STRATEGIES = (
    "CREATE",
    "UPDATE",
    "CREATE_AND_UPDATE",
    "DELETE",
    "NEW_AND_UPDATES",
    "NEW",
    "UPDATES",
    "DELETES",
)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() == "true"


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


#: DHIS2's ``lastUpdatedDuration`` (``DateUtils.getDuration``): a number of days, hours,
#: minutes or seconds.
DURATION = re.compile(r"^(\d+)([dhms])$")
DURATION_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def _refusal(params: QueryParams, country: Country) -> Response | None:
    """DHIS2's checks of a dataValueSets query (``DataValueSetService.validate``), in its
    order; as there, when several fail the last one is reported. Unknown org unit groups
    count as not given, as DHIS2 drops identifiers it does not find."""
    groups = [g for g in params.getlist("orgUnitGroup") if country.get("organisationUnitGroups", g)]
    children = _truthy(params.get("children"))
    duration = params.get("lastUpdatedDuration")
    start, end = _date(params.get("startDate") or ""), _date(params.get("endDate") or "")
    checks = [
        (
            not (params.getlist("dataSet") or params.getlist("dataElementGroup"))
            and not params.getlist("dataElement"),
            "E2001",
            "At least one data element, data set or data element group must be specified",
        ),
        (
            not (
                params.getlist("period")
                or (params.get("startDate") and params.get("endDate"))
                or params.get("lastUpdated")
                or duration
            ),
            "E2002",
            "At least one period, start/end dates, last updated or last updated "
            "duration must be specified",
        ),
        (
            not params.getlist("period") and bool(start and end and start > end),
            "E2004",
            "Start date must be before end date",
        ),
        (
            bool(duration) and not DURATION.match(duration or ""),
            "E2005",
            f"Duration is not valid: `{duration}`",
        ),
        (
            not (params.getlist("orgUnit") or groups),
            "E2006",
            "At least one organisation unit or organisation unit group must be specified",
        ),
        (
            children and bool(groups),
            "E2007",
            "Organisation unit children cannot be included for organisation unit groups",
        ),
        (
            children and not params.getlist("orgUnit"),
            "E2008",
            "At least one organisation unit must be specified when children are included",
        ),
    ]
    failed = [(code, message) for broken, code, message in checks if broken]
    if not failed:
        return None
    code, message = failed[-1]
    return error(409, message, code)


def _since(params: QueryParams) -> str:
    """The oldest ``lastUpdated`` asked for, as the values' stamps write it (UTC): given, or
    counted back from now by ``lastUpdatedDuration``; ``lastUpdated`` wins, as in DHIS2."""
    if params.get("lastUpdated"):
        return params["lastUpdated"]
    found = DURATION.match(params.get("lastUpdatedDuration") or "")
    if not found:
        return ""
    back = timedelta(**{DURATION_UNITS[found.group(2)]: int(found.group(1))})
    return timestamp(datetime.now(UTC) - back)[:23]


def get(request: Request, country: Country, values: Values) -> Response:
    params = request.query_params
    refused = _refusal(params, country)
    if refused is not None:
        return refused
    data_sets = params.getlist("dataSet")
    groups = params.getlist("dataElementGroup")
    elements = params.getlist("dataElement")
    periods_asked = params.getlist("period")
    start, end = params.get("startDate"), params.get("endDate")
    org_units = list(dict.fromkeys(params.getlist("orgUnit")))

    des: list[str] = []
    for identifier in data_sets:
        data_set = country.get("dataSets", identifier)
        if data_set is None:
            return error(409, f"Data set does not exist: `{identifier}`", "E2013")
        des += country.data_elements_of(data_set)
    for identifier in groups:
        group = country.get("dataElementGroups", identifier)
        if group is None:
            return error(409, f"Data element group does not exist: `{identifier}`", "E2014")
        des += [m["id"] for m in group["dataElements"]]
    for identifier in elements:
        if country.get("dataElements", identifier) is None:
            return error(409, f"Data element does not exist: `{identifier}`", "E2015")
        des.append(identifier)
    des = list(dict.fromkeys(des))

    periods: list[_periods.Period] = []
    if periods_asked:
        for text in periods_asked:
            period = _periods.parse(text)
            if period is None:
                return error(409, f"Period does not exist: `{text}`", "E2016")
            periods.append(period)
    else:
        first = _date(start) if start and end else date(values.first_year, 1, 1)
        last = _date(end) if start and end else values.today
        if first is None or last is None:
            return error(409, "Start date and end date must be dates", "E2003")
        types = sorted({country.period_type[d] for d in des if d in country.period_type})
        for kind in types:
            periods += _periods.periods_between(kind, first, last)

    units: list[str] = []
    children = _truthy(params.get("children"))
    for identifier in org_units:
        unit = country.get("organisationUnits", identifier)
        if unit is None:
            return error(409, f"Organisation unit does not exist: `{identifier}`", "E2017")
        if children:
            units += [f["id"] for f in country.facilities_under(unit)]
            if unit["level"] < 4:
                units.append(identifier)
        else:
            units.append(identifier)
    # the units asked and the groups' members, each once (unknown groups are ignored)
    for identifier in params.getlist("orgUnitGroup"):
        group = country.get("organisationUnitGroups", identifier)
        units += [m["id"] for m in group["organisationUnits"]] if group else []
    units = list(dict.fromkeys(units))

    # Unknown attribute option combos are dropped; with none left, DHIS2 filters nothing.
    combos = frozenset(
        c for c in params.getlist("attributeOptionCombo") if country.get("categoryOptionCombos", c)
    )
    include_deleted = _truthy(params.get("includeDeleted"))
    since = _since(params)
    limit = int(params["limit"]) if params.get("limit") else None
    blocks = values.blocks(
        des, periods, units, include_deleted=include_deleted, attribute_combos=combos or None
    )
    if _wants_csv(request):
        body = value_stream.csv_body(blocks, limit=limit, since=since)
        return StreamingResponse(body, media_type=value_stream.CSV_MEDIA_TYPE)
    header: dict[str, Any] = {}
    # DHIS2's DataExportParams.isSingleDataValueSet: one data set, period and org unit (and
    # no data element group), whatever else is asked
    single = len(set(data_sets)) == len(set(periods_asked)) == len(org_units) == 1
    if single and not groups:
        header = {
            "dataSet": data_sets[0],
            "completeDate": f"{periods[0].end}T00:00:00.000+0000",
            "period": periods[0].id,
            "orgUnit": org_units[0],
        }
    # a plain iterator: Starlette runs each block in a worker thread, off the event loop
    body = value_stream.json_body(header, blocks, limit=limit, since=since)
    return StreamingResponse(body, media_type=MEDIA_TYPE)


def _wants_csv(request: Request) -> bool:
    """``/api/dataValueSets.csv``, ``format=csv`` or ``Accept: application/csv``."""
    if request.url.path.endswith(".csv") or request.query_params.get("format") == "csv":
        return True
    accept = request.headers.get("accept", "")
    first = accept.split(",")[0].split(";")[0].strip().lower()
    return first == value_stream.CSV_MEDIA_TYPE


# ---------------------------------------------------------------------------------------------
# import


class _Conflicts:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(
        self, index: int, code: str, obj: str, message: str, prop: str, objects: dict[str, str]
    ) -> None:
        key = (code, obj, message)  # merged only when identical: the message fits every index
        if key in self.items:
            self.items[key]["indexes"].append(index)
            return
        self.items[key] = {
            "object": obj,
            "objects": objects,
            "value": message,
            "errorCode": code,
            "property": prop,
            "indexes": [index],
        }


def _check(
    country: Country, values: Values, row: dict[str, Any], index: int, conflicts: _Conflicts
) -> DataValue | None:
    de = str(row.get("dataElement") or "")
    pe = str(row.get("period") or "")
    ou = str(row.get("orgUnit") or "")
    coc = str(row.get("categoryOptionCombo") or DEFAULT_COC)
    aoc = str(row.get("attributeOptionCombo") or DEFAULT_COC)
    element = country.get("dataElements", de)
    if element is None:
        conflicts.add(
            index,
            "E7610",
            de,
            f"Data element not found or not accessible: `{de}`",
            "dataElement",
            {"dataElement": de},
        )
        return None
    period = _periods.parse(pe)
    if period is None:
        conflicts.add(index, "E7611", pe, f"Period not valid: `{pe}`", "period", {"period": pe})
        return None
    if country.get("organisationUnits", ou) is None:
        conflicts.add(
            index,
            "E7612",
            ou,
            f"Organisation unit not found or not accessible: `{ou}`",
            "orgUnit",
            {"organisationUnit": ou},
        )
        return None
    if coc not in country.cocs_of(de):
        conflicts.add(
            index,
            "E7613",
            coc,
            f"Category option combo not found or not accessible for writing data: `{coc}`",
            "categoryOptionCombo",
            {"categoryOptionCombo": coc},
        )
        return None
    # as for the category option combo, only those the element's data sets are entered with
    if aoc not in country.attribute_option_combos_of(de):
        conflicts.add(
            index,
            "E7615",
            aoc,
            f"Attribute option combo not found or not accessible for writing data: `{aoc}`",
            "attributeOptionCombo",
            {"attributeOptionCombo": aoc},
        )
        return None
    expected = country.period_type.get(de)
    if expected and period.type != expected:
        conflicts.add(
            index,
            "E7632",
            pe,
            f"Period type of period: `{pe}` not valid for data element: `{de}`",
            "period",
            {"period": pe, "dataElement": de},
        )
        return None
    raw = row.get("value")
    value = "" if raw is None else str(raw)
    comment = str(row.get("comment") or "")
    if not value and not comment and not row.get("deleted"):
        conflicts.add(
            index,
            "E7618",
            de,
            f"Data value or comment not specified for data element: `{de}`",
            "value",
            {"dataElement": de},
        )
        return None
    value_type = element["valueType"]
    if value and value_type.startswith(("INTEGER", "NUMBER", "PERCENTAGE")):
        pattern = INTEGER if value_type.startswith("INTEGER") else NUMERIC
        ok = bool(pattern.match(value))
        if ok and value_type in ("INTEGER_POSITIVE", "INTEGER_ZERO_OR_POSITIVE"):
            ok = int(value) > 0 or (value_type == "INTEGER_ZERO_OR_POSITIVE" and int(value) == 0)
        if not ok:
            kind = value_type.lower().replace("_", " ")
            conflicts.add(
                index,
                "E7619",
                value,
                f"Value must match data element's `{de}` type constraints: {kind}",
                "value",
                {"dataElement": de, "value": value},
            )
            return None
    stamp = timestamp(datetime.now(UTC))
    followup = bool(row.get("followUp", row.get("followup", False)))
    return DataValue(
        de,
        period.id,
        ou,
        coc,
        aoc,
        value,
        comment=comment,
        followup=followup,
        created=stamp,
        last_updated=stamp,
    )


def _data_set_of(country: Country, de: str) -> str | None:
    for data_set in country.collections["dataSets"]:
        if de in country.data_elements_of(data_set):
            return str(data_set["id"])
    return None


def _injected(
    country: Country, candidate: DataValue, index: int, conflicts: _Conflicts, faults: Faults
) -> bool:
    """A valid value refused as DHIS2 refuses values of approved data (``E7642``), when the
    fault injection draws it."""
    key = (candidate.data_element, candidate.period, candidate.org_unit)
    data_set = _data_set_of(country, candidate.data_element)
    if data_set is None or not faults.refuses(*key, candidate.coc, candidate.aoc):
        return False
    conflicts.add(
        index,
        "E7642",
        data_set,
        f"Data is already approved for data set: `{data_set}` period: `{candidate.period}` "
        f"organisation unit: `{candidate.org_unit}` attribute option combo: `{candidate.aoc}`",
        "dataSet",
        {
            "dataSet": data_set,
            "period": candidate.period,
            "organisationUnit": candidate.org_unit,
            "attributeOptionCombo": candidate.aoc,
        },
    )
    return True


def import_values(
    country: Country,
    values: Values,
    rows: list[dict[str, Any]],
    *,
    strategy: str,
    dry_run: bool,
    faults: Faults | None = None,
) -> dict[str, Any]:
    conflicts = _Conflicts()
    counts = {"imported": 0, "updated": 0, "ignored": 0, "deleted": 0}
    rejected: list[int] = []
    with values.lock:
        for index, row in enumerate(rows):
            candidate = _check(country, values, row, index, conflicts)
            if faults and candidate and _injected(country, candidate, index, conflicts, faults):
                candidate = None
            if candidate is None:
                rejected.append(index)
                counts["ignored"] += 1
                continue
            period = _periods.parse(candidate.period)
            assert period is not None
            existing = values.value(
                candidate.data_element, period, candidate.org_unit, candidate.coc, candidate.aoc
            )
            deleting = strategy in ("DELETE", "DELETES") or bool(row.get("deleted"))
            if deleting:
                if existing is None:
                    counts["ignored"] += 1
                    continue
                counts["deleted"] += 1
                candidate.value = existing.value
                candidate.deleted = True
            elif existing is None:
                if strategy in ("UPDATE", "UPDATES"):
                    counts["ignored"] += 1
                    continue
                counts["imported"] += 1
            else:
                same = (
                    existing.value == candidate.value
                    and existing.comment == candidate.comment
                    and existing.followup == candidate.followup
                )
                if same or strategy in ("CREATE", "NEW"):
                    counts["ignored"] += 1
                    continue
                counts["updated"] += 1
                candidate.created = existing.created
            if not dry_run:
                values.overrides[candidate.key] = candidate
    items = list(conflicts.items.values())
    status = "WARNING" if items else "SUCCESS"
    if rows and len(rejected) == len(rows):
        status = "ERROR"
    return {
        "status": status,
        "counts": counts,
        "conflicts": items,
        "rejected": rejected,
    }


def _options(strategy: str, dry_run: bool) -> dict[str, Any]:
    return {
        "idSchemes": {},
        "dryRun": dry_run,
        "async": False,
        "importStrategy": strategy,
        "mergeMode": "REPLACE",
        "reportMode": "FULL",
        "skipExistingCheck": False,
        "sharing": False,
        "skipNotifications": False,
        "skipAudit": False,
        "datasetAllowsPeriods": False,
        "strictPeriods": False,
        "strictDataElements": False,
        "strictCategoryOptionCombos": False,
        "strictAttributeOptionCombos": False,
        "strictOrganisationUnits": False,
        "strictDataSetApproval": False,
        "strictDataSetLocking": False,
        "strictDataSetInputPeriods": False,
        "requireCategoryOptionCombo": False,
        "requireAttributeOptionCombo": False,
        "skipPatternValidation": False,
        "ignoreEmptyCollection": False,
        "force": False,
        "firstRowIsHeader": True,
        "skipLastUpdated": False,
        "mergeDataValues": False,
        "skipCache": False,
    }


async def post(
    request: Request,
    country: Country,
    values: Values,
    api_minor: int,
    faults: Faults | None = None,
) -> Response:
    params = request.query_params
    strategy = params.get("importStrategy", "CREATE_AND_UPDATE").upper()
    if strategy not in STRATEGIES:
        return error(409, f"Invalid import strategy: `{strategy}`")
    dry_run = _truthy(params.get("dryRun"))
    try:
        payload = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        return error(400, f"Invalid JSON: {exc}")
    if not isinstance(payload, dict) or not isinstance(payload.get("dataValues", []), list):
        return error(400, "The body must be a JSON object with a dataValues list")
    shared = {k: payload[k] for k in ("period", "orgUnit", "attributeOptionCombo") if k in payload}
    rows = [{**shared, **row} if isinstance(row, dict) else {} for row in payload["dataValues"]]
    result = import_values(country, values, rows, strategy=strategy, dry_run=dry_run, faults=faults)
    modern = api_minor >= 38
    conflicts = result["conflicts"]
    if not modern:
        conflicts = [{"object": c["object"], "value": c["value"]} for c in conflicts]
    summary: dict[str, Any] = {
        "responseType": "ImportSummary",
        "status": result["status"],
        "importOptions": _options(strategy, dry_run),
        "description": "Import process completed successfully"
        if result["status"] != "ERROR"
        else "Import process completed with errors",
        "importCount": result["counts"],
        "conflicts": conflicts,
        "dataSetComplete": "false",
    }
    if modern:
        summary["rejectedIndexes"] = result["rejected"]
    else:
        return json_response(summary)
    if result["status"] == "ERROR":
        body = web_message(409, "An error occurred, please check import summary.", response=summary)
        return json_response(body, 409)
    if result["status"] == "WARNING":
        body = web_message(
            409,
            "One more conflicts encountered, please check import summary.",
            status_text="WARNING",
            response=summary,
        )
        return json_response(body, 409)
    body = web_message(200, "Import was successful.", status_text="OK", response=summary)
    return json_response(body)
