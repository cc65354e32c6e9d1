"""Names and the org unit hierarchy joined onto tables of ids, against the emulator's metadata
over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest

from joliba.dhis2.client import DHIS2
from joliba.dhis2.joins import Lookup, add_hierarchy, add_names
from tests.dhis2.emulator_support import live_emulator

DEFAULT_COC = "HllvX50cXC0"


@pytest.fixture(scope="module")
def dhis2() -> Iterator[DHIS2]:
    with (
        live_emulator(seed=2, scale=0.1) as emulator,
        DHIS2(str(emulator.base_url), username="admin", password="district") as client,
    ):
        yield client


def names_of(table: pl.DataFrame) -> dict[str, str]:
    return dict(table.select("id", "name").iter_rows())


def test_names_follow_their_id_columns(dhis2: DHIS2) -> None:
    elements = names_of(dhis2.data_elements())
    combos = names_of(dhis2.category_option_combos())
    units = dhis2.organisation_units()
    unit_names = names_of(units)
    some_elements = list(elements)[:3]
    some_units = units["id"].to_list()[:: max(1, units.height // 3)][:3]
    frame = pl.DataFrame(
        {
            "data_element": [*some_elements, "NoSuchThing"],
            "period": ["202401"] * 4,
            "org_unit": [*some_units, None],
            "category_option_combo": [DEFAULT_COC] * 4,
            "attribute_option_combo": [DEFAULT_COC] * 4,
            "value": [1, 2, 3, 4],
            "org_unit_name": ["stale"] * 4,
        }
    )
    named = dhis2.with_names(frame)
    assert named.columns == [
        "data_element",
        "data_element_name",
        "period",
        "org_unit",
        "org_unit_name",
        "category_option_combo",
        "category_option_combo_name",
        "attribute_option_combo",
        "attribute_option_combo_name",
        "value",
    ]
    assert named["data_element_name"].to_list() == [elements[e] for e in some_elements] + [None]
    assert named["org_unit_name"].to_list() == [unit_names[u] for u in some_units] + [None]
    assert set(named["category_option_combo_name"]) == {combos[DEFAULT_COC]} == {"default"}
    assert named.select(frame.columns[:-1]).equals(frame.drop("org_unit_name"))
    # No id column it knows: unchanged.
    other = pl.DataFrame({"dx": ["a"], "value": [1.0]})
    assert dhis2.with_names(other).equals(other)


def test_hierarchy_gives_every_level_from_the_path(dhis2: DHIS2) -> None:
    units = dhis2.organisation_units()
    names = names_of(units)
    paths = dict(units.select("id", "path").iter_rows())
    one_per_level = [units.filter(pl.col("level") == n)["id"][0] for n in (4, 3, 2, 1)]
    frame = pl.DataFrame({"org_unit": [*one_per_level, "NoSuchUnit0", None], "value": range(6)})
    found = dhis2.with_hierarchy(frame)
    assert found.columns == ["org_unit", "value"] + [
        f"level_{n}_{part}" for n in range(1, 5) for part in ("id", "name")
    ]
    facility = found.row(0, named=True)
    ancestors = paths[one_per_level[0]].strip("/").split("/")
    for level, ancestor in enumerate(ancestors, start=1):
        assert facility[f"level_{level}_id"] == ancestor
        assert facility[f"level_{level}_name"] == names[ancestor]
    region = found.row(2, named=True)
    assert region["level_2_id"] == one_per_level[2] and region["level_3_id"] is None
    assert region["level_1_name"] == names[units.filter(pl.col("level") == 1)["id"][0]]
    assert found.row(4, named=True)["level_1_id"] is None  # unknown unit
    assert found.row(5, named=True)["level_1_id"] is None  # no unit

    # Any column of org unit ids; many ids are read as the whole collection, same result.
    by_id = dhis2.with_hierarchy(units.select("id", "level"), column="id")
    assert by_id.filter(pl.col("level") == 4)["level_4_id"].equals(
        by_id.filter(pl.col("level") == 4)["id"].alias("level_4_id")
    )
    lookup = Lookup(dhis2, whole_collection=10)
    assert add_hierarchy(units.select("id", "level"), lookup, column="id").equals(by_id)
    with pytest.raises(ValueError, match="no column 'ou'"):
        dhis2.with_hierarchy(frame, column="ou")


def test_names_and_hierarchy_for_analytics_style_columns(dhis2: DHIS2) -> None:
    region = dhis2.organisation_units(level=2).row(0, named=True)
    frame = pl.DataFrame({"ou": [region["id"]], "value": [1.0]})
    lookup = Lookup(dhis2)
    named = add_names(frame, lookup, columns={"ou": "organisationUnits"})
    assert named["ou_name"].to_list() == [region["name"]]
    placed = add_hierarchy(named, lookup, column="ou")
    assert placed["level_2_name"].to_list() == [region["name"]]
    assert placed["level_3_id"].to_list() == [None]
