"""Data values through the client, over real HTTP: the emulator (chunked answers compared with
one unchunked request), a server answering chosen values (typing), and real DHIS2 2.39
recordings. Chunk sizes are tiny so that many requests run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

import httpx
import polars as pl
import pytest
import yaml

from joliba.dhis2.chunks import Chunks, split_subtrees, weighted_batches
from joliba.dhis2.client import DHIS2
from joliba.dhis2.data_values import CSV_ORDER, parse_csv
from joliba.dhis2.emulator import Faults
from joliba.dhis2.http import DHIS2Error
from tests.dhis2.emulator_support import live_emulator
from tests.dhis2.replay import RECORDINGS, recorded, replay

TINY = Chunks(org_units=2, subtree_units=1, data_elements=3, periods=2)
KEY = ["data_element", "period", "org_unit", "category_option_combo", "attribute_option_combo"]


@pytest.fixture(scope="module")
def emulator() -> Iterator[httpx.Client]:
    with live_emulator(seed=1, scale=0.1) as client:
        yield client


@pytest.fixture(scope="module")
def dhis2(emulator: httpx.Client) -> Iterator[DHIS2]:
    with DHIS2(str(emulator.base_url), username="admin", password="district") as client:
        yield client


def named(dhis2: DHIS2, table: pl.DataFrame, name: str) -> str:
    return str(table.filter(pl.col("name") == name)["id"][0])


def one_request(emulator: httpx.Client, params: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The values of a single, unchunked request: what the client must match."""
    answer = emulator.get("/api/dataValueSets.json", params=tuple(params))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["dataValues"])


def same_values(frame: pl.DataFrame, expected: list[dict[str, Any]]) -> None:
    """Every expected value once, nothing else (values compared as numbers when typed)."""
    ours = {tuple(r[k] for k in KEY): r["value"] for r in frame.iter_rows(named=True)}
    assert len(ours) == frame.height, "a value came twice"
    fields = ["dataElement", "period", "orgUnit", "categoryOptionCombo", "attributeOptionCombo"]
    theirs = {tuple(v[f] for f in fields): v["value"] for v in expected}
    assert ours.keys() == theirs.keys()
    for key, text in theirs.items():
        value = ours[key]
        assert value == (text if isinstance(value, str) else float(text)), key


# --- chunks equal one request ------------------------------------------------------------------


def test_weekly_and_monthly_values_across_window_edges_equal_one_request(
    dhis2: DHIS2, emulator: httpx.Client
) -> None:
    sets = dhis2.datasets()
    weekly, monthly = named(dhis2, sets, "IDSR weekly report"), named(dhis2, sets, "HIV and TB")
    facilities = dhis2.organisation_units(level=4)["id"].to_list()[:5]
    # 2022W51 (19-25 Dec) and 2023W7 (13-19 Feb) straddle the range's edges: DHIS2 leaves
    # them out; 2022W52 (26 Dec - 1 Jan) and 2023W1 cross the new year inside it.
    start, end = "2022-12-21", "2023-02-14"
    frame = dhis2.data_value_sets(
        datasets=[weekly, monthly],
        org_units=facilities,
        start_date=start,
        end_date=end,
        chunks=TINY,
    )
    expected = one_request(
        emulator,
        [("dataSet", weekly), ("dataSet", monthly), ("startDate", start), ("endDate", end)]
        + [("orgUnit", f) for f in facilities],
    )
    assert len(expected) > 500
    same_values(frame, expected)
    found = set(frame["period"])
    assert {"2022W52", "2023W1", "2023W6", "202301"} <= found
    assert not found & {"2022W51", "2023W7", "202212", "202302"}
    assert frame.schema["value"] == pl.Int64 and "invalid_value" in frame.columns
    assert frame["invalid_value"].null_count() == frame.height
    # The same selection, planned again, gives the same rows in the same order.
    again = dhis2.data_value_sets(
        datasets=[weekly, monthly],
        org_units=facilities,
        start_date=start,
        end_date=end,
        chunks=TINY,
    )
    assert again.equals(frame)


