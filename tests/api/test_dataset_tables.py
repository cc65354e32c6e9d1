"""Dataset tables through the API: background profiles, preview with sort and filters,
read-only SQL that cannot escape its version, exports, and version diffs."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import duckdb
import httpx
from python_calamine import CalamineWorkbook

from tests.conftest import World
from tests.fixtures.waiting import eventually

CASES = (
    b"district,period,cases,reported\n"
    b"Bo,202401,12,2024-02-03\n"
    b"Kenema,202401,7,2024-02-05\n"
    b"Bo,202402,,2024-03-01\n"
    b"Kailahun,202402,30,2024-03-04\n"
)
CASES_V2 = (
    b"district,period,cases,deaths\n"
    b"Bo,202401,12,0\n"
    b"Kenema,202401,9,1\n"
    b"Kailahun,202402,30,2\n"
    b"Moyamba,202402,4,0\n"
)
GEOJSON = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Bo", "population": 575478},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-12.0, 7.5], [-11.5, 7.5], [-11.5, 8.2], [-12.0, 7.5]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"name": "Kenema", "population": 609891},
            "geometry": {"type": "Point", "coordinates": [-11.19, 7.88]},
        },
    ],
}


def publish(api: httpx.Client, ws: str, slug: str, files: dict[str, bytes]) -> str:
    """A new published version of ``slug`` (created if needed) holding ``files``."""
    if api.get(f"/workspaces/{ws}/datasets/{slug}").status_code == 404:
        assert api.post(f"/workspaces/{ws}/datasets", json={"name": slug}).status_code == 201
    number = api.post(f"/workspaces/{ws}/datasets/{slug}/versions", json={}).json()["number"]
    base = f"/workspaces/{ws}/datasets/{slug}/versions/{number}"
    for name, content in files.items():
        assert api.put(f"{base}/files/{name}", content=content).status_code == 201
    assert api.post(f"{base}/publish").status_code == 200
    return base


def wait_profile(api: httpx.Client, url: str, timeout: float = 30) -> dict[str, Any]:
    """The profile at ``url`` (a dataset file's ``.../profile``) once it is done or failed."""

    def ended() -> dict[str, Any] | None:
        body: dict[str, Any] = api.get(url).json()
        return body if body["state"] in ("done", "failed") else None

    return eventually(
        ended,
        timeout=timeout,
        interval=0.1,
        message=lambda: f"profile not done: {api.get(url).json()}",
    )


def test_profiles_of_every_table_kind(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    parquet = io.BytesIO()
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT i AS id, (i % 3)::VARCHAR AS grp, i * 1.5 AS x, "
        "DATE '2024-01-01' + i::INTEGER AS day FROM range(1000) r(i)"
    )
    path = world.platform.settings.home / "t.parquet"
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    parquet.write(path.read_bytes())
    excel = _xlsx([["district", "cases"], ["Bo", 3], ["Kenema", 5]])
    base = publish(
        admin.api,
        ws,
        "kinds",
        {
            "cases.csv": CASES,
            "t.parquet": parquet.getvalue(),
            "areas.geojson": json.dumps(GEOJSON).encode(),
            "sheet.xlsx": excel,
            "records.json": json.dumps([{"a": 1, "b": "x"}, {"a": 2, "b": None}]).encode(),
        },
    )
    csv = wait_profile(admin.api, f"{base}/files/cases.csv/profile")
    assert csv["state"] == "done", csv
    assert csv["rows"] == 4
    columns = {c["name"]: c for c in csv["profile"]["columns"]}
    assert columns["cases"]["type"] == "BIGINT"
    assert columns["cases"]["nulls"] == 1
    assert (columns["cases"]["min"], columns["cases"]["max"]) == (7, 30)
    assert abs(columns["cases"]["mean"] - (12 + 7 + 30) / 3) < 1e-9
    assert columns["district"]["distinct"] == 3
    assert columns["district"]["top"][0] == {"value": "Bo", "count": 2}
    assert columns["reported"]["type"] == "DATE"
    assert sum(b["count"] for b in columns["reported"]["histogram"]) == 4
    assert sum(b["count"] for b in columns["cases"]["histogram"]) == 3
    assert len(csv["profile"]["sample"]["rows"]) == 4

    table = wait_profile(admin.api, f"{base}/files/t.parquet/profile")
    cols = {c["name"]: c for c in table["profile"]["columns"]}
    assert table["rows"] == 1000 and cols["id"]["distinct"] == 1000
    assert cols["x"]["max"] == 999 * 1.5
    assert [b["count"] for b in cols["id"]["histogram"]] == [100] * 10

    geo = wait_profile(admin.api, f"{base}/files/areas.geojson/profile")
    shapes = {c["name"]: c for c in geo["profile"]["columns"]}
    assert geo["rows"] == 2
    assert shapes["geometry"]["geometry"]["bbox"] == [-12.0, 7.5, -11.19, 8.2]
    assert shapes["population"]["max"] == 609891

    sheet = wait_profile(admin.api, f"{base}/files/sheet.xlsx/profile")
    assert sheet["rows"] == 2 and [c["name"] for c in sheet["profile"]["columns"]] == [
        "district",
        "cases",
    ]
    records = wait_profile(admin.api, f"{base}/files/records.json/profile")
    assert records["rows"] == 2


def test_a_file_that_is_not_a_table_fails_its_profile_with_a_reason(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    base = publish(admin.api, ws, "broken", {"bad.parquet": b"not parquet", "notes.txt": b"x"})
    failed = wait_profile(admin.api, f"{base}/files/bad.parquet/profile")
    assert failed["state"] == "failed" and "parquet" in failed["error"].lower()
    assert admin.api.get(f"{base}/files/notes.txt/profile").status_code == 400


def test_preview_sorts_filters_and_pages(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    base = publish(admin.api, ws, "cases", {"cases.csv": CASES})
    url = f"{base}/files/cases.csv/preview"
    page = admin.api.get(url, params={"sort": "-cases", "limit": 2}).json()
    assert [c["name"] for c in page["columns"]] == ["district", "period", "cases", "reported"]
    assert page["total"] == 4 and [r[2] for r in page["rows"]] == [30, 12]
    second = admin.api.get(url, params={"sort": "-cases", "limit": 2, "offset": 2}).json()
    assert [r[2] for r in second["rows"]] == [7, None]
    bo = admin.api.get(url, params={"filter": ["district:eq:Bo", "cases:notnull"]}).json()
    assert bo["total"] == 1 and bo["rows"][0][:3] == ["Bo", 202401, 12]
    big = admin.api.get(url, params={"filter": "cases:ge:10", "sort": "district"}).json()
    assert [r[0] for r in big["rows"]] == ["Bo", "Kailahun"]
    like = admin.api.get(url, params={"filter": "district:contains:ai"}).json()
    assert [r[0] for r in like["rows"]] == ["Kailahun"]
    for bad, field in (
        ({"sort": "nope"}, "no column 'nope'"),
        ({"filter": "cases:gt:abc"}, "filter"),
        ({"filter": "cases:between:1"}, "op one of"),
    ):
        refused = admin.api.get(url, params=bad)
        assert refused.status_code == 400 and field in refused.json()["error"]["message"], bad


def test_sql_reads_only_the_version_tables(world: World, tmp_path: Any) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    base = publish(admin.api, ws, "cases", {"cases.csv": CASES, "2024 areas.geojson": b"{}"})
    other = publish(admin.api, ws, "secret", {"secret.csv": b"pin\n1234\n"})
    secret_path = world.platform.tables.parquet(
        admin.api.get(f"{other}").json()["files"][0]["sha256"], "csv"
    )
    ok = admin.api.post(
        f"{base}/query",
        json={"sql": "SELECT district, sum(cases) AS n FROM cases GROUP BY 1 ORDER BY 2 DESC"},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["rows"] == [["Kailahun", 30], ["Bo", 12], ["Kenema", 7]]
    assert "cases" in ok.json()["tables"]
    outside = tmp_path / "x.csv"
    outside.write_text("a\n1\n")
    for sql, reason in (
        (f"SELECT * FROM read_parquet('{secret_path}')", "only this version"),
        (f"SELECT * FROM '{outside}'", "only this version"),
        ("SELECT * FROM read_csv('/etc/passwd')", "only this version"),
        ("SELECT * FROM read_parquet('https://example.org/x.parquet')", "only this version"),
        ("COPY cases TO '/tmp/stolen.csv'", "only SELECT"),
        ("CREATE TABLE x AS SELECT 1", "only SELECT"),
        ("ATTACH '/tmp/other.db'", "only SELECT"),
        ("SET enable_external_access = true", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("SELECT 1; SELECT 2", "exactly one"),
        ("SELEC 1", "sql:"),
    ):
        refused = admin.api.post(f"{base}/query", json={"sql": sql})
        assert refused.status_code == 400, (sql, refused.text)
        assert reason in refused.json()["error"]["message"], (sql, refused.text)
    assert not (tmp_path / "stolen.csv").exists()


def test_sql_limits_rows_and_time(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    base = publish(admin.api, ws, "cases", {"cases.csv": CASES})
    settings = world.platform.settings
    rows, timeout = settings.query_max_rows, settings.query_timeout_seconds
    settings.query_max_rows, settings.query_timeout_seconds = 3, 1.0
    try:
        cut = admin.api.post(f"{base}/query", json={"sql": "SELECT * FROM range(10)"}).json()
        assert len(cut["rows"]) == 3 and cut["truncated"] is True
        slow = admin.api.post(
            f"{base}/query",
            json={"sql": "SELECT count(*) FROM range(100000000000) a, cases"},
        )
        assert slow.status_code == 400 and "longer than 1 s" in slow.json()["error"]["message"]
    finally:
        settings.query_max_rows, settings.query_timeout_seconds = rows, timeout


def test_exports_in_three_formats(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    base = publish(admin.api, ws, "cases", {"cases.csv": CASES})
    url = f"{base}/files/cases.csv/export"
    csv = admin.api.get(url, params={"format": "csv"})
    assert csv.status_code == 200 and csv.text.splitlines()[0] == "district,period,cases,reported"
    assert 'filename="cases.csv"' in csv.headers["content-disposition"]
    parquet = admin.api.get(url, params={"format": "parquet"})
    rows = duckdb.connect().execute(
        "SELECT count(*), sum(cases) FROM read_parquet(?)", [_save(world, parquet.content)]
    )
    assert rows.fetchone() == (4, 49)
    excel = admin.api.get(url, params={"format": "xlsx"})
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(excel.content)).get_sheet_by_index(0)
    values = sheet.to_python()
    assert values[0] == ["district", "period", "cases", "reported"] and len(values) == 5
    assert admin.api.get(url, params={"format": "xml"}).status_code == 400
    leftovers = list(world.platform.tables.root.glob(".export-*"))
    assert leftovers == []


def test_diff_between_versions(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    publish(admin.api, ws, "cases", {"cases.csv": CASES, "notes.txt": b"a", "same.csv": b"x\n1\n"})
    publish(
        admin.api, ws, "cases", {"cases.csv": CASES_V2, "readme.md": b"b", "same.csv": b"x\n1\n"}
    )
    url = f"/workspaces/{ws}/datasets/cases/diff"
    plain = admin.api.get(url, params={"old": "1", "new": "latest"}).json()
    assert plain["added"] == ["readme.md"] and plain["removed"] == ["notes.txt"]
    assert plain["changed"] == ["cases.csv"] and plain["unchanged"] == ["same.csv"]
    table = plain["tables"]["cases.csv"]
    assert table["schema"]["added"] == [{"name": "deaths", "type": "BIGINT"}]
    assert table["schema"]["removed"] == [{"name": "reported", "type": "DATE"}]
    assert table["rows"] == {"old": 4, "new": 4} and "by_key" not in table
    keyed = admin.api.get(url, params={"old": "v1", "new": "v2", "key": "district,period"}).json()
    rows = keyed["tables"]["cases.csv"]["by_key"]
    assert (rows["added"], rows["removed"], rows["changed"]) == (1, 1, 1)
    assert rows["samples"]["changed"] == [
        {
            "key": {"district": "Kenema", "period": 202401},
            "columns": {"cases": {"old": 7, "new": 9}},
        }
    ]
    assert rows["samples"]["added"]["rows"][0][0] == "Moyamba"
    not_unique = admin.api.get(url, params={"old": "1", "new": "2", "key": "district"}).json()
    assert "not unique" in not_unique["tables"]["cases.csv"]["error"]


def _xlsx(rows: list[list[Any]]) -> bytes:
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    sheet = book.add_worksheet()
    for number, row in enumerate(rows):
        sheet.write_row(number, 0, row)
    book.close()
    return out.getvalue()


def _save(world: World, content: bytes) -> str:
    path = world.platform.settings.home / f"export-{time.monotonic_ns()}.parquet"
    path.write_bytes(content)
    return str(path)
