"""The workspace database page in real Chromium, on a workspace with a PostgreSQL database:
SQL through the editor, a saved query, a table's rows, the passwords, and a phone's screen."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.browser.conftest import PHONE, fits_the_phone, sign_in, watch_console
from tests.conftest import World

pytestmark = pytest.mark.browser


@pytest.fixture
def db_context(browser: Browser, db_world: World) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=db_world.server.url)
    yield ctx
    ctx.close()


def test_sql_saved_queries_rows_and_passwords(db_context: BrowserContext, db_world: World) -> None:
    admin = db_world.person()
    ws = db_world.workspace(admin)
    page = db_context.new_page()
    errors = watch_console(page)
    sign_in(page, admin.email, admin.password)
    page.goto(f"/w/{ws}")
    page.click("nav.wsnav >> text=Database")
    expect(page.locator("h1")).to_have_text("Database")
    expect(page.locator("#tables")).to_contain_text("No tables yet")

    editor = page.locator("#sql-text")
    rows = "(VALUES ('Dosso', 12), ('Tahoua', 7)) AS t(district, n)"
    editor.fill(f"CREATE TABLE cases AS SELECT * FROM {rows}")
    page.click("#sql button:has-text('Run')")
    expect(page.locator("#sql-result")).to_contain_text("Done")
    editor.fill("SELECT district, n FROM cases ORDER BY n DESC")
    page.click("#sql button:has-text('Run')")
    expect(page.locator("#sql-result tbody tr")).to_have_count(2)
    expect(page.locator("#sql-result tbody tr").first).to_contain_text("Dosso")

    page.fill("#sql input[name=name]", "Cases by district")
    page.click("#sql button:has-text('Save')")
    expect(page).to_have_url(re.compile(r"\?query=[0-9a-f-]+"))
    expect(page.locator(".saved-queries")).to_contain_text("Cases by district")
    expect(page.locator("#sql-text")).to_have_value("SELECT district, n FROM cases ORDER BY n DESC")

    page.click("#tables >> text=cases")
    expect(page.locator("#rows .preview-table tbody tr")).to_have_count(2)
    page.click("#rows th >> text=n")  # sort by n, ascending
    expect(page.locator("#rows .preview-table tbody tr").first).to_contain_text("Tahoua")

    page.click("#connect button:has-text('Show passwords')")
    expect(page.locator("#db-secrets code.secret")).to_have_count(2)
    assert errors == []

    page.set_viewport_size(PHONE)
    page.goto(f"/w/{ws}/database?table=cases")
    expect(page.locator("#rows .preview-table tbody tr")).to_have_count(2)
    assert fits_the_phone(page)
    assert errors == []
