"""The DHIS2 client against real recorded DHIS2 2.39 answers and injected faults, over
real HTTP: version, metadata tables, paging, retries, the parallel cap, errors, cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from joliba.dhis2.client import DHIS2
from joliba.dhis2.http import DHIS2Error
from tests.dhis2.replay import recorded, replay

ALL = (
    "dhis2_init",
    "organisation_units",
    "data_elements",
    "datasets",
    "organisation_unit_groups",
    "category_option_combos",
)


def _client(url: str, **options: Any) -> DHIS2:
    return DHIS2(url, username="admin", password="district", backoff=0.01, **options)


def test_version_and_metadata_tables_from_real_answers() -> None:
    with replay(recorded("2.39", *ALL)) as server, _client(server.url) as dhis2:
        assert dhis2.version.startswith("2.39") and dhis2.version_number == 39
        units = dhis2.organisation_units()
        assert units.height == 1332 and units["id"].n_unique() == 1332
        assert units.schema["level"] == pl.Int64
        bo = units.filter(pl.col("id") == "O6uvpzGd5pu")
        assert bo["level"][0] == 2
        point = units.filter(pl.col("geometry").str.contains('"Point"')).row(0, named=True)
        assert json.loads(point["geometry"])["type"] == "Point"
        # The recording asked no parent: it comes from the path.
        assert point["parent_id"] == point["path"].split("/")[-2]
        elements = dhis2.data_elements()
        assert elements.height == 1035 and elements["id"].n_unique() == 1035
        sets = dhis2.datasets()
        assert sets.height == 26
        art = sets.filter(pl.col("name") == "ART monthly summary").row(0, named=True)
        assert art["data_elements"] and all(len(x) == 11 for x in art["data_elements"])
        groups = dhis2.organisation_unit_groups()
        assert groups.schema["organisation_units"] == pl.List(pl.String)
        combos = dhis2.category_option_combos()
        assert combos.height == 225
        # Pages 1 and 2 were both read, once each.
        pages = [
            q.get("page", []) for _m, p, q in server.requests if p.endswith("organisationUnits")
        ]
        assert sorted(pages) == [["1"], ["2"]]
        assert repr(dhis2) == f"DHIS2({server.url!r})"


def test_transient_failures_are_retried_and_errors_are_clear() -> None:
    with replay(recorded("2.39", *ALL)) as server, _client(server.url) as dhis2:
        server.faults = [503, "drop", 429, 502]
        assert dhis2.version.startswith("2.39")
        assert len(server.requests) == 5
        server.faults = [503] * 10
        with pytest.raises(DHIS2Error) as failed:
            dhis2.data_elements()
        assert failed.value.status == 503 and "Service Unavailable" in str(failed.value)
        server.faults = [404]
        with pytest.raises(DHIS2Error) as missing:
            dhis2.http.get("dataElements/nope")
        assert missing.value.status == 404
        assert len(server.requests) == 5 + 5 + 1, "a 404 is not retried"
    with pytest.raises(DHIS2Error) as gone:
        DHIS2(server.url, token="d2pat_x", retries=2, backoff=0.01).http.get("system/info")
    assert gone.value.status == 0 and "cannot reach DHIS2" in str(gone.value)


def test_dhis2_error_bodies_carry_code_and_message() -> None:
    body = {
        "httpStatus": "Conflict",
        "httpStatusCode": 409,
        "status": "ERROR",
        "message": "At least one organisation unit must be specified",
        "errorCode": "E2006",
    }
    with replay() as server, _client(server.url) as dhis2:
        server.handler = lambda path, query: (409, body)
        with pytest.raises(DHIS2Error) as refused:
            dhis2.http.get("dataValueSets")
    error = refused.value
    assert (error.status, error.code) == (409, "E2006")
    assert error.message == "At least one organisation unit must be specified"
    assert "E2006" in str(error) and "admin" not in str(error)


def test_pages_are_fetched_in_parallel_within_the_cap_and_kept_in_order() -> None:
    total, size = 2350, 100
    count = -(-total // size)

    def pages(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        page = int(query["page"][0])
        first = (page - 1) * size
        items = [
            {"id": f"de{i:09d}", "name": f"E{i}"} for i in range(first, min(total, first + size))
        ]
        pager = {"page": page, "pageCount": count, "total": total, "pageSize": size}
        return 200, {"pager": pager, "dataElements": items}

    with replay() as server:
        server.handler = pages
        server.delay = 0.05
        with _client(server.url, max_parallel=3) as dhis2:
            found = dhis2.collection("dataElements", params={"pageSize": size})
    assert found["id"].to_list() == [f"de{i:09d}" for i in range(total)]
    assert 2 <= server.max_in_flight <= 3


def test_metadata_cache_answers_again_without_the_server(tmp_path: Path) -> None:
    with replay(recorded("2.39", *ALL)) as server:
        with _client(server.url, cache_dir=tmp_path) as dhis2:
            first = dhis2.organisation_units()
        asked = len(server.requests)
        with _client(server.url, cache_dir=tmp_path) as again:
            second = again.organisation_units()
        assert len(server.requests) == asked
    assert first.equals(second)
    assert not list(tmp_path.glob("*.partial"))


def test_credentials_are_required_and_never_shown() -> None:
    with pytest.raises(ValueError, match="username and password, or a personal access token"):
        DHIS2("http://127.0.0.1:9")
    with DHIS2("http://127.0.0.1:9/api/", username="admin", password="s3cret") as client:
        assert client.url == "http://127.0.0.1:9" and "s3cret" not in repr(client)


def test_the_client_reads_the_emulator_the_same_way() -> None:
    from joliba.dhis2.emulator import create_app
    from tests.conftest import LiveServer
    from tests.dhis2.emulator_support import TODAY, TOKEN

    app = create_app(seed=7, today=TODAY, tokens=[TOKEN], faults=None)
    with LiveServer(app) as live, DHIS2(live.url, token=TOKEN, max_parallel=3) as dhis2:
        assert dhis2.version_number >= 39
        units = dhis2.organisation_units()
        by_level = dict(units.group_by("level").len().iter_rows())
        assert (by_level[1], by_level[2], by_level[3]) == (1, 8, 72)
        assert units.filter(pl.col("level") > 1)["parent_id"].null_count() == 0
        regions = dhis2.organisation_units(level=2)
        assert regions.height == 8 and set(regions["parent_id"]) == set(
            units.filter(pl.col("level") == 1)["id"]
        )
        elements = dhis2.data_elements()
        assert elements.height >= 100 and elements["value_type"].null_count() == 0
        sets = dhis2.datasets()
        assert all(len(ids) > 0 for ids in sets["data_elements"])