def test_children_of_overlapping_org_units_come_once(dhis2: DHIS2, emulator: httpx.Client) -> None:
    units = dhis2.organisation_units()
    facility = units.filter(pl.col("level") == 4).row(0, named=True)
    district = str(facility["parent_id"])
    region = str(units.filter(pl.col("id") == district)["parent_id"][0])
    other_region = units.filter((pl.col("level") == 2) & (pl.col("id") != region))["id"][0]
    group = named(dhis2, dhis2.data_element_groups(), "ANC")
    asked = [facility["id"], district, region, other_region]
    frame = dhis2.data_value_sets(
        data_element_groups=[group],
        org_units=asked,
        children=True,
        periods=["202301", "202302", "202303"],
        chunks=TINY,
    )
    expected = one_request(
        emulator,
        [("dataElementGroup", group), ("children", "true")]
        + [("period", p) for p in ("202301", "202302", "202303")]
        + [("orgUnit", u) for u in asked],
    )
    same_values(frame, expected)
    assert facility["id"] in set(frame["org_unit"])


def test_period_lists_and_last_updated_equal_one_request(
    dhis2: DHIS2, emulator: httpx.Client
) -> None:
    elements = dhis2.data_elements(filters=["domainType:eq:AGGREGATE"])["id"].to_list()[:7]
    facilities = dhis2.organisation_units(level=4)["id"].to_list()[10:15]
    periods = ["202301", "202302", "202303", "202304", "202305", "2023W3", "2023W4"]
    frame = dhis2.data_value_sets(
        data_elements=elements, org_units=facilities, periods=periods, chunks=TINY
    )
    expected = one_request(
        emulator,
        [("dataElement", e) for e in elements]
        + [("period", p) for p in periods]
        + [("orgUnit", f) for f in facilities],
    )
    same_values(frame, expected)
    # lastUpdated alone cannot be split by period: by org units and data elements only.
    since = "2024-06-01"
    recent = dhis2.data_value_sets(
        data_elements=elements, org_units=facilities, last_updated=since, chunks=TINY
    )
    expected = one_request(
        emulator,
        [("dataElement", e) for e in elements]
        + [("lastUpdated", since)]
        + [("orgUnit", f) for f in facilities],
    )
    assert expected
    same_values(recent, expected)
    assert cast(datetime, recent["last_updated"].min()) >= datetime(2024, 6, 1, tzinfo=UTC)


def test_batches_stream_in_order_with_one_schema(dhis2: DHIS2) -> None:
    group = named(dhis2, dhis2.data_element_groups(), "Facility")
    facilities = dhis2.organisation_units(level=4)["id"].to_list()[:6]
    selection: dict[str, Any] = {
        "data_element_groups": [group],
        "org_units": facilities,
        "start_date": "2023-01-01",
        "end_date": "2023-12-31",
        "chunks": TINY,
    }
    batches = list(dhis2.iter_data_value_sets(**selection))
    assert len(batches) > 10
    assert {tuple(b.schema.items()) for b in batches} == {tuple(batches[0].schema.items())}
    whole = dhis2.data_value_sets(**selection)
    assert pl.concat(batches).equals(whole)
    # NUMBER elements: Float64 values.
    assert whole.schema["value"] == pl.Float64 and whole.height > 100


# --- typing ----------------------------------------------------------------------------------


def test_emulator_values_typed_and_imported_values_read_back(
    dhis2: DHIS2, emulator: httpx.Client
) -> None:
    elements = dhis2.data_elements()
    staff = named(dhis2, elements, "Staff present")  # NUMBER
    facility = dhis2.organisation_units(level=4)["id"][0]
    imported = emulator.post(
        "/api/dataValueSets",
        json={
            "dataValues": [
                {"dataElement": staff, "period": "202001", "orgUnit": facility, "value": "12.5"},
                {
                    "dataElement": staff,
                    "period": "202002",
                    "orgUnit": facility,
                    "value": "3",
                    "comment": "checked",
                    "followUp": True,
                },
                {"dataElement": staff, "period": "202003", "orgUnit": facility, "value": "9"},
            ]
        },
    )
    assert imported.status_code == 200, imported.text
    deleted = emulator.post(
        "/api/dataValueSets",
        params={"importStrategy": "DELETE"},
        json={
            "dataValues": [
                {"dataElement": staff, "period": "202003", "orgUnit": facility, "value": "9"}
            ]
        },
    )
    assert deleted.json()["response"]["importCount"]["deleted"] == 1, deleted.text
    chosen: dict[str, Any] = {
        "data_elements": [staff],
        "org_units": [facility],
        "periods": ["202001", "202002", "202003"],
    }
    frame = dhis2.data_value_sets(**chosen, answer_format="json")
    assert frame.schema["value"] == pl.Float64
    assert frame.schema["created"] == pl.Datetime("ms", "UTC")
    # CSV, the default, says the same but for the creation time, which it does not carry.
    assert dhis2.data_value_sets(**chosen).equals(frame.drop("created"))
    by_period = {r["period"]: r for r in frame.iter_rows(named=True)}
    assert set(by_period) == {"202001", "202002"}, "a deleted value is left out"
    assert by_period["202001"]["value"] == 12.5
    assert by_period["202002"]["comment"] == "checked" and by_period["202002"]["followup"]
    assert by_period["202001"]["last_updated"].year >= 2024
    with_deleted = dhis2.data_value_sets(
        data_elements=[staff],
        org_units=[facility],
        periods=["202001", "202002", "202003"],
        include_deleted=True,
    )
    assert dict(with_deleted.select("period", "deleted").iter_rows()) == {
        "202001": False,
        "202002": False,
        "202003": True,
    }
    assert "deleted" not in frame.columns


