"""``DHIS2.push_data_values`` over real HTTP: values pushed to the emulator and read back,
conflicts tied to the rows of the table (DHIS2 2.37's plain summary and 2.39's wrapped one),
dry runs, retried and failed chunks, the resume journal and injected conflicts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from joliba.dhis2.client import DHIS2
from joliba.dhis2.emulator import Faults
from joliba.dhis2.imports import plain_number
from tests.dhis2.emulator_support import live_emulator
from tests.dhis2.replay import replay


def _client(url: Any, **options: Any) -> DHIS2:
    options.setdefault("backoff", 0.01)
    return DHIS2(str(url), username="admin", password="district", **options)


def _element(dhis2: DHIS2, name: str) -> tuple[str, list[str]]:
    """A data element's id and its category option combos."""
    de = str(dhis2.data_elements(filters=[f"name:eq:{name}"])["id"][0])
    combo = dhis2.http.get(
        f"dataElements/{de}", {"fields": "categoryCombo[categoryOptionCombos[id]]"}
    )["categoryCombo"]["categoryOptionCombos"]
    return de, [c["id"] for c in combo]


def _stored(dhis2: DHIS2, frame: pl.DataFrame) -> dict[tuple[str, ...], tuple[str, str]]:
    """What DHIS2 holds for the keys of ``frame``: (value, comment) by key."""
    params: list[tuple[str, Any]] = [("dataElement", d) for d in frame["data_element"].unique()]
    params += [("period", p) for p in frame["period"].unique()]
    params += [("orgUnit", o) for o in frame["org_unit"].unique()]
    keys = set(frame.select("data_element", "period", "org_unit", "category_option_combo").rows())
    return {
        key: (v["value"], v.get("comment") or "")
        for v in dhis2.http.get("dataValueSets", params)["dataValues"]
        if (key := (v["dataElement"], v["period"], v["orgUnit"], v["categoryOptionCombo"])) in keys
    }


def _values(dhis2: DHIS2, count: int, period: str = "202402") -> pl.DataFrame:
    """``count`` new values of "Malaria confirmed cases" for facilities, whole numbers as
    floats (sent without ``.0``)."""
    de, combos = _element(dhis2, "Malaria confirmed cases")
    facilities = dhis2.organisation_units(level=4)["id"].to_list()
    keys = [(f, c) for f in facilities for c in combos][:count]
    return pl.DataFrame(
        {
            "data_element": [de] * len(keys),
            "period": [period] * len(keys),
            "org_unit": [f for f, _c in keys],
            "category_option_combo": [c for _f, c in keys],
            "value": [float(100_000 + n) for n in range(len(keys))],
        }
    )


def test_floats_are_written_as_dhis2_reads_them() -> None:
    assert [plain_number(x) for x in (12.0, 2.5, 8.2e-05, -3.0, 1e20)] == [
        "12",
        "2.5",
        "0.000082",
        "-3",
        "100000000000000000000",
    ]
    assert plain_number(float("nan")) is None


def test_pushed_values_are_read_back_exactly() -> None:
    with live_emulator(seed=3, scale=0.1) as emulator, _client(emulator.base_url) as dhis2:
        counts = _values(dhis2, 11).with_columns(
            comment=pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.lit("checked"))
        )
        beds, combos = _element(dhis2, "Beds available")
        facilities = counts["org_unit"].unique(maintain_order=True).to_list()[:2]
        numbers = pl.DataFrame(
            {
                "data_element": [beds, beds],
                "period": ["202402", "202402"],
                "org_unit": facilities,
                "category_option_combo": [combos[0], combos[0]],
                "value": [2.5, 8.2e-05],
                "comment": [None, None],
            }
        )
        frame = pl.concat([counts, numbers], how="vertical_relaxed")
        report = dhis2.push_data_values(frame, chunk_size=5)
        assert report.ok and not report.dry_run
        assert report.imported + report.updated == frame.height and report.ignored == 0
        assert [(c.index, c.rows, c.status) for c in report.chunks] == [
            (0, 5, "SUCCESS"),
            (1, 5, "SUCCESS"),
            (2, 3, "SUCCESS"),
        ]
        assert report.conflicts.is_empty()
        stored = _stored(dhis2, frame)
        expected = {
            row[:4]: (plain_number(row[4]), row[5] or "")
            for row in frame.select(
                "data_element", "period", "org_unit", "category_option_combo", "value", "comment"
            ).iter_rows()
        }
        assert stored == expected
        assert stored[(beds, "202402", facilities[1], combos[0])] == ("0.000082", "")

        # The same again: nothing changes, DHIS2 ignores every value.
        again = dhis2.push_data_values(frame, chunk_size=100)
        assert (again.imported, again.updated, again.ignored) == (0, 0, frame.height)


