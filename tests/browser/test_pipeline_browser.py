"""Running pipelines from the pages in real Chromium: the run form, the live log, cancelling."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import (
    BrowserContext,
    Page,
    expect,
)

from tests.browser.conftest import PHONE, fits_the_phone, sign_in, watch_console
from tests.conftest import World, unique
from tests.pipeline_helpers import LOG_SLEEP_LOG, SLEEPY, push

pytestmark = pytest.mark.browser


def start_from_the_form(page: Page, ws: str, code: str, name: str) -> None:
    """Open the pipeline through the navigation and submit its run form."""
    page.goto(f"/w/{ws}")
    page.click("nav.wsnav >> text=Pipelines")
    page.click(f"a:has-text('{name}')")
    expect(page.locator("h1")).to_have_text(name)
    page.click("button:has-text('Run pipeline')")
    expect(page).to_have_url(re.compile(rf"/w/{ws}/runs/[0-9a-f-]{{36}}"))


def test_the_log_follows_a_run_live(context: BrowserContext, world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    code = unique("live-")
    push(admin.api, ws, code, LOG_SLEEP_LOG)
    page = context.new_page()
    errors = watch_console(page)
    sign_in(page, admin.email, admin.password)
    start_from_the_form(page, ws, code, "Log, sleep, log")
    # Anything set now is lost if the page reloads.
    page.evaluate("window.stillTheSamePage = true")

    log = page.locator("[data-run-log]")
    badge = page.locator("#run-summary .badge.state")
    expect(log.locator(".log-line", has_text="first line")).to_be_visible(timeout=20_000)
    # The run sleeps between its two lines: the second is not there yet, and it is running.
    assert log.locator(".log-line", has_text="second line").count() == 0
    expect(badge).to_have_text("running", timeout=2_000)
    expect(page.locator("[data-run-cancel] button")).to_be_visible()

    expect(log.locator(".log-line", has_text="second line")).to_be_visible(timeout=20_000)
    expect(badge).to_have_text("succeeded", timeout=10_000)
    expect(page.locator("[data-run-cancel]")).to_have_count(0)
    assert page.evaluate("window.stillTheSamePage") is True
    # Each line shows its time, level and stream; the newest is scrolled into view.
    first = log.locator(".log-line", has_text="first line")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", first.locator("time").inner_text())
    expect(first.locator(".log-level")).to_have_text("info")
    expect(first.locator(".log-stream")).to_have_text("sdk")

    # The search box filters the lines shown.
    page.fill("[data-log-search]", "SECOND")
    expect(first).to_be_hidden()
    expect(log.locator(".log-line", has_text="second line")).to_be_visible()
    page.fill("[data-log-search]", "no such text")
    expect(page.locator("[data-log-nomatch]")).to_be_visible()
    page.fill("[data-log-search]", "")
    expect(first).to_be_visible()

    # On a phone: no horizontal scrolling on the run page nor the pipeline page.
    page.set_viewport_size(PHONE)
    assert fits_the_phone(page)
    page.click("text=← Log, sleep, log")
    expect(page.locator(".run-chart rect.state-succeeded")).to_have_count(1)
    assert fits_the_phone(page)
    assert errors == []


def test_cancel_a_running_run(context: BrowserContext, world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    code = unique("sleepy-")
    push(admin.api, ws, code, SLEEPY)
    page = context.new_page()
    errors = watch_console(page)
    sign_in(page, admin.email, admin.password)
    start_from_the_form(page, ws, code, "Sleepy")
    log = page.locator("[data-run-log]")
    badge = page.locator("#run-summary .badge.state")
    expect(log.locator(".log-line", has_text="going to sleep")).to_be_visible(timeout=20_000)
    expect(badge).to_have_text("running")

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-run-cancel] button")
    expect(badge).to_have_text("cancelled", timeout=10_000)
    expect(page.locator("[data-run-cancel]")).to_have_count(0)
    run_id = page.url.split("/runs/")[1].split("?")[0]
    run = admin.api.get(f"/workspaces/{ws}/runs/{run_id}").json()
    assert run["state"] == "cancelled"
    assert errors == []
