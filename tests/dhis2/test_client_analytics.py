"""``DHIS2.analytics`` over real HTTP: against the emulator (sums, the 50 000-row cap split
and put back together), a fake DHIS2 with a small cap and a pager, and recorded answers of
real DHIS2 2.36-2.39."""

from __future__ import annotations

import itertools
import json
from typing import Any

import polars as pl
import pytest

from joliba.dhis2.client import DHIS2
from joliba.dhis2.http import DHIS2Error
from tests.dhis2.emulator_support import live_emulator
from tests.dhis2.replay import Handler, recorded, replay


def _client(url: Any, **options: Any) -> DHIS2:
    return DHIS2(str(url), username="admin", password="district", backoff=0.01, **options)


def _element(dhis2: DHIS2, name: str) -> str:
    found = dhis2.data_elements(filters=[f"name:eq:{name}"])
    return str(found["id"][0])


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort([c for c in frame.columns if c != "value"])


def test_analytics_are_the_sums_of_the_facilities_values() -> None:
    with live_emulator(seed=3, scale=0.1) as emulator, _client(emulator.base_url) as dhis2:
        de = _element(dhis2, "Malaria confirmed cases")
        districts = dhis2.organisation_units(level=3)["id"].to_list()[:2]
        found = dhis2.analytics([de], ["202307", "202308"], districts)
        assert found.columns == ["dx", "pe", "ou", "value"]
        assert found.schema["value"] == pl.Float64
        expected = {}
        for district, period in itertools.product(districts, ["202307", "202308"]):
            values = dhis2.http.get(
                "dataValueSets",
                {"dataElement": de, "period": period, "orgUnit": district, "children": "true"},
            )["dataValues"]
            expected[(de, period, district)] = float(sum(int(v["value"]) for v in values))
        assert {r[:3]: r[3] for r in found.iter_rows()} == expected

        # Another dimension asked (co) is a column; the rows are DHIS2's, every one.
        by_combo = dhis2.analytics(
            [de], ["LAST_12_MONTHS"], ["LEVEL-2"], params={"dimension": "co"}
        )
        assert by_combo.columns == ["dx", "pe", "ou", "co", "value"]
        raw = emulator.get(
            "/api/analytics",
            params=[
                ("dimension", f"dx:{de}"),
                ("dimension", "pe:LAST_12_MONTHS"),
                ("dimension", "ou:LEVEL-2"),
                ("dimension", "co"),
            ],
        ).json()
        names = [h["name"] for h in raw["headers"]]
        rows = {
            (
                *(dict(zip(names, row, strict=True))[n] for n in ("dx", "pe", "ou", "co")),
                float(row[-1]),
            )
            for row in raw["rows"]
        }
        assert set(by_combo.iter_rows()) == rows and by_combo.height == len(rows)

        # Filters collapse a dimension: one value per region for the year.
        yearly = dhis2.analytics([de], [], ["LEVEL-2"], filters={"pe": ["2023"]})
        assert yearly.columns == ["dx", "ou", "value"] and yearly.height == 8


def test_a_query_past_the_cap_is_split_and_equals_the_unlimited_answer() -> None:
    with live_emulator(seed=3, scale=0.5) as emulator, _client(emulator.base_url) as dhis2:
        de = _element(dhis2, "IDSR Cholera cases")
        refused = emulator.get(
            "/api/analytics",
            params=[
                ("dimension", f"dx:{de}"),
                ("dimension", "co"),
                ("dimension", "ou:LEVEL-4"),
                ("dimension", "pe:LAST_52_WEEKS"),
            ],
        )
        assert refused.status_code == 409 and refused.json()["errorCode"] == "E7128"
        co = {"dimension": "co"}
        split = dhis2.analytics([de], ["LAST_52_WEEKS"], ["LEVEL-4"], params=co)
        whole = dhis2.analytics([de], ["LAST_52_WEEKS"], ["LEVEL-4"], params=co, ignore_limit=True)
    assert whole.height > 50_000
    assert split.height == whole.height
    assert _sorted(split).equals(_sorted(whole))
    assert split.select("dx", "pe", "ou", "co").is_duplicated().sum() == 0


