"""Selecting data values by org unit group, by how recently they changed
(``lastUpdatedDuration``) and by attribute option combo: the emulator answers as DHIS2 does
(its checks and error codes, union of units and group members, durations counted back from
the server's clock, unknown ids dropped), and the client, chunked, gives what one request
gives. Also a selection made once and passed to each extraction method.

Each test imports values for its own org unit or period, so the tests run in any order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import httpx
import polars as pl
import pytest

from joliba.dhis2 import DHIS2, DataValueSelection, DHIS2Error
from joliba.dhis2.chunks import Chunks
from joliba.dhis2.emulator.ids import DEFAULT_COC
from tests.dhis2.emulator_support import live_emulator

TINY = Chunks(org_units=2, subtree_units=1, data_elements=3, periods=2)
FIELDS = ["dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo"]
KEY = ["data_element", "period", "org_unit", "category_option_combo", "attribute_option_combo"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[httpx.Client]:
    with live_emulator(seed=2, scale=0.1) as client:
        yield client


@pytest.fixture(scope="module")
def dhis2(emulator: httpx.Client) -> Iterator[DHIS2]:
    with DHIS2(str(emulator.base_url), username="admin", password="district") as client:
        yield client


def named(emulator: httpx.Client, collection: str, fields: str = "id,name") -> dict[str, Any]:
    answer = emulator.get(f"/api/{collection}", params={"paging": "false", "fields": fields})
    return {o["name"]: o for o in answer.json()[collection]}


def members(emulator: httpx.Client, group: str) -> list[str]:
    groups = named(emulator, "organisationUnitGroups", "id,name,organisationUnits[id]")
    return [m["id"] for m in groups[group]["organisationUnits"]]


def data_set(emulator: httpx.Client, name: str) -> str:
    return str(named(emulator, "dataSets")[name]["id"])


def group_id(emulator: httpx.Client, name: str) -> str:
    return str(named(emulator, "organisationUnitGroups")[name]["id"])


def funding(emulator: httpx.Client) -> dict[str, str]:
    combos = named(emulator, "categoryCombos", "id,name,categoryOptionCombos[id,name]")
    return {c["name"]: c["id"] for c in combos["Funding"]["categoryOptionCombos"]}


def row(emulator: httpx.Client, element: str, **fields: str) -> dict[str, str]:
    """A value to import for the data element of that name, in its first category combo."""
    elements = named(emulator, "dataElements", "id,name,categoryCombo[categoryOptionCombos[id]]")
    found = elements[element]
    coc = found["categoryCombo"]["categoryOptionCombos"][0]["id"]
    return {"dataElement": found["id"], "categoryOptionCombo": coc, **fields}


def values(emulator: httpx.Client, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    answer = emulator.get("/api/dataValueSets.json", params=tuple(params))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["dataValues"])


def keys(found: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    return sorted(tuple(v[f] for f in FIELDS) for v in found)


def refused(emulator: httpx.Client, params: list[tuple[str, str]]) -> tuple[str, str]:
    answer = emulator.get("/api/dataValueSets", params=tuple(params))
    assert answer.status_code == 409, answer.text
    body = answer.json()
    return body["errorCode"], body["message"]


def same_values(frame: pl.DataFrame, expected: list[dict[str, Any]]) -> None:
    """Every expected value once and nothing else."""
    ours = sorted(tuple(r[k] for k in KEY) for r in frame.iter_rows(named=True))
    assert len(set(ours)) == len(ours), "a value came twice"
    assert ours == keys(expected)


def imported(emulator: httpx.Client, rows: list[dict[str, Any]]) -> dict[str, Any]:
    answer = emulator.post("/api/dataValueSets", json={"dataValues": rows})
    summary: dict[str, Any] = answer.json()["response"]
    return summary


# --- org unit groups ---------------------------------------------------------------------------


def test_the_emulator_reads_org_unit_groups_as_their_members(emulator: httpx.Client) -> None:
    hiv = data_set(emulator, "HIV and TB")
    asked = [("dataSet", hiv), ("period", "202306")]
    clinics = members(emulator, "Clinique")
    by_group = values(emulator, [*asked, ("orgUnitGroup", group_id(emulator, "Clinique"))])
    assert by_group and {v["orgUnit"] for v in by_group} <= set(clinics)
    assert keys(by_group) == keys(values(emulator, asked + [("orgUnit", u) for u in clinics]))
    # two groups, one inside the other, and a unit of both: the union, each value once
    csi, public = group_id(emulator, "CSI"), group_id(emulator, "Public")
    unit = members(emulator, "CSI")[0]
    union = values(
        emulator, [*asked, ("orgUnitGroup", csi), ("orgUnitGroup", public), ("orgUnit", unit)]
    )
    assert keys(union) == keys(values(emulator, [*asked, ("orgUnitGroup", public)]))
    assert len(set(keys(union))) == len(union)
    # unknown groups are dropped, as DHIS2 drops identifiers it does not find
    ghost = ("orgUnitGroup", "NoSuchGroup")
    assert keys(values(emulator, [*asked, ghost, ("orgUnit", unit)])) == keys(
        values(emulator, [*asked, ("orgUnit", unit)])
    )
    assert refused(emulator, [*asked, ghost])[0] == "E2006"


def test_the_emulator_refuses_children_with_groups_as_dhis2_does(emulator: httpx.Client) -> None:
    asked = [("dataSet", data_set(emulator, "HIV and TB")), ("period", "202306")]
    units = named(emulator, "organisationUnits", "id,name,level")
    district = next(o["id"] for o in units.values() if o["level"] == 3)
    group = ("orgUnitGroup", group_id(emulator, "CSI"))
    code, message = refused(emulator, [*asked, group, ("orgUnit", district), ("children", "true")])
    assert (code, message) == (
        "E2007",
        "Organisation unit children cannot be included for organisation unit groups",
    )
    # without org units the last failed check is the one reported, as in DHIS2
    assert refused(emulator, [*asked, group, ("children", "true")])[0] == "E2008"
    assert refused(emulator, [("period", "202306")])[0] == "E2006"  # E2001 failed too


def test_the_client_reads_groups_and_units_once_each_by_chunks(
    dhis2: DHIS2, emulator: httpx.Client
) -> None:
    hiv = data_set(emulator, "HIV and TB")
    csi, clinics = group_id(emulator, "CSI"), group_id(emulator, "Clinique")
    extra = members(emulator, "Case de santé")[:2]
    frame = dhis2.data_value_sets(
        datasets=[hiv],
        org_units=[*extra, members(emulator, "CSI")[0]],  # the last one is in a group too
        org_unit_groups=[csi, clinics],
        periods=["202306", "202307", "202308"],
        chunks=TINY,
    )
    expected = values(
        emulator,
        [("dataSet", hiv), ("period", "202306"), ("period", "202307"), ("period", "202308")]
        + [("orgUnitGroup", csi), ("orgUnitGroup", clinics)]
        + [("orgUnit", u) for u in extra],
    )
    assert expected
    same_values(frame, expected)
    with pytest.raises(DHIS2Error) as unknown:
        dhis2.data_value_sets(datasets=[hiv], org_unit_groups=["NoSuchGroup"], periods=["202306"])
    assert unknown.value.code == "E1112" and "NoSuchGroup" in str(unknown.value)
    with pytest.raises(ValueError, match="E2007"):
        dhis2.data_value_sets(
            datasets=[hiv], org_units=extra, org_unit_groups=[csi], children=True, periods=["2023"]
        )


# --- last updated within a duration -------------------------------------------------------------


def test_the_emulator_checks_durations_as_dhis2_does(emulator: httpx.Client) -> None:
    asked = [
        ("dataSet", data_set(emulator, "HIV and TB")),
        ("orgUnit", members(emulator, "CSI")[0]),
    ]
    for bad in ("5 days", "2w", "1.5h", "h", "-3d"):
        code, message = refused(emulator, [*asked, ("lastUpdatedDuration", bad)])
        assert (code, message) == ("E2005", f"Duration is not valid: `{bad}`")
    for good in ("0s", "90m", "36h", "400d"):
        answer = emulator.get("/api/dataValueSets", params=[*asked, ("lastUpdatedDuration", good)])
        assert answer.status_code == 200, good


def test_a_duration_counts_back_from_the_servers_clock(emulator: httpx.Client) -> None:
    hiv = data_set(emulator, "HIV and TB")
    unit = members(emulator, "CSI")[1]
    asked = [("dataSet", hiv), ("orgUnit", unit)]
    new = row(emulator, "HIV tests performed", period="202401", orgUnit=unit, value="77")
    element = new["dataElement"]
    assert imported(emulator, [new])["status"] == "SUCCESS"
    # generated values were entered in 2024 (the emulator's today is 2024-07-26); only the
    # value just imported changed within the last hour
    recent = values(emulator, [*asked, ("lastUpdatedDuration", "1h")])
    assert [(v["dataElement"], v["period"], v["value"]) for v in recent] == [
        (element, "202401", "77")
    ]
    assert values(emulator, [*asked, ("lastUpdatedDuration", "3600s")]) == recent
    # a duration reaching back to mid-June 2024 gives what lastUpdated of that moment gives
    # (21:00, far from the 09:30 of generated entries: the seconds between requests are moot)
    target = datetime(2024, 6, 10, 21, 0, tzinfo=UTC)
    hours = round((datetime.now(UTC) - target) / timedelta(hours=1))
    by_duration = values(emulator, [*asked, ("lastUpdatedDuration", f"{hours}h")])
    by_moment = values(emulator, [*asked, ("lastUpdated", "2024-06-10T21:00:00.000")])
    everything = values(emulator, [*asked, ("startDate", "2020-01-01"), ("endDate", "2024-12-31")])
    assert recent[0] in by_duration
    assert keys(by_duration) == keys(by_moment) and 1 < len(by_duration) < len(everything)
    # lastUpdated wins over a duration, as in DHIS2
    both = values(
        emulator,
        [*asked, ("lastUpdated", "2024-06-10T21:00:00.000"), ("lastUpdatedDuration", "1h")],
    )
    assert keys(both) == keys(by_moment)


def test_the_client_asks_dhis2_for_recent_values_by_chunks(
    dhis2: DHIS2, emulator: httpx.Client
) -> None:
    hiv = data_set(emulator, "HIV and TB")
    units = members(emulator, "CSI")[2:5]
    rows = [
        row(emulator, "People started on ART", period="202312", orgUnit=u, value="5") for u in units
    ]
    counts = imported(emulator, rows)["importCount"]
    assert counts["imported"] + counts["updated"] == 3  # new, or replacing a generated value
    for duration in ("2h", timedelta(hours=2)):
        frame = dhis2.data_value_sets(
            datasets=[hiv], org_units=units, last_updated_duration=duration, chunks=TINY
        )
        assert sorted(frame["org_unit"]) == sorted(units)
        assert set(frame["period"]) == {"202312"} and set(frame["value"].cast(pl.Int64)) == {5}
    target = datetime(2024, 5, 20, 21, 0, tzinfo=UTC)
    hours = round((datetime.now(UTC) - target) / timedelta(hours=1))
    frame = dhis2.data_value_sets(
        datasets=[hiv], org_units=units, last_updated_duration=f"{hours}h", chunks=TINY
    )
    same_values(
        frame,
        values(
            emulator,
            [("dataSet", hiv), ("lastUpdatedDuration", f"{hours}h")]
            + [("orgUnit", u) for u in units],
        ),
    )
    assert frame.height > 3 and cast(datetime, frame["last_updated"].min()) >= target
    with pytest.raises(ValueError, match="last_updated_duration"):
        dhis2.data_value_sets(datasets=[hiv], org_units=units, last_updated_duration="2 hours")


# --- attribute option combos -------------------------------------------------------------------


def test_values_are_kept_apart_by_their_attribute_option_combo(emulator: httpx.Client) -> None:
    by_funding = data_set(emulator, "HIV services by funding")
    combos = funding(emulator)
    government, donor = combos["Government"], combos["Donor"]
    unit = members(emulator, "CSI")[5]
    value = row(emulator, "HIV tests performed", period="202306", orgUnit=unit, value="3")
    rows = [
        {**value, "attributeOptionCombo": donor},
        {**value, "attributeOptionCombo": government, "value": "9"},
    ]
    assert imported(emulator, rows)["importCount"]["imported"] == 2
    asked = [("dataSet", by_funding), ("period", "202306"), ("orgUnit", unit)]
    everything = values(emulator, asked)
    assert {v["attributeOptionCombo"] for v in everything} == {DEFAULT_COC, donor, government}
    only_donor = values(emulator, [*asked, ("attributeOptionCombo", donor)])
    assert [(v["attributeOptionCombo"], v["value"]) for v in only_donor] == [(donor, "3")]
    both = [("attributeOptionCombo", donor), ("attributeOptionCombo", government)]
    assert sorted(v["value"] for v in values(emulator, asked + both)) == ["3", "9"]
    default = values(emulator, [*asked, ("attributeOptionCombo", DEFAULT_COC)])
    assert default and {v["attributeOptionCombo"] for v in default} == {DEFAULT_COC}
    assert len(default) + 2 == len(everything)
    # DHIS2 drops unknown identifiers: with none left, nothing is filtered
    unknown = values(emulator, [*asked, ("attributeOptionCombo", "NoSuchCombo")])
    assert keys(unknown) == keys(everything)
    csv = emulator.get("/api/dataValueSets.csv", params=[*asked, ("attributeOptionCombo", donor)])
    lines = csv.text.splitlines()[1:]
    assert len(lines) == 1 and f",{donor},3," in lines[0]


def test_an_attribute_option_combo_must_be_one_of_the_elements_data_sets(
    emulator: httpx.Client,
) -> None:
    donor = funding(emulator)["Donor"]
    unit = members(emulator, "CSI")[6]
    place = {"period": "202306", "orgUnit": unit, "value": "1"}
    rows = [
        {**row(emulator, "Malaria deaths", **place), "attributeOptionCombo": donor},
        {**row(emulator, "HIV positive tests", **place), "attributeOptionCombo": "NoSuchCombo"},
        {**row(emulator, "HIV positive tests", **place), "attributeOptionCombo": donor},
    ]
    summary = imported(emulator, rows)
    assert [(c["errorCode"], c["object"], c["indexes"]) for c in summary["conflicts"]] == [
        ("E7615", donor, [0]),
        ("E7615", "NoSuchCombo", [1]),
    ]
    assert summary["importCount"]["imported"] == 1


def test_the_client_selects_attribute_option_combos(dhis2: DHIS2, emulator: httpx.Client) -> None:
    by_funding = data_set(emulator, "HIV services by funding")
    donor = funding(emulator)["Donor"]
    units = members(emulator, "CSI")[7:11]
    rows = [
        {
            **row(emulator, "HIV positive tests", period="202305", orgUnit=u, value="2"),
            "attributeOptionCombo": donor,
        }
        for u in units[:3]
    ]
    assert imported(emulator, rows)["importCount"]["imported"] == 3
    selection = DataValueSelection(
        datasets=[by_funding],
        org_units=units,
        start_date="2023-01-01",
        end_date="2023-12-31",
        attribute_option_combos=[donor],
    )
    frame = dhis2.data_value_sets(selection, chunks=TINY, names=True)
    assert sorted(frame["org_unit"]) == sorted(units[:3])
    assert set(frame["attribute_option_combo_name"]) == {"Donor"}
    same_values(
        frame.select(KEY),
        values(
            emulator,
            [("dataSet", by_funding), ("startDate", "2023-01-01"), ("endDate", "2023-12-31")]
            + [("attributeOptionCombo", donor)]
            + [("orgUnit", u) for u in units],
        ),
    )
    plain = dhis2.data_value_sets(
        replace(selection, attribute_option_combos=(DEFAULT_COC,)), chunks=TINY
    )
    assert plain.height > 0 and set(plain["attribute_option_combo"]) == {DEFAULT_COC}
    with pytest.raises(DHIS2Error) as unknown:
        dhis2.data_value_sets(replace(selection, attribute_option_combos=("NoSuchCombo",)))
    assert unknown.value.code == "E1112" and "NoSuchCombo" in str(unknown.value)


# --- one selection for every method ---------------------------------------------------------------


def test_a_selection_object_works_with_every_extraction_method(
    dhis2: DHIS2, emulator: httpx.Client, tmp_path: Path
) -> None:
    hiv = data_set(emulator, "HIV and TB")
    units = members(emulator, "Hôpital de district")[:3]
    keywords: dict[str, Any] = {
        "datasets": [hiv],
        "org_units": units,
        "periods": ["202306", "202309"],
    }
    selection = DataValueSelection(**keywords)
    whole = dhis2.data_value_sets(selection, chunks=TINY)
    assert whole.height > 0
    assert whole.equals(dhis2.data_value_sets(**keywords, chunks=TINY))
    batches = list(dhis2.iter_data_value_sets(selection, chunks=TINY))
    assert len(batches) > 1 and pl.concat(batches).equals(whole)
    summary = dhis2.data_value_sets_to_parquet(tmp_path / "v.parquet", selection, chunks=TINY)
    assert summary.values == whole.height and pl.read_parquet(summary.path).equals(whole)
    with pytest.raises(TypeError, match="not both"):
        dhis2.data_value_sets(selection, periods=["202401"])


def test_a_single_data_value_set_has_dhis2s_header_whatever_else_is_asked(
    emulator: httpx.Client,
) -> None:
    malaria = data_set(emulator, "Malaria monthly report")
    units = named(emulator, "organisationUnits", "id,name,level")
    district = next(o["id"] for o in units.values() if o["level"] == 3)
    asked = [("dataSet", malaria), ("period", "202306"), ("orgUnit", district)]
    with_children = emulator.get("/api/dataValueSets", params=[*asked, ("children", "true")]).json()
    assert {k: with_children[k] for k in ("dataSet", "period", "orgUnit")} == {
        "dataSet": malaria,
        "period": "202306",
        "orgUnit": district,
    }
    assert with_children["dataValues"] and "completeDate" in with_children
    group = named(emulator, "dataElementGroups")["Malaria"]["id"]
    grouped = emulator.get("/api/dataValueSets", params=[*asked, ("dataElementGroup", group)])
    assert list(grouped.json()) == ["dataValues"]
    twice = emulator.get("/api/dataValueSets", params=[*asked, ("period", "202306")]).json()
    assert twice["period"] == "202306"  # the same period twice is one period


def test_the_documented_example_runs() -> None:
    text = (Path(__file__).parents[2] / "docs" / "dhis2.md").read_text()
    section = text.split("\n## Data values\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/dhis2.md", "exec"), {})  # noqa: S102
