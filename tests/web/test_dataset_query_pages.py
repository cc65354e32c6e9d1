"""The SQL box of the dataset page: its answers are cut at a size limit and say so, and a
query whose browser goes away is stopped."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from tests.api.test_dataset_query_limits import LONG_QUERY, changed, open_request
from tests.conftest import World
from tests.fixtures.waiting import eventually
from tests.web.page_client import PageClient, Pages
from tests.web.test_dataset_pages import CASES_V1, create, publish, texts, wait_for_profile

HX = {"HX-Request": "true"}


def signed_in_with_cases(world: World, pages: Pages) -> tuple[PageClient, str, str]:
    admin = world.person()
    ws = world.workspace(admin)
    slug = create(admin.api, ws, "Cases")
    number = publish(admin.api, ws, slug, {"cases.csv": CASES_V1})
    assert wait_for_profile(admin.api, ws, slug, number, "cases.csv") == "done"
    return pages.signed_in(admin.email, admin.password), ws, f"/w/{ws}/datasets/{slug}"


def test_the_sql_box_says_when_the_answer_reached_its_size_limit(
    world: World, pages: Pages
) -> None:
    client, _ws, page = signed_in_with_cases(world, pages)
    sql = "SELECT repeat('x', 1000) AS text FROM cases, range(100)"
    with changed(world.platform.settings, query_max_bytes=20_000):
        answer = client.post(f"{page}/versions/1/query", {"sql": sql}, headers=HX)
    assert answer.status_code == 200, answer.text
    shown = texts(answer.text)
    assert "reached its size limit" in shown
    assert 10 < answer.text.count("<tr><td>") <= 20


def test_a_query_stops_when_the_browser_goes_away(world: World, pages: Pages) -> None:
    client, _ws, page = signed_in_with_cases(world, pages)
    tables = world.platform.tables
    cookies = "; ".join(f"{c.name}={c.value}" for c in client.http.cookies.jar)
    body = urlencode({"csrf_token": client.csrf, "sql": LONG_QUERY}).encode()
    headers = {
        "Cookie": cookies,
        "Content-Type": "application/x-www-form-urlencoded",
        **HX,
    }
    with changed(world.platform.settings, query_timeout_seconds=600.0):
        sock = open_request(world.server.url, "POST", f"{page}/versions/1/query", headers, body)
        try:
            eventually(lambda: len(tables.running("query")) == 1, timeout=20)
            folder: Path = tables.running("query")[0]
        finally:
            sock.close()
        eventually(lambda: tables.running("query") == [] and not folder.exists(), timeout=20)
        again = client.post(f"{page}/versions/1/query", {"sql": "SELECT 41 + 1 AS n"}, headers=HX)
        assert again.status_code == 200 and "<td>42</td>" in again.text
