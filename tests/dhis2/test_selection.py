"""``DataValueSelection``: checked and normalised when made, errors naming the field, and the
parameters it puts in every planned request. No server needed."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from joliba.dhis2.chunks import Chunks, Resolved, plan
from joliba.dhis2.selection import DataValueSelection

BASE: dict[str, Any] = {"datasets": ["BfMAe6Itzgt"], "org_units": ["ImspTQPwCqd"]}


def test_a_selection_is_normalised_frozen_and_comparable() -> None:
    chosen = DataValueSelection(
        datasets=[" BfMAe6Itzgt", "BfMAe6Itzgt", ""],
        org_units=("ImspTQPwCqd",),
        children=True,
        periods=["2024W05", "202401"],
        last_updated=datetime(2024, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
        attribute_option_combos={"HllvX50cXC0"},
    )
    assert chosen.datasets == ("BfMAe6Itzgt",)  # stripped, empty dropped, each once
    assert chosen.org_units == ("ImspTQPwCqd",) and chosen.org_unit_groups == ()
    assert chosen.periods == ("2024W5", "202401")  # as DHIS2 writes them
    assert chosen.last_updated == "2024-03-01T10:00:00.000"  # UTC, no offset
    assert chosen.attribute_option_combos == ("HllvX50cXC0",)
    assert chosen.start_date is None and chosen.last_updated_duration is None
    assert chosen.include_deleted is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        chosen.children = False  # type: ignore[misc]
    again = DataValueSelection(
        datasets=["BfMAe6Itzgt"],
        org_units=["ImspTQPwCqd"],
        children=True,
        periods=["2024W5", "202401"],
        last_updated="2024-03-01T10:00:00.000",
        attribute_option_combos=["HllvX50cXC0"],
    )
    assert again == chosen and hash(again) == hash(chosen)


def test_dates_durations_and_variants() -> None:
    ranged = DataValueSelection(
        data_elements=["fbfJHSPpUQD"],
        org_unit_groups=["RXL3lPSK8oG"],
        start_date="2024-01-01",
        end_date=datetime(2024, 3, 31, 23, 0, tzinfo=UTC),
        last_updated_duration="5d",
    )
    assert (ranged.start_date, ranged.end_date) == (date(2024, 1, 1), date(2024, 3, 31))
    assert ranged.last_updated_duration == "5d"
    hourly = dataclasses.replace(ranged, last_updated_duration="2h")
    assert hourly.last_updated_duration == "2h" and hourly.org_unit_groups == ("RXL3lPSK8oG",)
    timed = DataValueSelection(**{**BASE, "last_updated_duration": timedelta(hours=2)})
    assert timed.last_updated_duration == "7200s"  # whole seconds, as DHIS2 reads them
    with pytest.raises(ValueError, match="start_date and end_date together"):
        dataclasses.replace(ranged, end_date=None)  # a variant is checked too


BAD: list[tuple[dict[str, Any], str]] = [
    ({"org_units": ["a"], "periods": ["202401"]}, "give data_elements, datasets"),
    ({"datasets": ["a"], "periods": ["202401"]}, "give org_units .* or org_unit_groups"),
    ({**BASE}, "give periods, start_date and end_date, last_updated or last_updated_duration"),
    ({**BASE, "datasets": "BfMAe6Itzgt", "periods": ["202401"]}, "datasets must be a list"),
    ({**BASE, "org_unit_groups": 7, "periods": ["202401"]}, "org_unit_groups must be a list"),
    ({**BASE, "periods": ["2024W99"]}, "periods: .*2024W99"),
    ({**BASE, "start_date": "2024-01-01"}, "together"),
    ({**BASE, "start_date": "2024-13-01", "end_date": "2024-12-31"}, "start_date must be a date"),
    ({**BASE, "start_date": "2024-02-01", "end_date": "2024-01-01"}, "after end_date"),
    (
        {**BASE, "periods": ["202401"], "start_date": "2024-01-01", "end_date": "2024-01-31"},
        "not both",
    ),
    ({**BASE, "org_unit_groups": ["g"], "children": True, "periods": ["202401"]}, "E2007"),
    ({**BASE, "children": "false", "periods": ["202401"]}, "children must be True or False"),
    ({**BASE, "last_updated_duration": "5 days"}, "last_updated_duration must be .*'5 days'"),
    ({**BASE, "last_updated_duration": "2w"}, "d, h, m or s"),
    ({**BASE, "last_updated_duration": timedelta(seconds=-1)}, "positive number of seconds"),
    ({**BASE, "last_updated_duration": 5}, "last_updated_duration must be"),
    ({**BASE, "last_updated": 20240101}, "last_updated must be a date"),
    ({**BASE, "last_updated": "2024-01-01", "last_updated_duration": "1d"}, "not both"),
    ({**BASE, "attribute_option_combos": "HllvX50cXC0", "periods": ["1"]}, "attribute_option"),
]


@pytest.mark.parametrize(("given", "message"), BAD)
def test_a_bad_selection_is_refused_naming_what_is_wrong(
    given: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        DataValueSelection(**given)


def test_unknown_keywords_and_mixed_calls_are_type_errors() -> None:
    with pytest.raises(TypeError, match="dataset, orgunits"):
        DataValueSelection(dataset=["x"], orgunits=["y"])  # type: ignore[call-arg]
    chosen = DataValueSelection(**BASE, periods=["202401"])
    assert DataValueSelection.of(chosen, {}) is chosen
    assert DataValueSelection.of(None, {**BASE, "periods": ["202401"]}) == chosen  # type: ignore[typeddict-item]
    with pytest.raises(TypeError, match=r"not both .*periods"):
        DataValueSelection.of(chosen, {"periods": ["202402"]})
    with pytest.raises(TypeError, match="must be a DataValueSelection, not dict"):
        DataValueSelection.of(BASE, {})  # type: ignore[arg-type]


def test_every_request_carries_the_duration_and_the_attribute_combos() -> None:
    chosen = DataValueSelection(
        data_elements=["a", "b", "c"],
        org_units=["u1", "u2", "u3"],
        last_updated_duration="12h",
        attribute_option_combos=["aoc1", "aoc2"],
    )
    resolved = Resolved(elements=("a", "b", "c"), org_units=chosen.org_units)
    requests = plan(chosen, resolved, Chunks(org_units=2, data_elements=2), by_element=True)
    assert len(requests) == 4  # 2 batches of elements x 2 of units: no period to split by
    for params in requests:
        assert ("lastUpdatedDuration", "12h") in params
        assert [v for k, v in params if k == "attributeOptionCombo"] == ["aoc1", "aoc2"]
        assert not any(k in ("period", "startDate", "lastUpdated") for k, _ in params)
    units = [v for params in requests for k, v in params if k == "orgUnit"]
    assert sorted(units) == ["u1", "u1", "u2", "u2", "u3", "u3"]  # each once per elements


def test_groups_without_members_plan_no_request() -> None:
    chosen = DataValueSelection(data_elements=["a"], org_unit_groups=["g"], periods=["202401"])
    assert plan(chosen, Resolved(elements=("a",)), Chunks(), by_element=True) == []