def test_a_dry_run_stores_nothing() -> None:
    with live_emulator(seed=3, scale=0.1) as emulator, _client(emulator.base_url) as dhis2:
        frame = _values(dhis2, 6)
        before = _stored(dhis2, frame)
        report = dhis2.push_data_values(frame, dry_run=True, chunk_size=4)
        assert report.dry_run and report.ok
        assert report.imported + report.updated == 6
        assert _stored(dhis2, frame) == before
        assert all(value != "100000" for value, _comment in before.values())


@pytest.mark.parametrize("version", ["2.37", "2.39"])
def test_refused_values_come_back_as_conflicts_naming_their_rows(version: str) -> None:
    with (
        live_emulator(seed=3, scale=0.1, version=version) as emulator,
        _client(emulator.base_url) as dhis2,
    ):
        good = _values(dhis2, 8).with_columns(pl.col("value").cast(pl.Int64).cast(pl.String))
        de = good["data_element"][0]
        frame = good.with_columns(
            period=pl.when(pl.int_range(pl.len()) == 1).then(pl.lit("2024-13")).otherwise("period"),
            data_element=pl.when(pl.int_range(pl.len()) == 2)
            .then(pl.lit("AAAAAAAAAAA"))
            .otherwise("data_element"),
            org_unit=pl.when(pl.int_range(pl.len()).is_in([5, 7]))
            .then(pl.lit("BBBBBBBBBBB"))
            .otherwise("org_unit"),
            value=pl.when(pl.int_range(pl.len()) == 6).then(pl.lit("many")).otherwise("value"),
        )
        report = dhis2.push_data_values(frame, chunk_size=4)
    assert not report.ok
    assert report.imported + report.updated == 3  # rows 0, 3 and 4
    conflicts = report.conflicts.sort("row")
    assert conflicts["row"].to_list() == [1, 2, 5, 6, 7]
    assert conflicts["object"].to_list() == [
        "2024-13",
        "AAAAAAAAAAA",
        "BBBBBBBBBBB",
        "many",
        "BBBBBBBBBBB",
    ]
    assert conflicts.row(2, named=True)["org_unit"] == "BBBBBBBBBBB"
    assert conflicts.row(3, named=True)["data_element"] == de
    assert conflicts.row(3, named=True)["value"] == "many"
    assert all("`" in m for m in conflicts["message"])
    if version == "2.39":  # 2.38+ give error codes and indexes
        assert conflicts["error_code"].to_list() == ["E7611", "E7610", "E7612", "E7619", "E7612"]
    else:
        assert conflicts["error_code"].null_count() == 5


def test_chunks_are_retried_and_one_that_still_fails_is_reported() -> None:
    faults = Faults(error_rate=0.3, seed=11)
    with (
        live_emulator(seed=3, scale=0.1, faults=faults) as emulator,
        _client(emulator.base_url, retries=10) as dhis2,
    ):
        frame = _values(dhis2, 40)
        report = dhis2.push_data_values(frame, chunk_size=5)
        assert report.ok and len(report.chunks) == 8
        # Each chunk counted once: a finished chunk sent again would come back as ignored.
        assert report.imported + report.updated == 40 and report.ignored == 0
        assert {v for v, _c in _stored(dhis2, frame).values()} == {
            plain_number(v) for v in frame["value"]
        }

    with replay() as server, _client(server.url, retries=3) as failing:
        server.handler = lambda path, query: (200, _summary(imported=5))
        server.faults = [503, 503, 503]
        report = failing.push_data_values(_fake_values(15), chunk_size=5)
    assert [c.status for c in report.chunks] == ["FAILED", "SUCCESS", "SUCCESS"]
    assert "503" in str(report.chunks[0].error) and report.chunks[1].error is None
    assert report.imported == 10 and not report.ok and report.failed_chunks == report.chunks[:1]
    assert len(server.requests) == 3 + 2


