"""Fidelity: for every request recorded against a real DHIS2 (2.36-2.39, tests/data), the
emulator's answer to the same request has the same structure — status, keys, JSON types and
paging shape — as the real answer.

The recordings name Sierra Leone objects; each is replayed with the emulator object of the same
role (a data set, a facility, two data elements with a two-option category combo, two
indicators). Paged requests get a ``pageSize`` that gives the emulator's collection as many
pages as the real one had, so that first and last pages (``nextPage``/``prevPage``) are compared
with their like.

Structure rules: an object's keys must be among the keys the real objects had at that place,
and include the keys every real object had; lists are compared item by item against all real
items; ``metaData.items`` and sharing maps are keyed by identifiers, so only their values are
compared. The emulator adds no key of its own.

Then, strictly: every place in the answer, down through every list item (``$.dataSets[]
.indicators[].id``, ``$.organisationUnits[].geometry.coordinates[][][][]``), with the JSON
type found there, must be the same in both answers. So the emulator has every kind of item
the real answer has (a data set element with a category combo, a MultiPolygon), not just a
subset of them. Only below lists that are empty in the real answer is nothing compared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
import yaml

from tests.dhis2.emulator_support import live_emulator

RECORDINGS = Path(__file__).parents[1] / "data" / "dhis2-recordings"
VERSIONS = ["2.36", "2.37", "2.38", "2.39"]
DYNAMIC_KEYS = {"items", "users", "userGroups"}

Schema = dict[str, Any]


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def learn(schema: Schema, value: Any, key: str = "") -> Schema:
    """Add one real value to the schema of its place."""
    k = kind(value)
    if k == "object" and key in DYNAMIC_KEYS:
        slot = schema.setdefault("map", {})
        for item in value.values():
            learn(slot, item)
        return schema
    if k == "object":
        slot = schema.setdefault("object", {"required": None, "props": {}})
        keys = set(value)
        slot["required"] = keys if slot["required"] is None else slot["required"] & keys
        for name, item in value.items():
            learn(slot["props"].setdefault(name, {}), item, name)
    elif k == "array":
        slot = schema.setdefault("array", {})
        for item in value:
            learn(slot, item)
    else:
        schema[k] = True
    return schema


def check(schema: Schema, value: Any, where: str, problems: list[str], key: str = "") -> None:
    k = kind(value)
    if k == "object" and "map" in schema and key in DYNAMIC_KEYS:
        for name, item in value.items():
            if schema["map"]:
                check(schema["map"], item, f"{where}.{name}", problems)
        return
    if k not in schema:
        problems.append(f"{where}: {k}, real DHIS2 has {sorted(schema)}")
        return
    if k == "object":
        slot = schema["object"]
        missing = slot["required"] - set(value)
        extra = set(value) - set(slot["props"])
        if missing:
            problems.append(f"{where}: missing keys {sorted(missing)}")
        if extra:
            problems.append(f"{where}: keys real DHIS2 does not have {sorted(extra)}")
        for name, item in value.items():
            if name in slot["props"]:
                check(slot["props"][name], item, f"{where}.{name}", problems, name)
    elif k == "array" and schema["array"]:
        for index, item in enumerate(value):
            check(schema["array"], item, f"{where}[{index}]", problems)


def places(value: Any, at: str = "$", key: str = "", found: set[str] | None = None) -> set[str]:
    """Every place of a JSON value with the JSON type there (``$.rows[][]:string``), the
    items of a list merged into one place; maps keyed by identifiers count as one key."""
    found = set() if found is None else found
    k = kind(value)
    found.add(f"{at}:{k}")
    if k == "object":
        for name, item in value.items():
            places(item, f"{at}.*" if key in DYNAMIC_KEYS else f"{at}.{name}", name, found)
    elif k == "array":
        for item in value:
            places(item, f"{at}[]", "", found)
    return found


def place_differences(real: Any, ours: Any) -> list[str]:
    """The places one answer has and the other has not, except below lists that are empty
    in the real answer (what their items look like is not known)."""
    real_places, our_places = places(real), places(ours)
    bare = {
        p.removesuffix(":array")
        for p in real_places
        if p.endswith(":array") and not any(q.startswith(p[:-6] + "[]") for q in real_places)
    }
    missing = sorted(real_places - our_places)
    extra = sorted(
        p for p in our_places - real_places if not any(p.startswith(b + "[]") for b in bare)
    )
    return [f"{p}: in real DHIS2's answer, not in the emulator's" for p in missing] + [
        f"{p}: in the emulator's answer, not in real DHIS2's" for p in extra
    ]


def recordings() -> Iterator[Any]:
    for version in VERSIONS:
        for path in sorted((RECORDINGS / version).glob("*.yaml")):
            for number, item in enumerate(yaml.safe_load(path.read_text())["responses"]):
                yield pytest.param(version, item["response"], id=f"{version}-{path.stem}-{number}")


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Any]]:
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield {
            version: stack.enter_context(live_emulator(seed=7, scale=1.0, version=version))
            for version in VERSIONS
        }


def roles(client: httpx.Client) -> dict[str, str]:
    """Recorded Sierra Leone identifiers → emulator identifiers of the same role."""
    country = client.app.state.emulator.country  # type: ignore[attr-defined]
    by_name = {o["name"]: o["id"] for objects in country.collections.values() for o in objects}
    facility = country.level(4)[0]["id"]
    indicators = country.collections["indicators"]
    return {
        "BfMAe6Itzgt": by_name["Malaria monthly report"],
        "uNEhNuBUr0i": facility,
        "fbfJHSPpUQD": by_name["ANC 1st visit"],
        "cYeuwXTCPkU": by_name["ANC 2nd visit"],
        "Uvn6LCg7dVU": indicators[0]["id"],
        "OdiHJayrsKo": indicators[1]["id"],
    }


def replayed_query(client: httpx.Client, recorded: Any, url: str) -> list[tuple[str, str]]:
    mapping = roles(client)
    pairs = []
    for name, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        for real, ours in mapping.items():
            value = value.replace(real, ours)
        pairs.append((name, value))
    pager = recorded.get("pager") if isinstance(recorded, dict) else None
    if pager:
        # as many pages in the emulator as in the real answer
        collection = next(k for k in recorded if k != "pager")
        total = client.get(f"{urlsplit(url).path}", params={"fields": "id", "paging": "false"})
        count = len(total.json()[collection])
        size = max(1, math.ceil(count / pager["pageCount"]))
        while pager["pageCount"] > 1 and math.ceil(count / size) != pager["pageCount"]:
            size += 1
        pairs = [(n, str(size) if n == "pageSize" else v) for n, v in pairs]
    return pairs


@pytest.mark.parametrize(("version", "response"), list(recordings()))
def test_emulator_answers_with_the_recorded_structure(
    clients: dict[str, httpx.Client], version: str, response: dict[str, Any]
) -> None:
    client = clients[version]
    url = response["url"]
    body = response["body"]
    answer_path = urlsplit(url).path
    if body == "pong":
        answer = client.get(answer_path)
        assert (answer.status_code, answer.text) == (200, "pong")
        return
    recorded = json.loads(body)
    query = replayed_query(client, recorded, url)
    answer = client.get(answer_path + ("?" + urlencode(query) if query else ""))
    assert answer.status_code == response["status"], answer.text[:500]
    problems: list[str] = []
    check(learn({}, recorded), answer.json(), "$", problems)
    assert not problems, "\n".join(problems[:40])
    differences = place_differences(recorded, answer.json())
    assert not differences, "\n".join(differences[:40])
    if isinstance(recorded, dict) and "pager" in recorded:
        assert list(answer.json()["pager"]) == list(recorded["pager"])  # same keys, same order
    if isinstance(recorded, dict) and recorded.get("rows"):
        assert answer.json()["rows"], "the emulator has no rows where DHIS2 had some"
    if isinstance(recorded, dict) and recorded.get("dataValues"):
        assert answer.json()["dataValues"], "the emulator has no values where DHIS2 had some"


def test_the_structure_check_catches_differences() -> None:
    schema = learn({}, {"pager": {"page": 1}, "things": [{"id": "a", "n": 1}, {"id": "b"}]})
    problems: list[str] = []
    check(schema, {"pager": {"page": "1"}, "things": [{"n": 2, "x": True}]}, "$", problems)
    assert problems == [
        "$.pager.page: string, real DHIS2 has ['number']",
        "$.things[0]: missing keys ['id']",
        "$.things[0]: keys real DHIS2 does not have ['x']",
    ]


def test_the_strict_comparison_sees_every_place_of_every_item() -> None:
    real = {
        "units": [
            {"id": "a", "geometry": {"type": "Point", "coordinates": [1.0, 2.0]}},
            {"id": "b", "geometry": {"type": "MultiPolygon", "coordinates": [[[[1, 2]]]]}},
        ],
        "sets": [{"id": "s", "elements": [{"e": {"id": "x"}, "combo": {"id": "c"}}, {"e": {}}]}],
        "metaData": {"items": {"uid1": {"name": "n"}}},
        "empty": [],
    }
    ours: dict[str, Any] = {
        "units": [{"id": "a", "geometry": {"type": "Point", "coordinates": [1.0, 2.0]}}],
        "sets": [{"id": "s", "elements": [{"e": {"id": "x"}}]}],
        "metaData": {"items": {"uid2": {"name": "m"}}},  # other identifiers: the same place
        "empty": [{"anything": True}],  # nothing known of real items here
    }
    assert place_differences(real, ours) == [
        "$.sets[].elements[].combo.id:string: in real DHIS2's answer, not in the emulator's",
        "$.sets[].elements[].combo:object: in real DHIS2's answer, not in the emulator's",
        "$.units[].geometry.coordinates[]:array: in real DHIS2's answer, not in the emulator's",
        "$.units[].geometry.coordinates[][]:array: in real DHIS2's answer, not in the emulator's",
        "$.units[].geometry.coordinates[][][]:array: in real DHIS2's answer, not in the emulator's",
        "$.units[].geometry.coordinates[][][][]:number: in real DHIS2's answer, not in the "
        "emulator's",
    ]
    ours["units"][0]["geometry"] = {"type": "Polygon", "coordinates": [[[1, 2]]]}
    assert "$.units[].geometry.coordinates[][][]:number: in the emulator's answer, not in " + (
        "real DHIS2's"
    ) in place_differences(real, ours)
    assert place_differences(real, real) == []
