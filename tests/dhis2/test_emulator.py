"""The DHIS2 emulator over real HTTP (uvicorn on 127.0.0.1): its synthetic country, auth,
metadata queries, data values read and written, analytics, tracker paging and faults."""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from joliba.dhis2.emulator import Faults, build_country
from tests.dhis2.emulator_support import TOKEN, live_emulator

UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")


@pytest.fixture(scope="module")
def dhis2() -> Iterator[httpx.Client]:
    with live_emulator(seed=3, scale=1.0) as client:
        yield client


def ids(client: httpx.Client, collection: str, **params: str) -> dict[str, str]:
    found = client.get(
        f"/api/{collection}", params={"paging": "false", "fields": "id,name", **params}
    )
    return {o["name"]: o["id"] for o in found.json()[collection]}


# --- the country ----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_country_and_another_seed_another() -> None:
    first, again, other = build_country(5), build_country(5), build_country(6)
    assert first.collections == again.collections
    assert first.root["id"] != other.root["id"]


def test_the_country_has_its_levels_paths_geometry_and_identifiers() -> None:
    country = build_country(2)
    sizes = [len(country.level(n)) for n in (1, 2, 3, 4)]
    assert sizes[:3] == [1, 8, 72]
    assert 1300 <= sizes[3] <= 1700
    for unit in country.collections["organisationUnits"]:
        assert UID.match(unit["id"])
        assert unit["path"].split("/")[1:] == [
            *(
                []
                if unit["level"] == 1
                else country.by_id[unit["parent"]["id"]]["path"].split("/")[1:]
            ),
            unit["id"],
        ]
        kinds = {1: {"Polygon"}, 2: {"Polygon"}, 3: {"Polygon", "MultiPolygon"}, 4: {"Point"}}
        assert unit["geometry"]["type"] in kinds[unit["level"]]
    assert 140 <= len(country.collections["dataElements"]) <= 160
    assert country.by_id["HllvX50cXC0"]["name"] == "default"
    assert {d["periodType"] for d in country.collections["dataSets"]} == {"Monthly", "Weekly"}


def test_some_districts_have_islands_and_their_facilities_are_on_land() -> None:
    country = build_country(2)
    islands = [d for d in country.level(3) if d["geometry"]["type"] == "MultiPolygon"]
    assert len(islands) == 16  # two districts of each region, as real coastal districts
    for district in country.level(3):
        shape = district["geometry"]
        parts = shape["coordinates"] if shape["type"] == "MultiPolygon" else [shape["coordinates"]]
        boxes = []
        for rings in parts:
            ring = rings[0]
            assert ring[0] == ring[-1] and len(ring) >= 4  # closed, as GeoJSON wants
            xs, ys = [x for x, _ in ring], [y for _, y in ring]
            boxes.append((min(xs), min(ys), max(xs), max(ys)))
        if shape["type"] == "MultiPolygon":
            assert len(boxes) >= 2
            for one, other in itertools.combinations(boxes, 2):  # apart: water between
                assert (
                    one[2] < other[0] or other[2] < one[0] or one[3] < other[1] or other[3] < one[1]
                )
        for facility in country.facilities_under(district):
            x, y = facility["geometry"]["coordinates"]
            assert any(w <= x <= e and s <= y <= n for w, s, e, n in boxes), facility["name"]


def test_data_sets_name_their_indicators_element_combos_and_attribute_combo() -> None:
    country = build_country(2)
    sets = {d["name"]: d for d in country.collections["dataSets"]}
    for data_set in sets.values():
        for indicator in data_set["indicators"]:
            assert country.get("indicators", indicator["id"]) is not None
        for member in data_set["dataSetElements"]:
            element = country.by_id[member["dataElement"]["id"]]
            # the combo a data set names for an element is the element's own here
            assert member.get("categoryCombo", element["categoryCombo"]) == element["categoryCombo"]
            assert member in element["dataSetElements"]
    malaria = sets["Malaria monthly report"]["indicators"]
    assert [country.by_id[i["id"]]["name"] for i in malaria][:1] == ["Malaria test positivity rate"]
    assert any("categoryCombo" in m for m in sets["IDSR weekly report"]["dataSetElements"])
    funding = country.by_id[sets["HIV services by funding"]["categoryCombo"]["id"]]
    assert (funding["name"], funding["dataDimensionType"]) == ("Funding", "ATTRIBUTE")
    combos = [country.by_id[c["id"]]["name"] for c in funding["categoryOptionCombos"]]
    assert combos == ["Government", "Donor"]
    hiv = sets["HIV services by funding"]["dataSetElements"][0]["dataElement"]["id"]
    assert country.attribute_option_combos_of(hiv) == {
        "HllvX50cXC0",
        *(c["id"] for c in funding["categoryOptionCombos"]),
    }


