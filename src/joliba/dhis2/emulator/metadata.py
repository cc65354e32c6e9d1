"""Metadata collections, ``/api/{collection}`` and ``/api/{collection}/{uid}``, with DHIS2's
``fields``, ``filter`` (+ ``rootJunction``), ``order``, ``paging``, ``page`` and ``pageSize``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from joliba.dhis2.emulator.country import Country
from joliba.dhis2.emulator.ids import Obj
from joliba.dhis2.emulator.messages import error, json_response, not_found

COLLECTIONS = {
    "organisationUnits": "OrganisationUnit",
    "organisationUnitLevels": "OrganisationUnitLevel",
    "organisationUnitGroups": "OrganisationUnitGroup",
    "dataElements": "DataElement",
    "dataElementGroups": "DataElementGroup",
    "categoryOptions": "CategoryOption",
    "categories": "Category",
    "categoryCombos": "CategoryCombo",
    "categoryOptionCombos": "CategoryOptionCombo",
    "dataSets": "DataSet",
    "indicators": "Indicator",
    "indicatorTypes": "IndicatorType",
    "indicatorGroups": "IndicatorGroup",
    "programs": "Program",
    "programStages": "ProgramStage",
    "trackedEntityTypes": "TrackedEntityType",
}
DEFAULT_FIELDS = "id,displayName"
# Fields DHIS2 leaves out of ``*``: computed or heavy.
PRESETS = {
    ":identifiable": ["id", "name", "code", "created", "lastUpdated", "attributeValues"],
    ":nameable": ["id", "name", "shortName", "code", "created", "lastUpdated", "attributeValues"],
}

Fields = list[tuple[str, "Fields | None"]]


def parse_fields(text: str) -> Fields:
    """``id,name,parent[id,name]`` → [("id", None), ("name", None), ("parent", [...])]."""
    fields, _ = _parse(text.replace(" ", ""), 0)
    return fields


def _parse(text: str, at: int) -> tuple[Fields, int]:
    fields: Fields = []
    name = ""
    while at < len(text):
        char = text[at]
        if char in "[(":
            sub, at = _parse(text, at + 1)
            fields.append((name, sub))
            name = ""
        elif char in "])":
            if name:
                fields.append((name, None))
            return fields, at + 1
        elif char == ",":
            if name:
                fields.append((name, None))
            name = ""
            at += 1
            continue
        else:
            name += char
            at += 1
            continue
        if at < len(text) and text[at] == ",":
            at += 1
    if name:
        fields.append((name, None))
    return fields, at


class View:
    """Projects stored objects onto requested fields, resolving references through the country."""

    def __init__(self, country: Country) -> None:
        self.country = country

    def project(self, obj: Obj, fields: Fields) -> Obj:
        wanted: list[tuple[str, Fields | None]] = []
        excluded = {name[1:] for name, _ in fields if name.startswith("!")}
        for name, sub in fields:
            if name in ("*", ":all", ":owner"):
                wanted.extend((key, None) for key in obj if key not in excluded)
            elif name in PRESETS:
                wanted.extend((key, None) for key in PRESETS[name] if key in obj)
            elif not name.startswith("!"):
                wanted.append((name, sub))
        out: Obj = {}
        for name, sub in wanted:
            if name in excluded:
                continue
            if name == "displayName" and "displayName" not in obj and "name" in obj:
                out[name] = obj["name"]
                continue
            if name not in obj:
                continue
            out[name] = self._value(obj[name], sub)
        return out

    def _value(self, value: Any, sub: Fields | None) -> Any:
        if isinstance(value, list):
            return [self._value(item, sub) for item in value]
        if isinstance(value, dict):
            target = self.country.by_id.get(value["id"]) if set(value) == {"id"} else None
            if target is not None:
                return self.project(target, sub) if sub else {"id": value["id"]}
            return self.project(value, sub) if sub else value
        return value

    def lookup(self, obj: Any, path: list[str]) -> list[Any]:
        """Every value at a dotted path (lists fan out; references are followed)."""
        if not path:
            return [obj]
        if isinstance(obj, list):
            return [v for item in obj for v in self.lookup(item, path)]
        if not isinstance(obj, dict):
            return []
        if set(obj) == {"id"} and path[0] != "id" and obj["id"] in self.country.by_id:
            obj = self.country.by_id[obj["id"]]
        if path[0] not in obj:
            if path[0] == "displayName" and "name" in obj:
                return self.lookup(obj["name"], path[1:])
            return [None] if len(path) == 1 else []
        return self.lookup(obj[path[0]], path[1:])


def _compare(op: str, found: Any, value: str) -> bool:
    if op == "null":
        return found is None or found == []
    if op == "!null":
        return found is not None and found != []
    if op == "empty":
        return found == [] or found is None
    if found is None:
        return op in ("ne", "!eq", "!like", "!ilike", "!in")
    if isinstance(found, (dict, list)):
        return False
    text = str(found).lower() if isinstance(found, bool) else str(found)
    lowered = text.lower()
    if op == "in" or op == "!in":
        items = [i.strip() for i in value.strip("[]").split(",")]
        return (text in items) == (op == "in")
    if op in ("gt", "ge", "lt", "le"):
        try:
            left, right = (float(text), float(value))
        except ValueError:
            left, right = text, value  # type: ignore[assignment]
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[
            op
        ]
    checks: dict[str, Callable[[], bool]] = {
        "eq": lambda: text == value,
        "ieq": lambda: lowered == value.lower(),
        "ne": lambda: text != value,
        "!eq": lambda: text != value,
        "like": lambda: value in text,
        "!like": lambda: value not in text,
        "$like": lambda: text.startswith(value),
        "!$like": lambda: not text.startswith(value),
        "like$": lambda: text.endswith(value),
        "!like$": lambda: not text.endswith(value),
        "ilike": lambda: value.lower() in lowered,
        "!ilike": lambda: value.lower() not in lowered,
        "$ilike": lambda: lowered.startswith(value.lower()),
        "!$ilike": lambda: not lowered.startswith(value.lower()),
        "ilike$": lambda: lowered.endswith(value.lower()),
        "!ilike$": lambda: not lowered.endswith(value.lower()),
        "token": lambda: all(t in lowered for t in value.lower().split()),
        "!token": lambda: not all(t in lowered for t in value.lower().split()),
    }
    if op not in checks:
        raise ValueError(f"Unsupported operator: `{op}`")
    return checks[op]()


def matcher(view: View, filters: list[str], junction: str) -> Callable[[Obj], bool]:
    tests: list[Callable[[Obj], bool]] = []
    for text in filters:
        prop, _, rest = text.partition(":")
        op, _, value = rest.partition(":")
        if not op:
            raise ValueError(f"Invalid filter: `{text}`")
        path = prop.split(".")

        def test(obj: Obj, path: list[str] = path, op: str = op, value: str = value) -> bool:
            found = view.lookup(obj, path)
            if op.startswith("!") or op == "ne":
                return all(_compare(op, f, value) for f in found) if found else True
            return any(_compare(op, f, value) for f in found)

        tests.append(test)
    if junction.upper() == "OR":
        return lambda obj: any(t(obj) for t in tests) if tests else True
    return lambda obj: all(t(obj) for t in tests)


def _sort(view: View, objects: list[Obj], order: str | None) -> list[Obj]:
    if not order:
        return sorted(objects, key=lambda o: (str(o.get("name", "")), o["id"]))
    for part in reversed([p for p in order.split(",") if p]):
        prop, _, direction = part.partition(":")
        reverse = direction.lower() in ("desc", "idesc")
        insensitive = direction.lower().startswith("i")

        def key(obj: Obj, prop: str = prop, insensitive: bool = insensitive) -> tuple[int, Any]:
            found = view.lookup(obj, prop.split("."))
            value = found[0] if found else None
            if value is None:
                return (1, "")
            return (0, str(value).lower() if insensitive else value)

        objects = sorted(objects, key=key, reverse=reverse)
    return objects


def page_url(request: Request, page: int) -> str:
    """DHIS2's nextPage/prevPage: ``page`` first (left out for page 1), then the request's
    other parameters in their order."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    if page > 1:
        pairs.insert(0, ("page", str(page)))
    base = f"{request.state.context_path}{request.state.api_path}"
    return f"{base}?{urlencode(pairs)}" if pairs else base


