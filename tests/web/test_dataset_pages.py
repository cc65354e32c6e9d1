"""Dataset pages: the list, the dataset page with profiles, preview, SQL, sharing, tokens, the
access log, comparing versions, and who sees what."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from typing import Any

import httpx
import pytest

from joliba.domain.permissions import Role
from joliba.storage.table_reads import Filter
from joliba.web.dataset_pages import OP_LABELS, FileView, ProfileView
from joliba.web.dataset_profiles import columns_of, percent, shown
from joliba.web.dataset_table_pages import PreviewState
from joliba.web.render import TEMPLATES
from tests.api.test_dataset_tables import wait_profile
from tests.conftest import Person, World
from tests.pipeline_helpers import push, start_run, wait_for_run
from tests.web.page_client import PageClient, Pages

CASES_V1 = (
    b"district,period,cases,note\n"
    b"Bo,202401,12,first\n"
    b"Kenema,202401,7,\n"
    b"Kailahun,202401,30,<b>bold</b>\n"
    b"Port Loko,202401,5,last\n"
)
CASES_V2 = (
    b"district,period,cases,note,deaths\n"
    b"Bo,202401,15,first,1\n"
    b"Kailahun,202401,30,<b>bold</b>,0\n"
    b"Port Loko,202401,5,last,0\n"
    b"Kambia,202401,9,new,2\n"
)
SITES = b'name,location\nA,"POINT (-13.2 8.4)"\nB,"POINT (-11.1 7.9)"\nC,"POINT (-12.0 9.5)"\n'
HX = {"HX-Request": "true"}
ALL_ROWS = "Rows 1\u20134 of 4"  # an en dash between the numbers


def create(api: httpx.Client, ws: str, name: str, **body: Any) -> str:
    made = api.post(f"/workspaces/{ws}/datasets", json={"name": name, **body})
    assert made.status_code == 201, made.text
    return str(made.json()["slug"])


def publish(
    api: httpx.Client, ws: str, slug: str, files: dict[str, bytes], changelog: str = ""
) -> int:
    draft = api.post(f"/workspaces/{ws}/datasets/{slug}/versions", json={"changelog": changelog})
    assert draft.status_code == 201, draft.text
    number = int(draft.json()["number"])
    base = f"/workspaces/{ws}/datasets/{slug}/versions/{number}"
    for name, content in files.items():
        stored = api.put(f"{base}/files/{name}", content=content)
        assert stored.status_code == 201, stored.text
    published = api.post(f"{base}/publish")
    assert published.status_code == 200, published.text
    return number


def wait_for_profile(api: httpx.Client, ws: str, slug: str, version: int, name: str) -> str:
    """The state ("done" or "failed") of a file's profile, once it has ended."""
    url = f"/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}/profile"
    return str(wait_profile(api, url, timeout=60)["state"])


def access_entries(api: httpx.Client, ws: str, slug: str) -> list[dict[str, Any]]:
    listed = api.get(f"/workspaces/{ws}/datasets/{slug}/access")
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