def test_scale_changes_the_number_of_facilities() -> None:
    assert len(build_country(2, scale=0.1).level(4)) < 250


# --- auth and paths ---------------------------------------------------------------------------


def test_requests_without_valid_credentials_get_dhis2s_401(dhis2: httpx.Client) -> None:
    url = dhis2.base_url
    for auth in (None, ("admin", "wrong")):
        answer = httpx.get(f"{url}/api/system/info", auth=auth)
        assert answer.status_code == 401
        assert answer.json() == {
            "httpStatus": "Unauthorized",
            "httpStatusCode": 401,
            "status": "ERROR",
            "message": "Unauthorized",
        }
    bad_token = httpx.get(f"{url}/api/me", headers={"Authorization": "ApiToken d2pat_nope"})
    assert bad_token.status_code == 401
    assert httpx.get(f"{url}/api/system/ping").text == "pong"


def test_personal_access_tokens_and_basic_auth_are_accepted(dhis2: httpx.Client) -> None:
    url = dhis2.base_url
    token = httpx.get(f"{url}/api/me", headers={"Authorization": f"ApiToken {TOKEN}"})
    assert token.json()["username"] == "admin"
    basic = base64.b64encode(b"admin:district").decode()
    assert httpx.get(f"{url}/api/me", headers={"Authorization": f"Basic {basic}"}).is_success


def test_version_segment_and_json_suffix_are_accepted(dhis2: httpx.Client) -> None:
    plain = dhis2.get("/api/dataElements", params={"pageSize": 3}).json()
    versioned = dhis2.get("/api/39/dataElements.json", params={"pageSize": 3}).json()
    assert versioned["dataElements"] == plain["dataElements"]
    assert dhis2.get("/api/system/info").json()["version"] == "2.39.5"


# --- metadata ---------------------------------------------------------------------------------


