"""What the issue checks, end to end over real HTTP: values extracted with the client,
pushed back changed and read again come back exactly; invalid values come back as
conflicts naming their row. On a 2.37 emulator (plain import summary) and a 2.39 one
(wrapped)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from joliba.dhis2.client import DHIS2
from tests.dhis2.emulator_support import live_emulator

KEYS = ["data_element", "period", "org_unit", "category_option_combo", "attribute_option_combo"]


@pytest.mark.parametrize("version", ["2.37", "2.39"])
def test_extract_change_push_read_again(version: str) -> None:
    with (
        live_emulator(scale=0.1, version=version) as emulator,
        DHIS2(str(emulator.base_url), username="admin", password="district") as dhis2,
    ):
        sets = dhis2.datasets(fields="id,periodType")
        data_set = sets.filter(pl.col("periodType") == "Monthly")["id"][0]
        region = dhis2.organisation_units(level=2)["id"][0]
        selection: dict[str, Any] = {
            "datasets": [data_set],
            "org_units": [region],
            "children": True,
            "periods": ["202403", "202404"],
        }
        before = dhis2.data_value_sets(**selection)
        assert before.height > 100
        numeric = "value_number" if "value_number" in before.columns else "value"
        changed = before.select(KEYS).with_columns(
            (before[numeric].cast(pl.Int64) + 1000).cast(pl.String).alias("value")
        )

        report = dhis2.push_data_values(changed, chunk_size=97)
        assert report.ok and report.conflicts.height == 0
        assert report.updated == changed.height and report.imported == 0

        after = dhis2.data_value_sets(**selection)
        mine = after.select(*KEYS, pl.col(numeric).cast(pl.Int64).cast(pl.String).alias("value"))
        assert mine.sort(KEYS).equals(changed.sort(KEYS))

        # Rows 1 and 3 are wrong: a word for a number, a unit DHIS2 does not have; rows 0
        # and 2 change again and are imported.
        again = changed.head(4).with_columns((pl.col("value").cast(pl.Int64) + 1).cast(pl.String))
        broken = again.with_columns(
            pl.when(pl.int_range(pl.len()) == 1)
            .then(pl.lit("lots"))
            .otherwise(pl.col("value"))
            .alias("value"),
            pl.when(pl.int_range(pl.len()) == 3)
            .then(pl.lit("NoSuchUnit1"))
            .otherwise(pl.col("org_unit"))
            .alias("org_unit"),
        )
        refused = dhis2.push_data_values(broken)
        assert sorted(refused.conflicts["row"].to_list()) == [1, 3]
        by_row = {r["row"]: r for r in refused.conflicts.iter_rows(named=True)}
        assert by_row[1]["value"] == "lots" and by_row[3]["org_unit"] == "NoSuchUnit1"
        assert refused.updated == 2 and refused.ignored == 2
        stored = dhis2.data_value_sets(**selection).select(*KEYS, pl.col(numeric).cast(pl.Int64))
        for row in (0, 2):
            key = again.row(row, named=True)
            found = stored.filter(*[pl.col(k) == key[k] for k in KEYS])
            assert found[numeric].to_list() == [int(key["value"])]