def texts(html: str) -> str:
    """The page's text, tags removed and spaces collapsed (for readable asserts)."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def listed_refs(html: str) -> list[str]:
    return re.findall(r'<tr data-dataset="([^"]+)">', html)


@dataclass
class Cases:
    admin: Person
    ws: str
    slug: str
    client: PageClient

    @property
    def page(self) -> str:
        return f"/w/{self.ws}/datasets/{self.slug}"

    def file(self, version: int, name: str) -> str:
        return f"{self.page}/versions/{version}/files/{name}"


@pytest.fixture
def cases(world: World, pages: Pages) -> Cases:
    """A dataset with two published versions whose profiles are done."""
    admin = world.person()
    ws = world.workspace(admin)
    slug = create(admin.api, ws, "Malaria cases", description="Weekly <cases>", tags=["malaria"])
    publish(admin.api, ws, slug, {"cases.csv": CASES_V1, "notes.txt": b"read me"}, "first")
    publish(admin.api, ws, slug, {"cases.csv": CASES_V2, "sites.csv": SITES}, "Bo fixed")
    for version, name in ((1, "cases.csv"), (2, "cases.csv"), (2, "sites.csv")):
        assert wait_for_profile(admin.api, ws, slug, version, name) == "done"
    return Cases(admin, ws, slug, pages.signed_in(admin.email, admin.password))


def test_list_search_tags_and_create(world: World, pages: Pages) -> None:
    admin, partner = world.person(), world.person()
    ws, other = world.workspace(admin), world.workspace(partner)
    create(admin.api, ws, "Malaria cases", tags=["Malaria", "HMIS"])
    create(admin.api, ws, "Population", tags=["census"])
    publish(admin.api, ws, "population", {"pop.csv": b"district,people\nBo,1000\n"})
    create(partner.api, other, "Rainfall", tags=["climate"])
    shared = partner.api.post(
        f"/workspaces/{other}/datasets/rainfall/shares", json={"workspace": ws}
    )
    assert shared.status_code == 201, shared.text
    client = pages.signed_in(admin.email, admin.password)

    home = client.get(f"/w/{ws}").text
    assert f'href="/w/{ws}/datasets"' in home and ">Datasets</a>" in home
    listed = client.get(f"/w/{ws}/datasets")
    assert listed.status_code == 200
    html = listed.text
    assert 'class="active" aria-current="page">Datasets' in html
    for name in ("Malaria cases", "Population", "Rainfall"):
        assert name in html
    rain = re.search(rf'<tr data-dataset="{other}.rainfall">(.*?)</tr>', html, re.S)
    assert rain, "the shared dataset is listed by its full reference"
    assert 'class="badge shared"' in rain.group(1) and f"from {other}" in rain.group(1)
    assert f'href="/w/{ws}/datasets/{other}.rainfall"' in rain.group(1)
    population = re.search(r'<tr data-dataset="population">(.*?)</tr>', html, re.S)
    assert population and "v1" in population.group(1)
    assert f'href="/w/{ws}/datasets?tag=malaria"' in html

    searched = client.get(f"/w/{ws}/datasets", params={"search": "popul"}).text
    assert listed_refs(searched) == ["population"]
    tagged = client.get(f"/w/{ws}/datasets", params={"tag": "malaria"}).text
    assert listed_refs(tagged) == ["malaria-cases"]
    assert 'class="chip active"' in tagged and "#malaria ✕" in tagged
    none = client.get(f"/w/{ws}/datasets", params={"tag": "nothing"}).text
    assert "No dataset matches" in none

    made = client.post(
        f"/w/{ws}/datasets",
        {"name": "Stock-outs", "description": "Monthly", "tags": "Supply, hmis"},
    )
    assert made.status_code == 303
    assert made.headers["location"].startswith(f"/w/{ws}/datasets/stock-outs?flash=")
    got = admin.api.get(f"/workspaces/{ws}/datasets/stock-outs").json()
    assert got["tags"] == ["hmis", "supply"] and got["description"] == "Monthly"
    again = client.post(f"/w/{ws}/datasets", {"name": "Stock-outs", "tags": "x"})
    assert again.status_code == 409
    assert "already exists" in again.text and 'value="Stock-outs"' in again.text
    blank = client.post(f"/w/{ws}/datasets", {"name": "  ", "tags": ""})
    assert blank.status_code == 400


def test_dataset_page_shows_versions_files_and_profiles(cases: Cases) -> None:
    page = cases.client.get(cases.page)
    assert page.status_code == 200
    html = page.text
    text = texts(html)
    assert "Malaria cases" in text and "Weekly <cases>" in text
    assert "Weekly &lt;cases&gt;" in html and "<cases>" not in html
    assert f'href="/w/{cases.ws}/datasets?tag=malaria"' in html
    assert cases.admin.email in text and "Bo fixed" in text and "first" in text
    assert re.search(r'<tr class="chosen" aria-current="true" data-version="2">', html)
    # The latest version is chosen: its files, with download and export links to the API.
    api = f"/api/v1/workspaces/{cases.ws}/datasets/{cases.slug}/versions/2/files"
    assert f'href="{api}/cases.csv" download' in html
    assert f'href="{api}/cases.csv/export?format=parquet" download' in html
    assert f'href="{api}/sites.csv/export?format=xlsx" download' in html
    assert "notes.txt" not in html
    # Column profiles, with charts: a histogram for numbers, top values for text.
    cases_col = re.search(r'<tr data-column="cases">(.*?)</tr>', html, re.S)
    assert cases_col, "the profile has a row per column"
    assert '<svg class="hist"' in cases_col.group(1) and "<rect" in cases_col.group(1)
    assert ">5<" in cases_col.group(1) and ">30<" in cases_col.group(1)
    district = re.search(r'<tr data-column="district">(.*?)</tr>', html, re.S)
    assert district and 'class="topvals"' in district.group(1)
    location = re.search(r'<tr data-column="location">(.*?)</tr>', html, re.S)
    assert location and "bbox x -13.2 … -11.1, y 7.9 … 9.5" in texts(location.group(1))
    assert "4 rows · 5 columns" in text and "3 rows · 2 columns" in text
    assert "&lt;b&gt;bold&lt;/b&gt;" in html or "<b>bold</b>" not in html
    assert 'data-profile-state="done"' in html and "hx-trigger" not in html.split("</h1>")[0]

    older = cases.client.get(cases.page, params={"version": "1"}).text
    assert "notes.txt" in older and "sites.csv" not in texts(older).split("Files of")[1]
    note = re.search(r'<tr data-column="note">(.*?)</tr>', older, re.S)
    assert note and "25% (1)" in texts(note.group(1))  # one empty note in four rows
    assert cases.client.get(cases.page, params={"version": "9"}).status_code == 404


def test_the_profile_fragment_polls_until_done_and_shows_failures(
    cases: Cases, world: World
) -> None:
    fragment = cases.client.get(cases.file(2, "cases.csv") + "/profile")
    assert fragment.status_code == 200
    assert 'data-profile-state="done"' in fragment.text and "hx-get" not in fragment.text
    assert cases.client.get(cases.file(1, "notes.txt") + "/profile").status_code == 400

    broken = create(cases.admin.api, cases.ws, "Broken")
    publish(cases.admin.api, cases.ws, broken, {"bad.json": b"{this is not json"})
    assert wait_for_profile(cases.admin.api, cases.ws, broken, 1, "bad.json") == "failed"
    page = cases.client.get(f"/w/{cases.ws}/datasets/{broken}").text
    assert 'data-profile-state="failed"' in page
    assert "The profile could not be computed:" in page
    unreadable = cases.client.get(
        f"/w/{cases.ws}/datasets/{broken}/versions/1/files/bad.json/preview", headers=HX
    )
    assert unreadable.status_code == 200 and "cannot read this json file" in unreadable.text
    assert "<table" not in unreadable.text

    # While the profiler works, the fragment shows progress and asks for itself again.
    view = FileView(0, "t.csv", "csv", 1, "0" * 64, "/d", "/w/x/f", "/api/f")
    for state, progress, shown_text in (
        ("pending", 0.0, "Waiting for the profiler"),
        ("running", 0.42, "Profiling the columns… 42%"),
    ):
        view.profile = ProfileView(state=state, progress=progress)
        html = TEMPLATES.get_template("datasets/_profile.html").render(f=view)
        assert 'hx-get="/w/x/f/profile"' in html and 'hx-trigger="load delay:1s"' in html
        assert shown_text in html and "<progress" in html


def test_preview_sorts_filters_and_pages(cases: Cases) -> None:
    url = cases.file(2, "cases.csv") + "/preview"
    first = cases.client.get(url, headers=HX)
    assert first.status_code == 200
    html = first.text
    assert 'class="preview"' in html and "<html" not in html
    assert ALL_ROWS in texts(html)
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html

    by_cases = cases.client.get(url, params={"sort": "cases", "desc": "1"}, headers=HX).text
    districts = re.findall(r"<tr><td>([^<]+)</td>", by_cases)
    assert districts == ["Kailahun", "Bo", "Kambia", "Port Loko"]
    assert 'aria-sort="descending"' in by_cases
    # The header link cycles: descending → unsorted.
    assert f'hx-get="{url}"' in by_cases

    filtered = cases.client.get(
        url,
        params={"sort": "cases", "add_column": "cases", "add_op": "ge", "add_value": "9"},
        headers=HX,
    ).text
    assert re.findall(r"<tr><td>([^<]+)</td>", filtered) == ["Kambia", "Bo", "Kailahun"]
    assert "cases ≥ “9” ✕" in texts(filtered)
    assert 'name="fc" value="cases"' in filtered and 'name="fo" value="ge"' in filtered

    both = cases.client.get(
        url,
        params=[
            ("fc", "cases"),
            ("fo", "ge"),
            ("fv", "9"),
            ("add_column", "district"),
            ("add_op", "contains"),
            ("add_value", "ka"),
        ],
        headers=HX,
    ).text
    assert re.findall(r"<tr><td>([^<]+)</td>", both) == ["Kailahun", "Kambia"]

    bad = cases.client.get(
        url, params={"add_column": "cases", "add_op": "eq", "add_value": "many"}, headers=HX
    )
    assert bad.status_code == 200
    assert 'class="error"' in bad.text and ALL_ROWS in texts(bad.text)
    assert "cases = “many”" not in texts(bad.text)
    missing = cases.client.get(url, params={"sort": "nope"}, headers=HX).text
    assert "no column 'nope'" in texts(missing) and ALL_ROWS in texts(missing)

    reads = [e for e in access_entries(cases.admin.api, cases.ws, cases.slug)]
    previews = [e for e in reads if e["action"] == "preview"]
    assert len(previews) == 6
    assert {e["via"] for e in previews} == {"browser"}
    assert previews[0]["file"] == "cases.csv" and previews[0]["version"] == "v2"


def test_preview_pages_through_rows() -> None:
    state = PreviewState(base="/p", offset=25, sort="a", desc=True)
    state.filters = [Filter("a", "gt", "1"), Filter("b", "null")]
    assert state.url(offset=50) == "/p?offset=50&sort=a&desc=1&fc=a&fo=gt&fv=1&fc=b&fo=null&fv="
    assert state.sort_url("a") == "/p?fc=a&fo=gt&fv=1&fc=b&fo=null&fv="
    assert state.sort_url("b").startswith("/p?sort=b&fc=a")
    assert state.without(0) == "/p?sort=a&desc=1&fc=b&fo=null&fv="
    assert ("offset", "25") not in state.hidden()
    assert set(OP_LABELS) == {"eq", "ne", "lt", "le", "gt", "ge", "contains", "null", "notnull"}


def test_sql_box_answers_and_refuses_writes(cases: Cases) -> None:
    url = f"{cases.page}/versions/2/query"
    answer = cases.client.post(
        url, {"sql": "SELECT district, cases FROM cases ORDER BY cases DESC LIMIT 2"}, headers=HX
    )
    assert answer.status_code == 200, answer.text
    assert 'id="sql-result"' in answer.text and "<html" not in answer.text
    assert re.findall(r"<tr><td>([^<]+)</td>", answer.text) == ["Kailahun", "Bo"]
    assert "2 rows" in texts(answer.text)

    joined = cases.client.post(
        url, {"sql": "SELECT count(*) AS n FROM cases, sites"}, headers=HX
    ).text
    assert "<td>12</td>" in joined

    refused = cases.client.post(url, {"sql": "DELETE FROM cases"}, headers=HX)
    assert refused.status_code == 400
    assert "only SELECT queries are allowed" in refused.text
    sneaky = cases.client.post(url, {"sql": "SELECT * FROM read_csv('/etc/passwd')"}, headers=HX)
    assert sneaky.status_code == 400 and 'class="error"' in sneaky.text

    # Without JavaScript the form answers with the whole page, the query kept in the box.
    whole = cases.client.post(url, {"sql": "SELECT max(cases) AS top FROM cases"})
    assert whole.status_code == 200
    assert "<html" in whole.text and "<td>30</td>" in whole.text
    assert "SELECT max(cases) AS top FROM cases</textarea>" in whole.text

    queries = [e for e in access_entries(cases.admin.api, cases.ws, cases.slug)]
    assert [e["rows"] for e in queries if e["action"] == "query"] == [1, 1, 2]
    # No CSRF token, no query.
    forged = cases.client.http.post(url, data={"sql": "SELECT 1"})
    assert forged.status_code == 403


def test_share_revoke_and_dataset_tokens(cases: Cases, world: World, pages: Pages) -> None:
    partner = world.person()
    other = world.workspace(partner)
    page = cases.client.get(cases.page).text
    assert 'id="sharing"' in page and "Not shared with any other workspace" in page

    shared = cases.client.post(f"{cases.page}/shares", {"workspace": other})
    assert shared.status_code == 303
    assert shared.headers["location"] == (f"{cases.page}?flash=Shared+with+%27{other}%27.#sharing")
    assert f'data-share="{other}"' in cases.client.get(cases.page).text
    unknown = cases.client.post(f"{cases.page}/shares", {"workspace": "no-such-ws"})
    assert unknown.status_code == 404 and "workspace 'no-such-ws' not found" in texts(unknown.text)
    assert 'id="versions"' in unknown.text  # the page again, with the reason
    twice = cases.client.post(f"{cases.page}/shares", {"workspace": other})
    assert twice.status_code == 409 and "already shared" in twice.text

    # The partner sees it as shared: read-only, with no sharing or access log.
    theirs = pages.signed_in(partner.email, partner.password)
    listed = theirs.get(f"/w/{other}/datasets").text
    assert f'data-dataset="{cases.ws}.{cases.slug}"' in listed
    ref_page = f"/w/{other}/datasets/{cases.ws}.{cases.slug}"
    seen = theirs.get(ref_page)
    assert seen.status_code == 200
    assert 'class="badge shared"' in seen.text and "read-only here" in seen.text
    assert 'id="sharing"' not in seen.text and 'id="access-log"' not in seen.text
    assert theirs.post(f"{ref_page}/shares", {"workspace": other}).status_code == 404
    preview = theirs.get(f"{ref_page}/versions/2/files/cases.csv/preview", headers=HX)
    assert preview.status_code == 200 and "Kambia" in preview.text
    readers = {e["workspace"] for e in access_entries(cases.admin.api, cases.ws, cases.slug)}
    assert other in readers

    revoked = cases.client.post(f"{cases.page}/shares/{other}/revoke")
    assert revoked.status_code == 303
    assert theirs.get(ref_page).status_code == 404

    made = cases.client.post(f"{cases.page}/tokens", {"name": "Superset", "expires_in_days": "30"})
    assert made.status_code == 200
    secret = re.search(r"data-token-secret>(jld_[^<]+)<", made.text)
    assert secret, "the new token is shown"
    reader = world.client(secret.group(1))
    got = reader.get(f"/workspaces/{cases.ws}/datasets/{cases.slug}/versions/1/files/cases.csv")
    assert got.status_code == 200 and got.content == CASES_V1
    again = cases.client.get(cases.page).text
    assert secret.group(1) not in again and "Superset" in again
    bad_days = cases.client.post(f"{cases.page}/tokens", {"name": "x", "expires_in_days": "soon"})
    assert bad_days.status_code == 400 and "whole number of days" in bad_days.text

    token_id = cases.admin.api.get(f"/workspaces/{cases.ws}/datasets/{cases.slug}/tokens").json()
    gone = cases.client.post(f"{cases.page}/tokens/{token_id[0]['id']}/revoke")
    assert gone.status_code == 303
    assert "revoked" in cases.client.get(cases.page).text
    denied = reader.get(f"/workspaces/{cases.ws}/datasets/{cases.slug}/versions/1/files/cases.csv")
    assert denied.status_code == 401


def test_who_sees_what(cases: Cases, world: World, pages: Pages) -> None:
    viewer, editor, outsider = world.person(), world.person(), world.person()
    world.add_member(cases.ws, viewer, Role.VIEWER)
    world.add_member(cases.ws, editor, Role.EDITOR)
    cases.client.get(cases.file(2, "cases.csv") + "/preview", headers=HX)

    as_admin = cases.client.get(cases.page).text
    assert 'id="sharing"' in as_admin and 'id="access-log"' in as_admin
    log = re.search(r'<section class="card" id="access-log".*?</section>', as_admin, re.S)
    assert log and cases.admin.email in log.group(0) and "browser" in log.group(0)
    assert 'data-action="preview"' in log.group(0)
    assert 'id="new-dataset"' in cases.client.get(f"/w/{cases.ws}/datasets").text

    as_editor = pages.signed_in(editor.email, editor.password)
    html = as_editor.get(cases.page).text
    assert 'id="sharing"' in html and 'id="access-log"' not in html
    assert as_editor.get(f"{cases.page}/access").status_code == 403

    as_viewer = pages.signed_in(viewer.email, viewer.password)
    html = as_viewer.get(cases.page).text
    assert 'id="sharing"' not in html and 'id="access-log"' not in html
    assert 'id="sql"' in html and "Show rows" in html
    assert 'id="new-dataset"' not in as_viewer.get(f"/w/{cases.ws}/datasets").text
    assert as_viewer.post(f"/w/{cases.ws}/datasets", {"name": "Mine"}).status_code == 403
    assert as_viewer.post(f"{cases.page}/tokens", {"name": "t"}).status_code == 403
    assert as_viewer.post(f"{cases.page}/shares", {"workspace": "x"}).status_code == 403

    as_outsider = pages.signed_in(outsider.email, outsider.password)
    for path in (
        f"/w/{cases.ws}/datasets",
        cases.page,
        cases.file(2, "cases.csv") + "/preview",
        cases.file(2, "cases.csv") + "/profile",
        f"{cases.page}/compare",
        f"{cases.page}/access",
    ):
        assert as_outsider.get(path).status_code == 404, path
    assert (
        as_outsider.post(f"{cases.page}/versions/2/query", {"sql": "SELECT 1"}).status_code == 404
    )

    anonymous = pages.anonymous().get(cases.page)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_access_log_pages(cases: Cases) -> None:
    url = cases.file(2, "cases.csv") + "/preview"
    for _ in range(23):
        cases.client.get(url, headers=HX)
    first = cases.client.get(cases.page).text
    assert "Page 1 of 2 · 23 in all" in first
    second = cases.client.get(f"{cases.page}/access", params={"page": 2}, headers=HX)
    assert second.status_code == 200 and "<html" not in second.text
    assert second.text.count('data-action="preview"') == 3
    whole = cases.client.get(f"{cases.page}/access", params={"page": 2})
    assert "<html" in whole.text and "Page 2 of 2" in whole.text


def test_compare_versions(cases: Cases) -> None:
    plain = cases.client.get(f"{cases.page}/compare")
    assert plain.status_code == 200
    html = plain.text
    files = re.search(r'<section class="card diff-summary".*?</section>', html, re.S)
    assert files, "the newest two versions are compared by default"
    summary = texts(files.group(0))
    assert "v1 → v2" in summary
    assert "Added sites.csv" in summary and "Removed notes.txt" in summary
    assert "Changed cases.csv" in summary and "Unchanged 0" in summary
    table = texts(html.split('data-table="cases.csv"')[1])
    assert "Rows 4 → 4 (+0)" in table and "Columns added deaths BIGINT" in table

    keyed = cases.client.get(
        f"{cases.page}/compare", params={"old": "1", "new": "2", "key": "district"}
    ).text
    by_key = texts(keyed.split('data-table="cases.csv"')[1])
    assert "1 added · 1 removed · 1 changed" in by_key
    assert "cases 12 → 15" in by_key
    assert "Kambia" in by_key and "Kenema" in by_key
    assert "<del>12</del> → <ins>15</ins>" in keyed

    wrong_key = cases.client.get(f"{cases.page}/compare", params={"key": "deaths"}).text
    assert "key: column 'deaths' is not in both versions" in texts(wrong_key)
    assert cases.client.get(f"{cases.page}/compare", params={"old": "7"}).status_code == 404


RUN_MAKES_A_VERSION = """
import tempfile
from pathlib import Path

