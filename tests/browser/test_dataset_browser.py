"""Datasets in real Chromium: create one, watch its profile arrive, sort and filter the
preview, run SQL, share it with a token, compare versions, and read it all on a phone."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect
from sqlalchemy import update

from joliba.db.tables import TableProfile, utcnow
from tests.api.test_dataset_tables import wait_profile
from tests.browser.conftest import PHONE, fits_the_phone, sign_in, watch_console
from tests.conftest import World, unique

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp"


def cases_csv(marker: str, rows: list[tuple[str, int]]) -> bytes:
    """A small table; ``marker`` makes its content (and so its profile) this test's own."""
    lines = ["district,period,cases,marker"]
    lines += [f"{d},202401,{n},{marker}" for d, n in rows]
    return ("\n".join(lines) + "\n").encode()


def push_version(api: httpx.Client, ws: str, slug: str, files: dict[str, bytes]) -> str:
    draft = api.post(f"/workspaces/{ws}/datasets/{slug}/versions", json={"changelog": "update"})
    assert draft.status_code == 201, draft.text
    base = f"/workspaces/{ws}/datasets/{slug}/versions/{draft.json()['number']}"
    for name, content in files.items():
        assert api.put(f"{base}/files/{name}", content=content).status_code == 201
    published = api.post(f"{base}/publish")
    assert published.status_code == 200, published.text
    return str(published.json()["files"][0]["sha256"])


def set_profile(world: World, sha256: str, **values: object) -> None:
    with world.platform.db.transaction() as session:
        session.execute(update(TableProfile).where(TableProfile.sha256 == sha256).values(**values))