TYPES = {
    "deInteger00": "INTEGER_ZERO_OR_POSITIVE",
    "deNumber000": "NUMBER",
    "dePercent00": "PERCENTAGE",
    "deBoolean00": "BOOLEAN",
    "deTrueOnly0": "TRUE_ONLY",
    "deDate00000": "DATE",
    "deText00000": "TEXT",
    "deCoordinat": "COORDINATE",
}
VALUES = {
    "deInteger00": ["1", "10.0", " 3 ", "abc", "", "2.5"],
    "deNumber000": ["1.25", "-4", "1e3", "nan", "x"],
    "dePercent00": ["50"],
    "deBoolean00": ["true", "false", "maybe"],
    "deTrueOnly0": ["true"],
    "deDate00000": ["2024-01-31", "2024-02-30", "2024-03-01T00:00:00.000"],
    "deText00000": ["hello", "12"],
    "deCoordinat": ["[-11.4,8.1]"],
    "deUnknown00": ["7"],  # in no metadata the client can read
}


def typing_server(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
    """A DHIS2 that knows the elements of TYPES and answers VALUES for them."""
    if path.endswith("system/info"):
        return 200, {"version": "2.40.1"}
    if path.endswith("dataElements"):
        wanted = query["filter"][0].removeprefix("id:in:[").removesuffix("]").split(",")
        items = [{"id": i, "valueType": TYPES[i]} for i in wanted if i in TYPES]
        return 200, {"pager": {"page": 1, "pageCount": 1}, "dataElements": items}
    if path.endswith("dataValueSets.json"):
        rows = [
            {
                "dataElement": de,
                "period": f"2024010{n + 1}",
                "orgUnit": "ouFacility1",
                "categoryOptionCombo": "HllvX50cXC0",
                "attributeOptionCombo": "HllvX50cXC0",
                "value": value,
                "storedBy": "admin",
                "created": "2024-01-05T08:30:00.000+0000",
                "lastUpdated": "2024-01-06T10:00:00.000",  # no offset: read as UTC
                "comment": "",
                "followup": False,
            }
            for de in query.get("dataElement", [])
            for n, value in enumerate(VALUES[de])
        ]
        return 200, {"dataValues": rows}
    return 404, {"httpStatusCode": 404, "message": "Not Found"}


def typed(url: str, *elements: str) -> pl.DataFrame:
    with DHIS2(url, token="d2pat_x") as dhis2:
        return dhis2.data_value_sets(  # the server here answers JSON only
            data_elements=elements,
            org_units=["ouFacility1"],
            periods=["20240101"],
            answer_format="json",
        )


def column(frame: pl.DataFrame, element: str, name: str) -> list[Any]:
    return frame.filter(pl.col("data_element") == element)[name].to_list()


def test_values_are_typed_by_their_data_elements_value_types() -> None:
    with replay() as server:
        server.handler = typing_server
        integers = typed(server.url, "deInteger00")
        assert integers.schema["value"] == pl.Int64
        assert integers["value"].to_list() == [1, 10, 3, None, None, None]
        # Bad text stays visible; an empty value is missing, not invalid.
        assert integers["invalid_value"].to_list() == [None, None, None, "abc", None, "2.5"]
        assert integers["created"][0] == datetime(2024, 1, 5, 8, 30, tzinfo=UTC)
        assert integers["last_updated"][0] == datetime(2024, 1, 6, 10, tzinfo=UTC)

        numbers = typed(server.url, "deInteger00", "deNumber000", "dePercent00")
        assert numbers.schema["value"] == pl.Float64
        assert column(numbers, "deNumber000", "value") == [1.25, -4.0, 1000.0, None, None]
        assert column(numbers, "deNumber000", "invalid_value") == [None, None, None, "nan", "x"]
        assert column(numbers, "deInteger00", "value")[-1] == 2.5

        booleans = typed(server.url, "deBoolean00", "deTrueOnly0")
        assert booleans.schema["value"] == pl.Boolean
        assert booleans["value"].to_list() == [True, False, None, True]
        assert booleans["invalid_value"].to_list() == [None, None, "maybe", None]

        dates = typed(server.url, "deDate00000")
        assert dates.schema["value"] == pl.Date
        assert [str(d) for d in dates["value"]] == ["2024-01-31", "None", "2024-03-01"]
        assert dates["invalid_value"].to_list() == [None, "2024-02-30", None]

        texts = typed(server.url, "deText00000", "deCoordinat")
        assert texts.schema["value"] == pl.String
        assert "invalid_value" not in texts.columns and "value_number" not in texts.columns

        mixed = typed(server.url, "deInteger00", "deBoolean00", "deText00000", "deDate00000")
        assert mixed.schema["value"] == pl.String
        assert mixed.columns[5:8] == ["value", "value_number", "invalid_value"]
        assert column(mixed, "deInteger00", "value_number") == [1.0, 10.0, 3.0, None, None, 2.5]
        assert column(mixed, "deText00000", "value_number") == [None, None], "text stays text"
        assert column(mixed, "deBoolean00", "invalid_value") == [None, None, "maybe"]
        assert column(mixed, "deDate00000", "invalid_value") == [None, "2024-02-30", None]
        assert column(mixed, "deInteger00", "invalid_value")[3] == "abc"

        # An element metadata does not show is read as text, which makes the selection mixed.
        unknown = typed(server.url, "deInteger00", "deUnknown00")
        assert unknown.schema["value"] == pl.String
        assert column(unknown, "deUnknown00", "value_number") == [None]


# --- Parquet -----------------------------------------------------------------------------------


def test_parquet_stream_equals_the_frame_with_names_and_hierarchy(
    dhis2: DHIS2, tmp_path: Path
) -> None:
    sets = dhis2.datasets()
    selection: dict[str, Any] = {
        "datasets": [named(dhis2, sets, "Outpatient monthly report")],  # NUMBER and INTEGER
        "org_units": dhis2.organisation_units(level=3)["id"].to_list()[:3],
        "children": True,
        "start_date": "2023-01-01",
        "end_date": "2023-06-30",
        "names": True,
        "hierarchy": True,
        "chunks": Chunks(subtree_units=1, data_elements=8, periods=2),
    }
    frame = dhis2.data_value_sets(**selection)
    path = tmp_path / "out" / "values.parquet"
    summary = dhis2.data_value_sets_to_parquet(path, **selection)
    written = pl.read_parquet(path)
    assert written.equals(frame)
    assert summary.path == path and summary.values == frame.height > 1000
    # Each district is split (subtree_units=1): it alone, then its facilities one by one;
    # every unit batch is asked for 3 period lists x 3 element batches.
    assert summary.requests % 9 == 0 and summary.requests > 3 * 9
    assert summary.seconds > 0
    assert not (tmp_path / "out" / "values.parquet.partial").exists()
    assert frame["org_unit_name"].null_count() == 0
    assert frame["level_4_id"].equals(frame["org_unit"].alias("level_4_id"))
    assert set(frame["level_3_id"]) == set(selection["org_units"])

    # Nothing found: a file with the schema and no rows.
    empty = dhis2.data_value_sets_to_parquet(
        tmp_path / "empty.parquet",
        **{**selection, "start_date": "2010-01-01", "end_date": "2010-12-31"},
    )
    assert empty.values == 0
    assert pl.read_parquet(tmp_path / "empty.parquet").schema == frame.schema


def test_a_failed_extraction_leaves_no_partial_file(tmp_path: Path) -> None:
    faults = Faults(seed=7)
    with (
        live_emulator(seed=1, scale=0.1, faults=faults) as emulator,
        DHIS2(
            str(emulator.base_url),
            username="admin",
            password="district",
            retries=1,
            cache_dir=tmp_path / "cache",  # metadata is read from here once faults begin
        ) as dhis2,
    ):
        selection: dict[str, Any] = {
            "datasets": [named(dhis2, dhis2.datasets(), "Malaria monthly report")],
            "org_units": dhis2.organisation_units(level=4)["id"].to_list()[:40],
            "start_date": "2023-01-01",
            "end_date": "2023-12-31",
            "chunks": Chunks(org_units=5, data_elements=6, periods=3),
        }
        path = tmp_path / "values.parquet"
        good = dhis2.data_value_sets_to_parquet(path, **selection)
        assert good.requests == 8 * 3 * 4
        before = path.read_bytes()
        for rate in (0.5, 1.0):  # a failure after some batches were written, then at once
            faults.error_rate = rate
            with pytest.raises(DHIS2Error) as failed:
                dhis2.data_value_sets_to_parquet(path, **selection)
            assert failed.value.status in (500, 502, 503)
            assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "values.parquet"]
            assert path.read_bytes() == before, "the previous file is left as it was"


