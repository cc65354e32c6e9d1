"""The emulator's data values: the vectorised block path gives exactly the values of the
one-value path, with ~10 % gaps, the country's magnitudes, seasons and entry dates; imported
values win; ``GET /api/dataValueSets`` answers the same values as JSON and as DHIS2's CSV."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections.abc import Iterator
from datetime import date

import httpx
import polars as pl
import pytest

from joliba.dhis2.emulator import _periods, build_country
from joliba.dhis2.emulator.country import Country
from joliba.dhis2.emulator.ids import DEFAULT_COC
from joliba.dhis2.emulator.value_stream import CSV_COLUMNS
from joliba.dhis2.emulator.values import DataValue, Values
from tests.dhis2.emulator_support import TODAY, live_emulator

CSV_KEYS = dict(
    zip(
        CSV_COLUMNS,
        [
            "dataElement",
            "period",
            "orgUnit",
            "categoryOptionCombo",
            "attributeOptionCombo",
            "value",
            "storedBy",
            "lastUpdated",
            "comment",
            "followup",
            "deleted",
        ],
        strict=True,
    )
)


@pytest.fixture(scope="module")
def country() -> Country:
    return build_country(4, scale=0.1)


def every_element(country: Country) -> list[str]:
    """The data elements of the data sets, each once (an element may be in two sets)."""
    found = [d for s in country.collections["dataSets"] for d in country.data_elements_of(s)]
    return list(dict.fromkeys(found))


def months(first: date, last: date) -> list[_periods.Period]:
    return _periods.periods_between("Monthly", first, last)


def one_by_one(
    values: Values, des: list[str], periods: list[_periods.Period], units: list[str]
) -> list[DataValue]:
    """The answer as the scalar path gives it, in DHIS2's order."""
    found = []
    for ou in units:
        for pe in periods:
            for de in des:
                if values.country.period_type.get(de) != pe.type:
                    continue
                for coc in values.country.cocs_of(de):
                    value = values.value(de, pe, ou, coc)
                    if value is not None:
                        found.append(value)
    return found


