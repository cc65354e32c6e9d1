"""The run form's DHIS2 picker in real Chromium: search the emulator, tick two data elements,
start the run, and the run receives them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import sign_in, watch_console
from tests.conftest import LiveServer, World, unique
from tests.dhis2.emulator_support import live_emulator
from tests.fixtures.connections import connect_dhis2
from tests.pipeline_helpers import log_messages, push, wait_for_run

pytestmark = pytest.mark.browser

PICKS = """
from joliba import DHIS2Connection, current_run, parameter, pipeline

@pipeline(name="Malaria picks")
@parameter("source", type=DHIS2Connection, name="DHIS2")
@parameter("elements", type=str, name="Data elements", multiple=True,
           widget="dhis2.data_elements", connection="source")
def picks(source, elements):
    names = source.data_elements(filters=[f"id:in:[{','.join(elements)}]"])["name"].sort()
    current_run.log_info(f"picked {sorted(elements)}: {', '.join(names)}")
"""


def test_pick_two_data_elements_and_run(browser: Browser, server: LiveServer, world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    code = unique("picks-")
    push(admin.api, ws, code, PICKS)
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    errors = watch_console(page)
    with live_emulator(scale=0.1) as dhis2:
        connect_dhis2(admin.api, ws, str(dhis2.base_url), name="Emulated HMIS")
        ids = {
            e["name"]: e["id"]
            for e in dhis2.get(
                "/api/dataElements", params={"paging": "false", "fields": "id,name"}
            ).json()["dataElements"]
        }
        sign_in(page, admin.email, admin.password)
        page.goto(f"/w/{ws}/pipelines/{code}")
        picker = page.locator("#param-elements-picker")
        expect(picker).to_contain_text("Choose the DHIS2 connection (source)")

        # Choosing the connection lists its data elements; typing narrows them.
        page.select_option("#param-source", "hmis")
        expect(picker.locator("input[type=checkbox]").first).to_be_visible()
        page.fill("#param-elements", "malaria confirmed")
        confirmed = picker.locator("label", has_text="Malaria confirmed cases").first
        expect(confirmed).to_be_visible()
        expect(picker.locator("label", has_text="Malaria tested by RDT")).to_have_count(0)
        confirmed.locator("input").check()

        # A new search keeps the first pick ticked, at the top.
        page.fill("#param-elements", "tested RDT")
        page.keyboard.press("Enter")  # searches; the run must not start
        tested = picker.locator("label", has_text="Malaria tested by RDT")
        expect(tested).to_be_visible()
        expect(page).to_have_url(re.compile(rf"/w/{ws}/pipelines/{code}$"))
        expect(picker.locator("input[type=checkbox]:checked")).to_have_count(1)
        first = picker.locator("li").first
        expect(first).to_contain_text("Malaria confirmed cases")
        tested.locator("input").check()
        expect(picker.locator("input[type=checkbox]:checked")).to_have_count(2)

        page.click("button:has-text('Run pipeline')")
        expect(page).to_have_url(re.compile(rf"/w/{ws}/runs/[0-9a-f-]{{36}}"))
        run_id = page.url.rsplit("/", 1)[1].split("?")[0]
        run = wait_for_run(admin.api, ws, run_id)
    picked = sorted([ids["Malaria confirmed cases"], ids["Malaria tested by RDT"]])
    assert run["state"] == "succeeded", log_messages(admin.api, ws, run_id)
    assert sorted(run["parameters"]["elements"]) == picked
    assert f"picked {picked}: Malaria confirmed cases, Malaria tested by RDT" in log_messages(
        admin.api, ws, run_id
    )
    context.close()
    assert errors == []