# --- errors --------------------------------------------------------------------------------


def test_refusals_and_bad_selections_are_clear_errors(dhis2: DHIS2) -> None:
    facility = dhis2.organisation_units(level=4)["id"][0]
    with pytest.raises(DHIS2Error) as refused:
        dhis2.data_value_sets(
            data_elements=["NoSuchElem1"], org_units=[facility], periods=["202401"]
        )
    assert refused.value.status == 409 and refused.value.code == "E2015"
    assert "NoSuchElem1" in str(refused.value)
    with pytest.raises(DHIS2Error) as unknown_set:
        dhis2.data_value_sets(datasets=["NoSuchSet01"], org_units=[facility], periods=["202401"])
    assert unknown_set.value.code == "E2013" and "NoSuchSet01" in str(unknown_set.value)
    bad: list[tuple[dict[str, Any], str]] = [
        ({"org_units": [facility], "periods": ["202401"]}, "data_elements, datasets"),
        ({"datasets": ["x"], "org_units": [], "periods": ["202401"]}, "org_units"),
        ({"datasets": ["x"], "org_units": [facility]}, "periods, start_date"),
        ({"datasets": ["x"], "org_units": [facility], "start_date": "2024-01-01"}, "together"),
        (
            {
                "datasets": ["x"],
                "org_units": [facility],
                "start_date": "2024-02-01",
                "end_date": "2024-01-01",
            },
            "after end_date",
        ),
        ({"datasets": ["x"], "org_units": [facility], "periods": ["2024W99"]}, "2024W99"),
        ({"datasets": "abc", "org_units": [facility], "periods": ["202401"]}, "list of ids"),
    ]
    for selection, message in bad:
        with pytest.raises(ValueError, match=message):
            dhis2.data_value_sets(**selection)


