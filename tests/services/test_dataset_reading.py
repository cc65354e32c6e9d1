"""Every read of a dataset (download, preview, query, export, diff) is in its access log
exactly once per call, through the API and through the pages (whose downloads and exports
are links to the API, followed with the browser's session), on both databases; a read that
is refused is not in it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from tests.api.test_dataset_tables import CASES, CASES_V2, publish
from tests.conftest import PASSWORD, World
from tests.web.page_client import Pages

HX = {"HX-Request": "true"}
Read = Callable[[], httpx.Response]
Entry = dict[str, Any]


def log_of(api: httpx.Client, ws: str) -> list[dict[str, Any]]:
    listed = api.get(f"/workspaces/{ws}/datasets/cases/access", params={"page_size": 200})
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


def each_logged_once(
    api: httpx.Client, ws: str, reads: list[tuple[str, Read]], expected: dict[str, Entry]
) -> None:
    """Each read, called twice, adds exactly one entry to the log each time: its own."""
    for action, read in reads:
        for _ in range(2):
            before = len(log_of(api, ws))
            answer = read()
            assert answer.status_code == 200, (action, answer.text)
            log = log_of(api, ws)
            added = log[: len(log) - before]
            assert [e["action"] for e in added] == [action], added
            assert {k: added[0][k] for k in expected[action]} == expected[action]


def not_logged(api: httpx.Client, ws: str, read: Read, status: int) -> None:
    before = len(log_of(api, ws))
    assert read().status_code == status
    assert len(log_of(api, ws)) == before


def two_versions(world: World) -> tuple[httpx.Client, str, str]:
    admin = world.person()
    ws = world.workspace(admin)
    publish(admin.api, ws, "cases", {"cases.csv": CASES})
    publish(admin.api, ws, "cases", {"cases.csv": CASES_V2})
    return admin.api, ws, admin.email


def expected_entries(via: str, email: str, ws: str) -> dict[str, Entry]:
    who = {"via": via, "user": email, "workspace": ws}
    table = {**who, "version": "v2", "file": "cases.csv"}
    return {
        "download": {**table, "bytes": len(CASES_V2), "rows": None},
        "export": {**table, "rows": 4},
        "preview": {**table, "rows": 4},
        "query": {**who, "version": "v2", "file": "", "rows": 2},
        "diff": {**who, "version": "v1 → v2", "file": "", "rows": None},
    }


def test_each_api_read_is_logged_once(world: World) -> None:
    api, ws, email = two_versions(world)
    dataset = f"/workspaces/{ws}/datasets/cases"
    file = f"{dataset}/versions/2/files/cases.csv"
    query = f"{dataset}/versions/2/query"
    reads: list[tuple[str, Read]] = [
        ("download", lambda: api.get(file)),
        ("preview", lambda: api.get(f"{file}/preview")),
        ("query", lambda: api.post(query, json={"sql": "SELECT * FROM cases LIMIT 2"})),
        ("export", lambda: api.get(f"{file}/export", params={"format": "csv"})),
        ("diff", lambda: api.get(f"{dataset}/diff", params={"old": "1", "new": "2"})),
    ]
    each_logged_once(api, ws, reads, expected_entries("api token test", email, ws))

    not_logged(api, ws, lambda: api.post(query, json={"sql": "DELETE FROM cases"}), 400)
    not_logged(api, ws, lambda: api.get(f"{file}/preview", params={"sort": "nope"}), 400)
    not_logged(api, ws, lambda: api.get(f"{file}/export", params={"format": "pdf"}), 400)
    not_logged(api, ws, lambda: api.get(f"{dataset}/versions/9/files/cases.csv"), 404)


def test_each_page_read_is_logged_once(world: World) -> None:
    api, ws, email = two_versions(world)
    page = f"/w/{ws}/datasets/cases"
    preview = f"{page}/versions/2/files/cases.csv/preview"
    sql = f"{page}/versions/2/query"
    with Pages(world.server.url) as pages:
        client = pages.signed_in(email, PASSWORD)
        html = client.get(page, params={"version": "2"}).text
        download = re.search(r'href="(/api/v1/[^"]+/files/cases\.csv)" download', html)
        export = re.search(r'href="(/api/v1/[^"]+/files/cases\.csv/export\?format=csv)"', html)
        assert download and export, "the dataset page links to the download and the export"
        unfit = {"add_column": "cases", "add_op": "eq", "add_value": "many"}
        reads: list[tuple[str, Read]] = [
            ("download", lambda: client.get(download.group(1))),
            ("export", lambda: client.get(export.group(1))),
            ("preview", lambda: client.get(preview, headers=HX)),
            # A filter that does not fit is dropped: the rows then shown are one read.
            ("preview", lambda: client.get(preview, params=unfit, headers=HX)),
            ("query", lambda: client.post(sql, {"sql": "SELECT * FROM cases LIMIT 2"}, headers=HX)),
            ("diff", lambda: client.get(f"{page}/compare", params={"old": "1", "new": "2"})),
        ]
        each_logged_once(api, ws, reads, expected_entries("browser", email, ws))

        not_logged(api, ws, lambda: client.post(sql, {"sql": "DELETE FROM cases"}, headers=HX), 400)
        missing = f"{page}/versions/9/files/cases.csv/preview"
        not_logged(api, ws, lambda: client.get(missing, headers=HX), 404)