def pager(request: Request, page: int, page_size: int, total: int) -> dict[str, Any]:
    """The ``pager`` object, keys in the order of the emulated version (2.39 moved
    ``pageCount`` last)."""
    page_count = max(1, math.ceil(total / page_size)) if total else 1
    body: dict[str, Any] = {"page": page}
    if request.state.minor < 39:
        body["pageCount"] = page_count
    body.update({"total": total, "pageSize": page_size})
    if page > 1:
        body["prevPage"] = page_url(request, page - 1)
    if page < page_count:
        body["nextPage"] = page_url(request, page + 1)
    body["pageCount"] = page_count
    return body


def flag(request: Request, name: str, default: bool) -> bool:
    value = request.query_params.get(name)
    return default if value is None else value.lower() == "true"


def list_objects(request: Request, country: Country, collection: str) -> Response:
    view = View(country)
    params = request.query_params
    objects = list(country.collections.get(collection, []))
    if collection == "organisationUnits":
        objects = _org_unit_scope(request, objects)
    try:
        keep = matcher(view, params.getlist("filter"), params.get("rootJunction", "AND"))
        objects = [o for o in objects if keep(o)]
    except ValueError as exc:
        return error(400, str(exc))
    query = params.get("query")
    if query:
        needle = query.lower()
        objects = [
            o
            for o in objects
            if needle in str(o.get("name", "")).lower()
            or needle == o["id"].lower()
            or needle == str(o.get("code", "")).lower()
        ]
    objects = _sort(view, objects, params.get("order"))
    fields = parse_fields(",".join(params.getlist("fields")) or DEFAULT_FIELDS)
    if not flag(request, "paging", True):
        return json_response({collection: [view.project(o, fields) for o in objects]})
    try:
        page = max(1, int(params.get("page", "1")))
        page_size = max(1, int(params.get("pageSize", "50")))
    except ValueError:
        return error(400, "page and pageSize must be numbers")
    total = len(objects)
    chosen = objects[(page - 1) * page_size : page * page_size]
    return json_response(
        {
            "pager": pager(request, page, page_size, total),
            collection: [view.project(o, fields) for o in chosen],
        }
    )