from joliba import Dataset, parameter, pipeline

@pipeline(name="Weekly cases")
@parameter("target", type=Dataset)
def weekly(target):
    path = Path(tempfile.mkdtemp()) / "cases.csv"
    path.write_text("district,cases\\nBo,12\\n")
    target.create_version("2024-w01", files=[path], changelog="from the run")
"""


def test_a_version_made_by_a_run_links_to_it(world: World, pages: Pages) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    slug = create(admin.api, ws, "Weekly cases")
    push(admin.api, ws, "weekly", RUN_MAKES_A_VERSION)
    run = start_run(admin.api, ws, "weekly", {"target": slug})
    assert wait_for_run(admin.api, ws, run["id"], timeout=120)["state"] == "succeeded"
    html = pages.signed_in(admin.email, admin.password).get(f"/w/{ws}/datasets/{slug}").text
    row = re.search(
        r'<tr class="chosen" aria-current="true" data-version="1">(.*?)</tr>', html, re.S
    )
    assert row, "the run's version is listed and chosen"
    link = f'<a href="/w/{ws}/runs/{run["id"]}">run {run["id"][:8]}</a>'
    assert link in row.group(1) and f"by {admin.email}" in row.group(1)
    assert "from the run" in row.group(1)


def test_profile_numbers_for_people() -> None:
    columns = columns_of(
        {
            "rows": 4,
            "columns": [
                {
                    "name": "n",
                    "type": "BIGINT",
                    "nulls": 1,
                    "distinct": 3,
                    "distinct_exact": False,
                    "min": 1,
                    "max": 9,
                    "mean": 4.333333,
                    "top": [{"value": 1, "count": 2}, {"value": None, "count": 1}],
                    "histogram": [
                        {"start": 1, "end": 5, "count": 2},
                        {"start": 5, "end": 9, "count": 1},
                    ],
                }
            ],
        }
    )
    (n,) = columns
    assert (n.nulls_pct, n.min, n.max, n.mean) == ("25%", "1", "9", "4.33333")
    assert not n.distinct_exact
    assert [b.height for b in n.histogram] == [31.0, 15.5]
    assert [(t.value, t.width, t.share) for t in n.top] == [
        ("1", 100.0, "50%"),
        ("null", 50.0, "25%"),
    ]
    assert shown(2.0) == "2" and shown(None) == "" and columns_of(None) == []
    assert (percent(1, 3), percent(1, 100_000), percent(0, 5), percent(1, 0)) == (
        "33.3%",
        "<0.1%",
        "0%",
        "",
    )
