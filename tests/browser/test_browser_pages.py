"""The pages in real Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, FilePayload, expect

from joliba.domain.connections import MASK
from joliba.domain.permissions import Role
from tests.browser.conftest import PHONE, sign_in, watch_console
from tests.conftest import LiveServer, World, unique
from tests.dhis2.emulator_support import live_emulator

SECRET = "Browser-S3cret-never-shown"

pytestmark = pytest.mark.browser


def test_whole_flow(browser: Browser, server: LiveServer, world: World) -> None:
    boss = world.person(superuser=True)
    slug = unique("flow-")
    invitee = f"{unique('guest')}@example.org"
    admin_context = browser.new_context(base_url=server.url, accept_downloads=True)
    page = admin_context.new_page()
    errors = watch_console(page)

    # Sign in and create a workspace.
    sign_in(page, boss.email, boss.password)
    page.fill("form[action='/workspaces'] input[name=name]", "Flow test")
    page.fill("form[action='/workspaces'] input[name=slug]", slug)
    page.select_option("select[name=time_zone]", "Africa/Bamako")
    page.click("button:has-text('Create workspace')")
    expect(page).to_have_url(re.compile(f"/w/{slug}"))
    expect(page.locator("h1")).to_have_text("Flow test")

    # Invite someone; the page shows the single-use link once.
    page.click("nav.wsnav >> text=Members")
    page.fill("input[name=email]", invitee)
    page.select_option("form[action$='/invitations'] select[name=role]", "editor")
    page.click("button:has-text('Create invitation link')")
    link = page.inner_text(".secret-once").strip()
    assert "/invitations/inv_" in link

    # A second browser accepts it as a new user and lands in the workspace.
    guest_context = browser.new_context(base_url=server.url)
    guest = guest_context.new_page()
    guest_errors = watch_console(guest)
    guest.goto(urlsplit(link).path)
    expect(guest.locator("h1")).to_have_text("Join Flow test")
    guest.fill("input[name=name]", "Awa Traoré")
    guest.fill("input[name=password]", "guest passphrase 1")
    guest.fill("input[name=password_again]", "guest passphrase 1")
    guest.click("button:has-text('Create account and join')")
    expect(guest).to_have_url(re.compile(f"/w/{slug}"))
    expect(guest.locator("h1")).to_have_text("Flow test")
    expect(guest.locator(".facts")).to_contain_text("editor")
    expect(guest.locator("nav.wsnav")).not_to_contain_text("Audit")
    guest_context.close()

    # Back as the admin: upload by drag and drop, then with the file input.
    page.click("nav.wsnav >> text=Files")
    content = bytes(range(256)) * 64 + "é,ü\n".encode()
    transfer = page.evaluate_handle(
        """(data) => {
            const transfer = new DataTransfer();
            const file = new File([new Uint8Array(data)], "report 2024.csv", {type: "text/csv"});
            transfer.items.add(file);
            return transfer;
        }""",
        list(content),
    )
    page.dispatch_event("[data-dropzone]", "drop", {"dataTransfer": transfer})
    expect(page.locator("[data-upload-list] li").first).to_have_attribute("data-state", "done")
    expect(page.locator("#file-listing")).to_contain_text("report 2024.csv")
    page.set_input_files(
        "[data-upload-input]",
        files=[FilePayload(name="notes.txt", mimeType="text/plain", buffer=b"two")],
    )
    expect(page.locator("#file-listing")).to_contain_text("notes.txt")
    # The same name again, without "replace": the API's message is shown.
    page.set_input_files(
        "[data-upload-input]",
        files=[FilePayload(name="notes.txt", mimeType="text/plain", buffer=b"three")],
    )
    expect(page.locator("[data-upload-list] li[data-state=failed]")).to_contain_text("exists")

    # Download it back and compare bytes.
    with page.expect_download() as info:
        page.click("#file-listing a:has-text('report 2024.csv')")
    download = info.value
    assert download.suggested_filename == "report 2024.csv"
    assert Path(download.path()).read_bytes() == content

    # Delete asks first: dismissing keeps the file, accepting removes it.
    row = page.locator("#file-listing tr", has_text="notes.txt")
    row.locator("summary").click()
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.locator("button:has-text('Delete')").click()
    expect(page.locator("#file-listing")).to_contain_text("notes.txt")
    page.once("dialog", lambda dialog: dialog.accept())
    row.locator("button:has-text('Delete')").click()
    expect(page.locator(".notice")).to_contain_text("deleted")
    expect(page.locator("#file-listing")).not_to_contain_text("notes.txt")

    # A DHIS2 connection: the password goes in and never comes back out.
    with live_emulator(scale=0.1, users={"admin": SECRET}) as dhis2:
        page.click("nav.wsnav >> text=Connections")
        page.click("text=New connection")
        page.select_option("select[name=type]", "postgresql")
        expect(page.locator("input[name='dhis2.url']")).to_be_hidden()
        page.select_option("select[name=type]", "dhis2")
        page.fill("input[name=name]", "National HMIS")
        page.fill("input[name='dhis2.url']", str(dhis2.base_url))
        page.fill("input[name='dhis2.username']", "admin")
        page.fill("input[name='dhis2.password']", SECRET)
        page.click("button:has-text('Create connection')")
        expect(page).to_have_url(re.compile("/connections/national-hmis/edit"))
        expect(page.locator("input[name='dhis2.password']")).to_have_value(MASK)
        assert SECRET not in page.content()

        page.click("button:has-text('Test connection')")
        expect(page.locator("#test-result .ok")).to_contain_text(
            "connected to DHIS2 2.39.5 (Joliba DHIS2 emulator)"
        )
        assert SECRET not in page.content()
    for path in (f"/w/{slug}/connections", f"/w/{slug}/audit"):
        page.goto(path)
        assert SECRET not in page.content()
    expect(page.locator("table.audit")).to_contain_text("connection.test")
    admin_context.close()
    assert errors == [] and guest_errors == []


def test_phone_layout_has_no_horizontal_scrolling(
    browser: Browser, server: LiveServer, world: World
) -> None:
    admin, member = world.person(), world.person()
    slug = world.workspace(admin)
    world.add_member(slug, member, Role.EDITOR)
    long_name = "district-monthly-malaria-indicators-" + "x" * 60 + ".csv"
    assert admin.api.put(f"/workspaces/{slug}/files/{long_name}", content=b"1").is_success
    assert admin.api.post(f"/workspaces/{slug}/folders", json={"path": "a-long-folder-name"})
    assert admin.api.post(
        f"/workspaces/{slug}/invitations",
        json={"email": f"{'someone.with.a.long.name' * 2}@ministry-of-health.example.org"},
    ).is_success

    context = browser.new_context(base_url=server.url, viewport=PHONE, is_mobile=True)
    page = context.new_page()
    sign_in(page, admin.email, admin.password)
    for path in (f"/w/{slug}/files", f"/w/{slug}/members", f"/w/{slug}", "/account"):
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        inner = page.evaluate("window.innerWidth")
        assert width <= inner, f"{path}: {width}px wide in a {inner}px window"
    # The tables themselves fit too, rather than scroll inside their box.
    page.goto(f"/w/{slug}/files")
    page.locator("#file-listing summary").first.click()
    fits = page.evaluate(
        "[...document.querySelectorAll('.table-wrap')].every(w => w.scrollWidth <= w.clientWidth)"
    )
    assert fits
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    context.close()