def _org_unit_scope(request: Request, objects: list[Obj]) -> list[Obj]:
    params = request.query_params
    if params.get("level"):
        level = int(params["level"])
        objects = [o for o in objects if o["level"] == level]
    if params.get("maxLevel"):
        highest = int(params["maxLevel"])
        objects = [o for o in objects if o["level"] <= highest]
    return objects


def get_object(request: Request, country: Country, collection: str, identifier: str) -> Response:
    obj = country.get(collection, identifier)
    if obj is None:
        return not_found(COLLECTIONS[collection], identifier)
    view = View(country)
    fields_text = ",".join(request.query_params.getlist("fields")) or "*"
    fields = parse_fields(fields_text)
    if collection == "organisationUnits" and (
        flag(request, "includeDescendants", False) or flag(request, "includeChildren", False)
    ):
        if flag(request, "includeDescendants", False):
            chosen = [o for o in country.collections[collection] if obj["id"] in o["path"]]
        else:
            chosen = [obj] + [country.by_id[c["id"]] for c in obj["children"]]
        return json_response({collection: [view.project(o, fields) for o in chosen]})
    return json_response(view.project(obj, fields))


def filled_levels(request: Request, country: Country) -> Response:
    levels = country.collections["organisationUnitLevels"]
    return json_response([_level_body(o, request.state.minor) for o in levels])


def _level_body(level: Obj, minor: int) -> Obj:
    """An organisation unit level as ``filledOrganisationUnitLevels`` gives it (sharing keys)."""
    body: Obj = {
        "name": level["name"],
        "created": level["created"],
        "lastUpdated": level["lastUpdated"],
        "translations": [],
        "externalAccess": False,
        "userGroupAccesses": [],
        "userAccesses": [],
        "access": {
            "manage": True,
            "externalize": False,
            "write": True,
            "read": True,
            "update": True,
            "delete": True,
        },
        "favorites": [],
        "sharing": {"external": False, "users": {}, "userGroups": {}},
        "level": level["level"],
        "displayName": level["name"],
        "favorite": False,
        "id": level["id"],
        "attributeValues": [],
    }
    if minor < 39:  # the access block appeared in 2.39
        del body["access"]
    return body


UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