def test_before_2_39_data_sets_are_asked_whole(tmp_path: Path) -> None:
    with (
        live_emulator(seed=1, scale=0.1, version="2.38") as emulator,
        DHIS2(str(emulator.base_url), username="admin", password="district") as dhis2,
    ):
        sets = dhis2.datasets()
        anc, hiv = (
            named(dhis2, sets, "Reproductive and child health"),
            named(dhis2, sets, "HIV and TB"),
        )
        facilities = dhis2.organisation_units(level=4)["id"].to_list()[:5]
        frame = dhis2.data_value_sets(
            datasets=[anc, hiv],
            org_units=facilities,
            start_date="2022-01-01",
            end_date="2022-12-31",
            chunks=TINY,
        )
        expected = one_request(
            emulator,
            [("dataSet", anc), ("dataSet", hiv)]
            + [("startDate", "2022-01-01"), ("endDate", "2022-12-31")]
            + [("orgUnit", f) for f in facilities],
        )
        same_values(frame, expected)
        element = dhis2.data_elements()["id"][0]
        with pytest.raises(ValueError, match=r"2\.39"):
            dhis2.data_value_sets(data_elements=[element], org_units=facilities, periods=["202201"])


# --- real DHIS2 answers ----------------------------------------------------------------------


def recorded_values(name: str) -> dict[tuple[str, ...], str]:
    """Recorded dataValueSets answers by their query (all but ``children``)."""
    found: dict[tuple[str, ...], str] = {}
    for item in yaml.safe_load((RECORDINGS / "2.39" / f"{name}.yaml").read_text())["responses"]:
        query = parse_qs(urlsplit(item["response"]["url"]).query)
        query.pop("children", None)
        found[_query_key(query)] = str(item["response"]["body"])
    return found


def _query_key(query: dict[str, list[str]]) -> tuple[str, ...]:
    return tuple(sorted(f"{k}={v}" for k, values in query.items() for v in values))