def _fake_values(count: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "data_element": ["DataElemnt1"] * count,
            "period": ["202401"] * count,
            "org_unit": [f"OrgUnit{n:04d}" for n in range(count)],
            "value": list(range(count)),
        }
    )


def _summary(imported: int) -> dict[str, Any]:
    return {
        "httpStatus": "OK",
        "httpStatusCode": 200,
        "status": "OK",
        "message": "Import was successful.",
        "response": {
            "responseType": "ImportSummary",
            "status": "SUCCESS",
            "importCount": {"imported": imported, "updated": 0, "ignored": 0, "deleted": 0},
            "conflicts": [],
            "rejectedIndexes": [],
        },
    }


def test_a_journal_lets_a_new_run_skip_the_chunks_already_done(tmp_path: Path) -> None:
    journal = tmp_path / "push" / "journal.json"
    frame = _fake_values(15)
    with replay() as server, _client(server.url, retries=2) as dhis2:
        server.handler = lambda path, query: (200, _summary(imported=5))
        server.faults = ["drop", "drop"]  # the first chunk cannot get through
        first = dhis2.push_data_values(frame, chunk_size=5, journal=journal)
        assert [c.status for c in first.chunks] == ["FAILED", "SUCCESS", "SUCCESS"]
        assert sorted(json.loads(journal.read_text())["chunks"]) == ["1", "2"]
        assert not list(journal.parent.glob("*.partial"))

        sent = len(server.requests)
        second = dhis2.push_data_values(frame, chunk_size=5, journal=journal)
        assert len(server.requests) == sent + 1, "only the failed chunk is sent again"
        assert [c.status for c in second.chunks] == ["SUCCESS", "SKIPPED", "SKIPPED"]
        assert second.ok and second.imported == 15  # the skipped chunks keep their counts

        # A changed row changes its chunk, which is sent again; a dry run ignores the journal.
        changed = frame.with_columns(
            value=pl.when(pl.col("value") == 7).then(70).otherwise("value")
        )
        third = dhis2.push_data_values(changed, chunk_size=5, journal=journal)
        assert [c.status for c in third.chunks] == ["SKIPPED", "SUCCESS", "SKIPPED"]
        dry = dhis2.push_data_values(changed, chunk_size=5, journal=journal, dry_run=True)
        assert [c.status for c in dry.chunks] == ["SUCCESS"] * 3


def test_injected_conflicts_are_the_same_every_time() -> None:
    def refused(seed: int, chunk_size: int) -> list[int]:
        faults = Faults(conflict_rate=0.2, seed=seed)
        with (
            live_emulator(seed=3, scale=0.1, faults=faults) as emulator,
            _client(emulator.base_url) as dhis2,
        ):
            frame = _values(dhis2, 120)
            report = dhis2.push_data_values(frame, dry_run=True, chunk_size=chunk_size)
            assert set(report.conflicts["error_code"]) == {"E7642"}
            assert report.imported + report.updated == frame.height - report.conflicts.height
            assert "already approved" in report.conflicts["message"][0]
            return sorted(report.conflicts["row"].to_list())

    rows = refused(seed=7, chunk_size=50)
    assert 0.05 * 120 < len(rows) < 0.4 * 120
    assert refused(seed=7, chunk_size=17) == rows
    assert refused(seed=8, chunk_size=50) != rows


def test_a_table_without_the_needed_columns_is_refused_up_front() -> None:
    frame = pl.DataFrame({"data_element": ["a"], "orgUnit": ["b"], "value": [1]})
    with replay() as server, _client(server.url) as dhis2:
        with pytest.raises(ValueError, match="missing: period, org_unit"):
            dhis2.push_data_values(frame)
        with pytest.raises(ValueError, match="chunk_size"):
            dhis2.push_data_values(_fake_values(1), chunk_size=0)
        with pytest.raises(ValueError, match="import_strategy must be one of"):
            dhis2.push_data_values(_fake_values(1), import_strategy="REPLACE")
    assert server.requests == []