def _fake_dhis2(cap: int, co: int = 1) -> tuple[Handler, list[int]]:
    """A DHIS2 analytics endpoint with a small cap: one row per dx x pe x ou (x co)."""
    answered: list[int] = []

    def answer(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        items = dict(d.split(":", 1) for d in query.get("dimension", []))
        dims = {name: items[name].split(";") for name in ("dx", "pe", "ou") if name in items}
        if "skipData" in query:
            return 200, {"headers": [], "metaData": {"dimensions": dims}, "rows": []}
        rows = [
            [dx, pe, ou, f"c{k}", str(n)]
            for n, (dx, pe, ou, k) in enumerate(
                itertools.product(dims["dx"], dims["pe"], dims["ou"], range(co))
            )
        ]
        if len(rows) > cap:
            message = f"Query result set exceeded max limit: `{cap}`"
            return 409, {
                "httpStatus": "Conflict",
                "httpStatusCode": 409,
                "status": "ERROR",
                "message": message,
                "errorCode": "E7128",
            }
        answered.append(len(rows))
        headers = [{"name": n, "meta": True} for n in ("dx", "pe", "ou", "co")]
        headers.append({"name": "value", "meta": False})
        return 200, {"headers": headers, "metaData": {}, "rows": rows, "height": len(rows)}

    return answer, answered


def test_an_answer_of_exactly_the_cap_is_split_and_an_indivisible_one_raises() -> None:
    handler, answered = _fake_dhis2(cap=10)
    with replay() as server, _client(server.url, max_parallel=2) as dhis2:
        server.handler = handler
        pe = [f"2024{m:02d}" for m in range(1, 5)]
        ou = [f"OrgUnit{n:04d}" for n in range(5)]
        found = dhis2.analytics(["DataElemnt1"], pe, ou)
        # 20 rows: refused, then 2 x 10 (exactly the cap: maybe cut), then 4 x 5.
        assert sorted(answered) == [5, 5, 5, 5, 10, 10]
        assert found.height == 20
        assert set(found.select("pe", "ou").iter_rows()) == set(itertools.product(pe, ou))
        refused = [q for _m, p, q in server.requests if "skipData" not in q]
        assert len(refused) == 1 + 2 + 4

        server.handler, _ = _fake_dhis2(cap=10, co=12)
        with pytest.raises(DHIS2Error) as over:
            dhis2.analytics(["DataElemnt1"], ["202401"], ["OrgUnit0001"])
    assert over.value.code == "E7128"
    assert "10 rows" in str(over.value) and "ignore_limit=True" in str(over.value)


def test_answers_with_a_pager_are_read_to_the_last_page() -> None:
    total, size = 23, 5
    rows = [["DataElemnt1", "202401", f"OrgUnit{n:04d}", str(n)] for n in range(total)]
    headers = [{"name": n, "meta": True} for n in ("dx", "pe", "ou")]
    headers.append({"name": "value", "meta": False})

    def paged(with_count: bool) -> Handler:
        def answer(path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
            page = int(query.get("page", ["1"])[0])
            pager: dict[str, int] = {"page": page, "pageSize": size}
            if with_count:
                pager |= {"total": total, "pageCount": -(-total // size)}
            chunk = rows[(page - 1) * size : page * size]
            return 200, {"headers": headers, "metaData": {"pager": pager}, "rows": chunk}

        return answer

    for with_count in (True, False):
        with replay() as server, _client(server.url) as dhis2:
            server.handler = paged(with_count)
            found = dhis2.analytics(["DataElemnt1"], ["202401"], [], params={"paging": "true"})
        assert found["value"].to_list() == [float(n) for n in range(total)]
        pages = [q.get("page", ["1"])[0] for _m, _p, q in server.requests]
        assert pages == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize("version", ["2.36", "2.37", "2.38", "2.39"])
@pytest.mark.parametrize(
    ("name", "dx", "ou", "co"),
    [
        ("analytics_get_data_elements", ["fbfJHSPpUQD", "cYeuwXTCPkU"], ["uNEhNuBUr0i"], True),
        ("analytics_get_indicators", ["Uvn6LCg7dVU", "OdiHJayrsKo"], ["uNEhNuBUr0i"], False),
        ("analytics_get_org_unit_levels", ["fbfJHSPpUQD", "cYeuwXTCPkU"], ["LEVEL-2"], True),
    ],
)
def test_recorded_analytics_answers_are_read(
    version: str, name: str, dx: list[str], ou: list[str], co: bool
) -> None:
    answers = recorded(version, name)
    status, body = answers[("/api/analytics", "1")]  # the last recorded month
    expected = json.loads(body)
    names = [h["name"] for h in expected["headers"]]
    with replay(answers) as server, _client(server.url) as dhis2:
        found = dhis2.analytics(dx, ["202308"], ou, params={"dimension": "co"} if co else None)
        sent = server.requests[0][2]
    assert status == 200
    assert sorted(sent["dimension"]) == sorted(
        [f"dx:{';'.join(dx)}", "pe:202308", f"ou:{';'.join(ou)}"] + (["co"] if co else [])
    )
    assert found.columns == ["dx", "pe", "ou"] + (["co"] if co else []) + ["value"]
    assert found.height == len(expected["rows"]) > 0
    rows = {
        (*(dict(zip(names, row, strict=True))[n] for n in found.columns[:-1]), float(row[-1]))
        for row in expected["rows"]
    }
    assert set(found.iter_rows()) == rows