def test_real_dhis2_answers_chunked_by_period_and_the_parallel_cap() -> None:
    metadata = recorded("2.39", "dhis2_init", "datasets", "data_elements")
    by_query = {**recorded_values("data_value_sets_get_dataset")}
    by_query.update(recorded_values("data_value_sets_get_start_end"))

    sets = json.loads(metadata[("/api/dataSets", "1")][1])["dataSets"]
    members = {
        e["dataElement"]["id"]
        for s in sets
        if s["id"] == "BfMAe6Itzgt"
        for e in s["dataSetElements"]
    }

    def answer(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if path.endswith("dataValueSets.json"):
            query.pop("children", None)
            # 2.39 is asked by data element: all of the data set's (one batch here).
            assert set(query.pop("dataElement")) == members
            return 200, by_query[_query_key({**query, "dataSet": ["BfMAe6Itzgt"]})]
        # Metadata as recorded (the recording ignored our filters and fields; ids still match).
        status, body = metadata[(path, query.get("page", ["1"])[0])]
        return status, body

    with replay() as server:
        server.handler = answer
        server.delay = 0.05
        with DHIS2(server.url, username="admin", password="district", max_parallel=2) as dhis2:
            frame = dhis2.data_value_sets(
                datasets=["BfMAe6Itzgt"],
                org_units=["uNEhNuBUr0i"],
                periods=["202306", "202307", "202308"],
                chunks=Chunks(periods=1),
                answer_format="json",  # what the recordings hold
            )
            # The recordings hold no value types: every value is text.
            assert frame.schema["value"] == pl.String
            bodies = [json.loads(b) for k, b in by_query.items() if "dataSet=BfMAe6Itzgt" in k]
            expected = [v for b in bodies if "period" in b for v in b["dataValues"]]
            same_values(frame, expected)
            assert set(frame["period"]) == {"202306", "202307", "202308"}
            assert cast(int, frame["created"].dt.year().min()) >= 2010
            asked = [q for _m, p, q in server.requests if p.endswith("dataValueSets.json")]
            assert len(asked) == 3 and server.max_in_flight <= 2

            # Period types unknown: the date range goes whole, as DHIS2 must read it.
            ranged = dhis2.data_value_sets(
                datasets=["BfMAe6Itzgt"],
                org_units=["uNEhNuBUr0i"],
                start_date="2023-06-01",
                end_date="2023-09-01",
                chunks=Chunks(periods=1),
                answer_format="json",
            )
            start_end = next(iter(recorded_values("data_value_sets_get_start_end").values()))
            same_values(ranged, json.loads(start_end)["dataValues"])


def test_csv_answers_in_every_spelling_read_the_same() -> None:
    long = (
        "dataelement,period,orgunit,categoryoptioncombo,attributeoptioncombo,value,storedby,"
        "lastupdated,comment,followup,deleted\n"
        'deA,202401,ouB,cocC,aocD,12,admin,2024-02-01T09:30:00.000+0000,"a, ""quoted""\n'
        'note",false,false\n'
    )
    short = long.replace("categoryoptioncombo", "catoptcombo").replace(
        "attributeoptioncombo", "attroptcombo"
    )
    headless = long.split("\n", 1)[1]
    frames = [parse_csv(text.encode()) for text in (long, short, headless)]
    for frame in frames:
        row = frame.select(list(CSV_ORDER)).row(0, named=True)
        assert row["category_option_combo"] == "cocC" and row["value"] == "12"
        assert row["comment"] == 'a, "quoted"\nnote'
    assert parse_csv(b"").height == 0
    with pytest.raises(DHIS2Error, match="unknown columns"):
        parse_csv(b"dataelement,period,orgunit,colour\nx,202401,y,red\n")


def test_big_subtrees_are_split_so_that_each_unit_is_asked_once() -> None:
    paths = {
        "N": "/N",
        "R1": "/N/R1",
        "R2": "/N/R2",
        "D1": "/N/R1/D1",
        "D2": "/N/R1/D2",
        "F1": "/N/R1/D1/F1",
        "F2": "/N/R1/D1/F2",
        "F3": "/N/R2/F3",
    }
    whole, alone, weights = split_subtrees(["N"], paths, 3)
    assert alone == ("N", "R1")  # too big: asked without children
    assert whole == ("D1", "D2", "R2") and weights == {"D1": 3, "D2": 1, "R2": 2}
    # Together they cover every unit exactly once.
    covered = list(alone) + [u for u in paths if any(f"/{w}" in paths[u] for w in whole)]
    assert sorted(covered) == sorted(paths)
    assert weighted_batches(whole, weights, 3) == [("D1",), ("D2", "R2")]
    assert split_subtrees(["N"], paths, 100) == (("N",), (), {"N": 8})