def test_a_dataset_from_list_to_diff(context: BrowserContext, world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    marker = unique("m")
    page = context.new_page()
    errors = watch_console(page)
    sign_in(page, admin.email, admin.password)

    # Create it from the list page.
    page.goto(f"/w/{ws}")
    page.click("nav.wsnav >> text=Datasets")
    expect(page.locator("h1")).to_have_text("Datasets")
    page.fill("#new-dataset input[name=name]", "Malaria cases")
    page.fill("#new-dataset textarea[name=description]", "Confirmed cases by district")
    page.fill("#new-dataset input[name=tags]", "malaria, hmis")
    page.click("button:has-text('Create dataset')")
    expect(page).to_have_url(re.compile(rf"/w/{ws}/datasets/malaria-cases"))
    expect(page.locator("h1")).to_contain_text("Malaria cases")
    expect(page.locator("p.notice")).to_contain_text("created")

    # Two versions pushed through the API, as the CLI and pipelines do.
    v1 = cases_csv(marker, [("Bo", 12), ("Kenema", 7), ("Kailahun", 30), ("Port Loko", 5)])
    v2 = cases_csv(marker, [("Bo", 15), ("Kailahun", 30), ("Port Loko", 5), ("Kambia", 9)])
    push_version(admin.api, ws, "malaria-cases", {"cases.csv": v1})
    sha = push_version(admin.api, ws, "malaria-cases", {"cases.csv": v2})
    profile_api = f"/workspaces/{ws}/datasets/malaria-cases/versions/2/files/cases.csv/profile"
    assert wait_profile(admin.api, profile_api)["state"] == "done"

    # Hold the profile as "running": the page shows progress, then the charts arrive by
    # themselves once the profiler has done it again.
    set_profile(world, sha, state="running", progress=0.3, claimed_at=utcnow())
    page.reload()
    page.evaluate("window.stillTheSamePage = true")
    profile = page.locator("#file-0 .profile")
    expect(profile).to_have_attribute("data-profile-state", "running")
    expect(profile.locator("progress")).to_be_visible()
    expect(profile).to_contain_text("30%")
    set_profile(world, sha, state="pending")
    world.platform.profiles_waiting.set()
    expect(page.locator("#file-0 .profile")).to_have_attribute(
        "data-profile-state", "done", timeout=20_000
    )
    expect(page.locator("#file-0 tr[data-column=cases] svg.hist rect").first).to_be_attached()
    expect(page.locator("#file-0 tr[data-column=district] .topvals li")).to_have_count(4)
    assert page.evaluate("window.stillTheSamePage") is True
    page.screenshot(path=f"{SCREENSHOTS}/dataset-page.png", full_page=True)

    # The preview: sort by a column, both ways, then filter.
    card = page.locator("#file-0")
    card.locator("button:has-text('Show rows')").click()
    preview = card.locator(".preview-table")
    expect(preview.locator("tbody tr")).to_have_count(4)
    card.locator("th a.sort:has-text('cases')").click()
    expect(card.locator("th[aria-sort=ascending]")).to_contain_text("cases")
    expect(preview.locator("tbody tr").first.locator("td").first).to_have_text("Port Loko")
    card.locator("th a.sort:has-text('cases')").click()
    expect(card.locator("th[aria-sort=descending]")).to_contain_text("cases")
    expect(preview.locator("tbody tr").first.locator("td").first).to_have_text("Kailahun")
    card.locator("select[name=add_column]").select_option("cases")
    card.locator("select[name=add_op]").select_option("ge")
    card.locator("input[name=add_value]").fill("9")
    card.locator("button:has-text('Add filter')").click()
    expect(card.locator(".active-filters")).to_contain_text("cases ≥ “9”")
    expect(preview.locator("tbody tr")).to_have_count(3)
    expect(card.locator("[data-preview-count]")).to_contain_text("of 3")

    # SQL: an answer, then a refused write.
    page.fill("#sql-text", "SELECT district, cases FROM cases WHERE cases > 10 ORDER BY cases")
    page.click("button:has-text('Run query')")
    result = page.locator("#sql-result table tbody tr")
    expect(result).to_have_count(2)
    expect(result.first.locator("td").first).to_have_text("Bo")
    page.locator("#file-0").screenshot(path=f"{SCREENSHOTS}/dataset-table.png")
    page.fill("#sql-text", "DROP TABLE cases")
    page.click("button:has-text('Run query')")
    expect(page.locator("#sql-result .error")).to_contain_text("only SELECT queries are allowed")

    # A dataset token, shown once.
    page.fill("#sharing input[name=name]", "Dashboard")
    page.click("button:has-text('Create token')")
    expect(page.locator("[data-token-secret]")).to_contain_text("jld_")
    page.locator("#sharing").screenshot(path=f"{SCREENSHOTS}/dataset-sharing.png")

    # The access log lists the reads made above.
    page.goto(f"/w/{ws}/datasets/malaria-cases")
    expect(page.locator("#access-log tr[data-action=preview]").first).to_be_visible()
    expect(page.locator("#access-log tr[data-action=query]").first).to_contain_text("browser")

    # Compare the two versions by district.
    page.click("a:has-text('Compare versions')")
    expect(page.locator("h1")).to_contain_text("Compare versions")
    page.fill("input[name=key]", "district")
    page.click("button:has-text('Compare')")
    counts = page.locator(".key-counts")
    expect(counts).to_contain_text("1 added · 1 removed · 1 changed")
    expect(page.locator("table.changes")).to_contain_text("12 → 15")
    page.screenshot(path=f"{SCREENSHOTS}/dataset-compare.png", full_page=True)

    # On a phone: no page scrolls sideways.
    page.set_viewport_size(PHONE)
    assert fits_the_phone(page)
    page.goto(f"/w/{ws}/datasets/malaria-cases")
    expect(page.locator("#file-0 .profile")).to_have_attribute("data-profile-state", "done")
    page.locator("#file-0 button:has-text('Show rows')").click()
    expect(page.locator("#file-0 .preview-table tbody tr")).to_have_count(4)
    assert fits_the_phone(page)
    page.locator("#file-0").screenshot(path=f"{SCREENSHOTS}/dataset-phone-table.png")
    page.locator("#versions").screenshot(path=f"{SCREENSHOTS}/dataset-phone-versions.png")
    page.goto(f"/w/{ws}/datasets")
    expect(page.locator("tr[data-dataset=malaria-cases]")).to_contain_text("#malaria")
    assert fits_the_phone(page)
    page.screenshot(path=f"{SCREENSHOTS}/dataset-list-phone.png", full_page=True)
    assert errors == []