# --- generation -------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 700, 50_000])
def test_blocks_give_exactly_the_values_of_the_scalar_path(country: Country, rows: int) -> None:
    values = Values(country, today=TODAY)
    des = every_element(country)
    units = [f["id"] for f in country.level(4)[:5]]
    periods = months(date(2023, 11, 1), date(2024, 9, 30)) + _periods.periods_between(
        "Weekly", date(2024, 6, 1), date(2024, 8, 31)
    )
    blocks = list(values.blocks(des, periods, units, rows=rows))
    per_block = max(1, rows // values.template(des, periods).width)
    assert len(blocks) == -(-len(units) // per_block)
    from_blocks = [v for b in blocks for v in b.data_values()]
    expected = one_by_one(values, des, periods, units)
    assert from_blocks == expected
    assert {v.period for v in expected} >= {"202406", "2024W26"}
    # periods after today (202408, 202409, weeks from 2024W31) have no values
    assert not {v.period for v in expected} & {"202408", "202409", "2024W32"}
    assert list(values.select(des, periods, units)) == expected


def test_a_block_of_many_org_units_and_few_slots_keeps_dhis2s_order(country: Country) -> None:
    values = Values(country, today=TODAY)
    de = next(d for d in every_element(country) if len(country.cocs_of(d)) == 2)
    units = [f["id"] for f in country.level(4)[:60]]
    periods = months(date(2024, 1, 1), date(2024, 2, 29))
    (block,) = values.blocks([de], periods, units)
    assert list(block.data_values()) == one_by_one(values, [de], periods, units)
    # the frame itself is in order: the answer streams it as it is
    frame = block.generated
    positions = (frame["unit"].cast(pl.Int64) * block.template.width + frame["slot"]).to_list()
    assert len(set(frame["unit"])) > 40 and positions == sorted(positions)


def test_the_same_seed_gives_the_same_values_and_another_seed_others() -> None:
    def answer(seed: int) -> list[str]:
        country = build_country(seed, scale=0.1)
        values = Values(country, today=TODAY)
        units = [f["id"] for f in country.level(4)[:3]]
        return [v.value for v in values.select(every_element(country)[:20], PERIODS, units)]

    assert answer(4) == answer(4)
    assert answer(4) != answer(5)


PERIODS = months(date(2023, 1, 1), date(2023, 12, 31))


def test_about_one_value_in_ten_is_missing_and_dates_follow_the_period(country: Country) -> None:
    values = Values(country, today=TODAY)
    des = [d for d in every_element(country) if country.period_type[d] == "Monthly"]
    units = [f["id"] for f in country.level(4)]
    reported = {(v.data_element, v.period, v.org_unit) for v in values.select(des, PERIODS, units)}
    possible = len(des) * len(PERIODS) * len(units)
    assert 0.08 < 1 - len(reported) / possible < 0.12
    for value in values.select(des[:5], PERIODS, units[:10]):
        period = _periods.parse(value.period)
        assert period is not None
        entered = date.fromisoformat(value.created[:10])
        assert 1 <= (entered - period.end).days <= 20
        assert value.created == value.last_updated
        assert value.created.endswith("T09:30:00.000+0000")


def test_magnitudes_follow_facility_size_and_season(country: Country) -> None:
    values = Values(country, today=TODAY)
    units = [f["id"] for f in country.level(4)]
    by_size = sorted(units, key=lambda u: country.facility_size[u])
    small, large = by_size[: len(units) // 4], by_size[-len(units) // 4 :]
    opd = next(
        d for d in every_element(country) if d_name(country, d) == "Outpatient consultations"
    )

    def mean(de: str, periods: list[_periods.Period], units: list[str]) -> float:
        return statistics.mean(float(v.value) for v in values.select([de], periods, units))

    assert mean(opd, PERIODS, large) > 2 * mean(opd, PERIODS, small)
    names = {d_name(country, d): d for d in every_element(country)}
    malaria = names["Malaria confirmed cases"]
    july = months(date(2023, 7, 1), date(2023, 7, 31))
    january = months(date(2023, 1, 1), date(2023, 1, 31))
    assert mean(malaria, july, units) > 3 * mean(malaria, january, units)


def d_name(country: Country, de: str) -> str:
    return str(country.by_id[de]["name"])


# --- imported values --------------------------------------------------------------------------


def test_imported_values_win_in_place_deletions_hide_and_other_combos_come_last(
    country: Country,
) -> None:
    values = Values(country, today=TODAY)
    des = [d for d in every_element(country) if country.period_type[d] == "Monthly"][:6]
    units = [f["id"] for f in country.level(4)[:3]]
    periods = months(date(2023, 1, 1), date(2023, 3, 31))
    before = list(values.select(des, periods, units))
    changed, deleted = before[7], before[20]
    district = country.level(3)[0]["id"]
    old = _periods.parse("201001")
    assert old is not None
    coc = country.cocs_of(des[0])[0]
    other_aoc = "AAAAAAAAAAA"
    imported = {
        changed.key: DataValue(*changed.key, "99999", comment='said "yes", twice'),
        deleted.key: DataValue(*deleted.key, deleted.value, deleted=True),
        (des[0], "202302", units[1], coc, other_aoc): DataValue(
            des[0], "202302", units[1], coc, other_aoc, "5"
        ),
        # on a district, and before the data window: only imported values exist there
        (des[0], "201001", district, coc, DEFAULT_COC): DataValue(
            des[0], "201001", district, coc, DEFAULT_COC, "7"
        ),
    }
    values.overrides.update(imported)
    after = list(values.select(des, periods, units))
    expected = [v for v in before if v is not deleted]
    expected[expected.index(changed)] = imported[changed.key]
    assert after == [*expected, imported[(des[0], "202302", units[1], coc, other_aoc)]]
    assert after == [*one_by_one(values, des, periods, units), after[-1]]
    shown = list(values.select(des, periods, units, include_deleted=True))
    assert imported[deleted.key] in shown and shown.index(imported[deleted.key]) == 20
    outside = list(values.select([des[0]], [*periods, old], [district, *units]))
    assert outside[0] == imported[(des[0], "201001", district, coc, DEFAULT_COC)]
    numbers = values.numbers(changed.data_element, periods, units)
    assert numbers[(changed.org_unit, changed.period, changed.coc)] == 99999.0
    numbers = values.numbers(deleted.data_element, periods, units)
    assert (deleted.org_unit, deleted.period, deleted.coc) not in numbers
    assert len(numbers) == len([v for v in after if v.data_element == deleted.data_element]) - (
        deleted.data_element == des[0]  # the other attribute option combo's value is not counted
    )


# --- over HTTP: JSON and CSV ------------------------------------------------------------------


@pytest.fixture(scope="module")
def dhis2() -> Iterator[httpx.Client]:
    with live_emulator(seed=4, scale=0.1) as client:
        yield client


def selection(client: httpx.Client) -> tuple[tuple[str, str], ...]:
    country = client.app.state.emulator.country  # type: ignore[attr-defined]
    sets = [s["id"] for s in country.collections["dataSets"]]
    return (
        *(("dataSet", s) for s in sets),
        ("orgUnit", country.root["id"]),
        ("children", "true"),
        ("startDate", "2024-01-01"),
        ("endDate", "2024-06-30"),
    )


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == CSV_COLUMNS
    return list(reader)


def as_csv(value: dict[str, object]) -> dict[str, str]:
    """A JSON data value as DHIS2's CSV row has it."""
    row = {column: value.get(key, "") for column, key in CSV_KEYS.items()}
    row["followup"] = str(value["followup"]).lower()
    row["deleted"] = str(value.get("deleted", False)).lower()
    return {k: str(v) for k, v in row.items()}


def test_csv_answers_the_json_values_with_dhis2s_header(dhis2: httpx.Client) -> None:
    params = selection(dhis2)
    answer = dhis2.get("/api/dataValueSets", params=params)
    assert answer.headers["content-type"].startswith("application/json")
    values = answer.json()["dataValues"]
    assert len(values) > 100_000  # several blocks, joined into one valid JSON list
    assert list(values[0]) == [
        "dataElement",
        "period",
        "orgUnit",
        "categoryOptionCombo",
        "attributeOptionCombo",
        "value",
        "storedBy",
        "created",
        "lastUpdated",
        "comment",
        "followup",
    ]
    by_suffix = dhis2.get("/api/39/dataValueSets.csv", params=params)
    assert by_suffix.headers["content-type"].startswith("application/csv")
    assert by_suffix.text.startswith(",".join(CSV_COLUMNS) + "\n")
    assert csv_rows(by_suffix.text) == [as_csv(v) for v in values]
    by_accept = dhis2.get(
        "/api/dataValueSets", params=params, headers={"Accept": "application/csv"}
    )
    assert by_accept.text == by_suffix.text
    by_format = dhis2.get("/api/dataValueSets", params=[*params, ("format", "csv")])
    assert by_format.text == by_suffix.text


def test_imported_values_and_filters_in_both_formats(dhis2: httpx.Client) -> None:
    country = dhis2.app.state.emulator.country  # type: ignore[attr-defined]
    facility = country.level(4)[1]["id"]
    de = next(d for d in every_element(country) if country.period_type[d] == "Monthly")
    coc = country.cocs_of(de)[0]
    row = {
        "dataElement": de,
        "period": "202402",
        "orgUnit": facility,
        "categoryOptionCombo": coc,
        "value": "123",
        "comment": 'a "quoted", comment',
    }
    answer = dhis2.post("/api/dataValueSets", json={"dataValues": [row]})
    assert answer.status_code == 200, answer.text
    params = [("dataElement", de), ("orgUnit", facility), ("period", "202402")]
    values = dhis2.get("/api/dataValueSets", params=params).json()["dataValues"]
    mine = [v for v in values if v["categoryOptionCombo"] == coc]
    assert [(v["value"], v["comment"]) for v in mine] == [("123", 'a "quoted", comment')]
    rows = csv_rows(dhis2.get("/api/dataValueSets.csv", params=params).text)
    assert rows == [as_csv(v) for v in values]

    wide = selection(dhis2)
    every = dhis2.get("/api/dataValueSets", params=wide).json()["dataValues"]
    limited = dhis2.get("/api/dataValueSets", params=[*wide, ("limit", "60000")]).json()
    assert limited["dataValues"] == every[:60000]
    since = "2024-05-10"
    recent = dhis2.get("/api/dataValueSets", params=[*wide, ("lastUpdated", since)]).json()
    assert recent["dataValues"] == [v for v in every if v["lastUpdated"][:10] >= since]
    assert 0 < len(recent["dataValues"]) < len(every)
    recent_csv = dhis2.get("/api/dataValueSets.csv", params=[*wide, ("lastUpdated", since)])
    assert csv_rows(recent_csv.text) == [as_csv(v) for v in recent["dataValues"]]


def test_an_empty_answer_is_an_empty_list(dhis2: httpx.Client) -> None:
    country = dhis2.app.state.emulator.country  # type: ignore[attr-defined]
    params = [
        ("dataSet", country.collections["dataSets"][0]["id"]),
        ("orgUnit", country.level(4)[0]["id"]),
        ("period", "201001"),
    ]
    assert json.loads(dhis2.get("/api/dataValueSets", params=params).text)["dataValues"] == []
    assert dhis2.get("/api/dataValueSets.csv", params=params).text == ",".join(CSV_COLUMNS) + "\n"