def test_paging_covers_every_object_once_with_consistent_totals(dhis2: httpx.Client) -> None:
    first = dhis2.get("/api/organisationUnits", params={"pageSize": 500, "fields": "id"}).json()
    pager = first["pager"]
    assert pager["total"] == len(build_country(3).collections["organisationUnits"])
    assert pager["pageCount"] == -(-pager["total"] // 500)
    seen = [o["id"] for o in first["organisationUnits"]]
    for page in range(2, pager["pageCount"] + 1):
        body = dhis2.get(
            "/api/organisationUnits", params={"pageSize": 500, "fields": "id", "page": page}
        ).json()
        seen += [o["id"] for o in body["organisationUnits"]]
        assert body["pager"]["page"] == page
    assert len(seen) == len(set(seen)) == pager["total"]
    assert pager["nextPage"].endswith("/api/organisationUnits?page=2&pageSize=500&fields=id")
    default = dhis2.get("/api/dataElements").json()
    assert default["pager"]["pageSize"] == 50
    assert set(default["dataElements"][0]) == {"id", "displayName"}


def test_fields_filters_and_single_objects(dhis2: httpx.Client) -> None:
    regions = dhis2.get(
        "/api/organisationUnits",
        params={
            "filter": "level:eq:2",
            "fields": "id,name,parent[id,name],children~size",
            "paging": "false",
        },
    ).json()["organisationUnits"]
    assert len(regions) == 8
    assert regions[0]["parent"]["name"] == "Joliba"
    either = dhis2.get(
        "/api/organisationUnits",
        params=[
            ("filter", "name:eq:Agadez"),
            ("filter", "name:eq:Zinder"),
            ("rootJunction", "OR"),
            ("paging", "false"),
        ],
    ).json()["organisationUnits"]
    assert sorted(o["displayName"] for o in either) == ["Agadez", "Zinder"]
    malaria = ids(dhis2, "dataElements", filter="name:ilike:MALARIA")
    assert "Malaria confirmed cases" in malaria
    chosen = list(malaria.values())[:2]
    by_in = ids(dhis2, "dataElements", filter=f"id:in:[{','.join(chosen)}]")
    assert sorted(by_in.values()) == sorted(chosen)
    not_like = ids(dhis2, "dataElements", filter="name:!like:Malaria")
    assert not any("Malaria" in n for n in not_like)
    one = dhis2.get(
        f"/api/dataElements/{chosen[0]}", params={"fields": "id,valueType,categoryCombo[id,name]"}
    ).json()
    assert one["id"] == chosen[0] and "name" in one["categoryCombo"]
    missing = dhis2.get("/api/dataElements/AAAAAAAAAAA")
    assert missing.status_code == 404
    assert missing.json()["message"] == "DataElement with id AAAAAAAAAAA could not be found."


# --- data values ------------------------------------------------------------------------------


def _facility(dhis2: httpx.Client) -> str:
    facility: str = dhis2.get(
        "/api/organisationUnits", params={"level": 4, "pageSize": 1, "fields": "id"}
    ).json()["organisationUnits"][0]["id"]
    return facility


def test_values_are_generated_the_same_way_every_time(dhis2: httpx.Client) -> None:
    data_set = ids(dhis2, "dataSets")["Malaria monthly report"]
    params = {"dataSet": data_set, "period": "202306", "orgUnit": _facility(dhis2)}
    first = dhis2.get("/api/dataValueSets", params=params).json()
    assert first["dataValues"]
    assert dhis2.get("/api/dataValueSets", params=params).json() == first
    assert {"dataSet", "period", "orgUnit", "completeDate"} <= set(first)


def test_get_needs_data_period_and_org_unit(dhis2: httpx.Client) -> None:
    answer = dhis2.get("/api/dataValueSets", params={"period": "202306", "orgUnit": "x"})
    assert answer.status_code == 409
    assert answer.json()["errorCode"] == "E2001"


def test_imported_values_are_read_back_exactly(dhis2: httpx.Client) -> None:
    de = ids(dhis2, "dataElements")["LLIN distributed"]
    ou = _facility(dhis2)
    coc = dhis2.get(
        f"/api/dataElements/{de}", params={"fields": "categoryCombo[categoryOptionCombos[id]]"}
    ).json()["categoryCombo"]["categoryOptionCombos"][0]["id"]
    row = {
        "dataElement": de,
        "period": "202402",
        "orgUnit": ou,
        "categoryOptionCombo": coc,
        "value": "12345",
        "comment": "checked",
    }
    answer = dhis2.post("/api/dataValueSets", json={"dataValues": [row]})
    assert answer.status_code == 200, answer.text
    summary = answer.json()["response"]
    assert summary["status"] == "SUCCESS"
    assert summary["importCount"]["imported"] + summary["importCount"]["updated"] == 1
    back = dhis2.get(
        "/api/dataValueSets", params={"dataElement": de, "period": "202402", "orgUnit": ou}
    ).json()["dataValues"]
    mine = [v for v in back if v["categoryOptionCombo"] == coc]
    assert [(v["value"], v["comment"]) for v in mine] == [("12345", "checked")]
    again = dhis2.post("/api/dataValueSets", json={"dataValues": [row]}).json()["response"]
    assert again["importCount"]["ignored"] == 1
    dry = dhis2.post(
        "/api/dataValueSets",
        params={"dryRun": "true"},
        json={"dataValues": [{**row, "value": "1"}]},
    ).json()["response"]
    assert dry["importCount"]["updated"] == 1 and dry["importOptions"]["dryRun"] is True
    still = dhis2.get(
        "/api/dataValueSets", params={"dataElement": de, "period": "202402", "orgUnit": ou}
    ).json()["dataValues"]
    assert [v["value"] for v in still if v["categoryOptionCombo"] == coc] == ["12345"]
    gone = dhis2.post(
        "/api/dataValueSets", params={"importStrategy": "DELETE"}, json={"dataValues": [row]}
    ).json()["response"]
    assert gone["importCount"]["deleted"] == 1
    after = dhis2.get(
        "/api/dataValueSets", params={"dataElement": de, "period": "202402", "orgUnit": ou}
    ).json()["dataValues"]
    assert not [v for v in after if v["categoryOptionCombo"] == coc]


def test_invalid_rows_come_back_as_dhis2_conflicts(dhis2: httpx.Client) -> None:
    de = ids(dhis2, "dataElements")["Malaria cases in pregnant women"]
    ou = _facility(dhis2)
    rows = [
        {"dataElement": de, "period": "202403", "orgUnit": ou, "value": "4"},
        {"dataElement": de, "period": "2024-13", "orgUnit": ou, "value": "4"},
        {"dataElement": "AAAAAAAAAAA", "period": "202403", "orgUnit": ou, "value": "4"},
        {"dataElement": de, "period": "202403", "orgUnit": "BBBBBBBBBBB", "value": "4"},
        {"dataElement": de, "period": "202404", "orgUnit": ou, "value": "8.2e-05"},
    ]
    answer = dhis2.post("/api/dataValueSets", json={"dataValues": rows})
    assert answer.status_code == 409
    body = answer.json()
    assert body["status"] == "WARNING"
    summary = body["response"]
    codes = {c["errorCode"]: c for c in summary["conflicts"]}
    assert set(codes) == {"E7610", "E7611", "E7612", "E7619"}
    assert codes["E7611"]["object"] == "2024-13" and codes["E7611"]["indexes"] == [1]
    assert codes["E7611"]["value"] == "Period not valid: `2024-13`"
    assert codes["E7610"]["indexes"] == [2] and codes["E7612"]["indexes"] == [3]
    assert summary["rejectedIndexes"] == [1, 2, 3, 4]
    assert summary["importCount"]["ignored"] == 4


def test_older_api_versions_get_the_plain_import_summary(dhis2: httpx.Client) -> None:
    answer = dhis2.post(
        "/api/37/dataValueSets",
        json={
            "dataValues": [
                {"dataElement": "AAAAAAAAAAA", "period": "202403", "orgUnit": "x", "value": "1"}
            ]
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["responseType"] == "ImportSummary" and body["status"] == "ERROR"
    assert set(body["conflicts"][0]) == {"object", "value"}


# --- analytics --------------------------------------------------------------------------------


def test_analytics_sums_the_facilities_values(dhis2: httpx.Client) -> None:
    de = ids(dhis2, "dataElements")["Malaria confirmed cases"]
    district = dhis2.get(
        "/api/organisationUnits", params={"level": 3, "pageSize": 1, "fields": "id"}
    ).json()["organisationUnits"][0]["id"]
    values = dhis2.get(
        "/api/dataValueSets",
        params={
            "dataElement": de,
            "period": "202308",
            "orgUnit": district,
            "children": "true",
        },
    ).json()["dataValues"]
    expected = sum(int(v["value"]) for v in values)
    answer = dhis2.get(
        "/api/analytics",
        params=[
            ("dimension", f"dx:{de}"),
            ("dimension", "pe:202308"),
            ("dimension", f"ou:{district}"),
        ],
    ).json()
    assert [h["name"] for h in answer["headers"]] == ["dx", "pe", "ou", "value"]
    assert answer["rows"] == [[de, "202308", district, str(expected)]]
    regions = dhis2.get(
        "/api/analytics",
        params=[
            ("dimension", f"dx:{de}"),
            ("dimension", "co"),
            ("dimension", "ou:LEVEL-2"),
            ("filter", "pe:2023"),
        ],
    ).json()
    assert regions["height"] == 8 * 4
    assert [h["name"] for h in regions["headers"]] == ["dx", "co", "ou", "value"]


def test_analytics_refuses_more_than_50000_rows_unless_told(dhis2: httpx.Client) -> None:
    de = ids(dhis2, "dataElements")["IDSR Cholera cases"]
    params = (
        ("dimension", f"dx:{de}"),
        ("dimension", "co"),
        ("dimension", "ou:LEVEL-4"),
        ("dimension", "pe:LAST_52_WEEKS"),
    )
    answer = dhis2.get("/api/analytics", params=params)
    assert answer.status_code == 409
    assert answer.json()["errorCode"] == "E7128"


# --- tracker and faults -----------------------------------------------------------------------


@pytest.mark.parametrize("version", ["2.40", "2.41"])
def test_tracker_paging_envelope_follows_the_version(version: str) -> None:
    with live_emulator(seed=3, scale=0.1, version=version) as client:
        region = ids(client, "organisationUnits", level="2")["Agadez"]
        body = client.get(
            "/api/tracker/events",
            params={
                "orgUnit": region,
                "orgUnits": region,
                "pageSize": 5,
                "totalPages": "true",
            },
        ).json()
        if version == "2.40":
            assert set(body) == {"instances", "page", "pageSize", "total", "pageCount"}
            events = body["instances"]
        else:
            assert set(body) == {"pager", "events"}
            assert set(body["pager"]) == {"page", "pageSize", "total", "pageCount"}
            events = body["events"]
        assert len(events) == 5


def test_faults_answer_server_errors_and_timeouts() -> None:
    with live_emulator(seed=1, scale=0.1, faults=Faults(error_rate=1.0, seed=4)) as client:
        statuses = {client.get("/api/system/info").status_code for _ in range(12)}
        assert statuses <= {500, 502, 503} and len(statuses) > 1
    slow = Faults(timeout_rate=1.0, timeout_seconds=0.3)
    with live_emulator(seed=1, scale=0.1, faults=slow) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/api/system/info", timeout=0.1)
        assert client.get("/api/system/info", timeout=5).status_code == 504


def test_the_documented_example_runs() -> None:
    text = (Path(__file__).parents[2] / "docs" / "dhis2.md").read_text()
    section = text.split("\n## Emulator\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/dhis2.md", "exec"), {})  # noqa: S102
