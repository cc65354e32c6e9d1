"""In real Chromium: a member opens their workspace's dashboard embedded in Joliba (the map
drawn, nothing refused by either side's security policy), then goes on to Superset itself
without signing in again."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from joliba.domain.permissions import Role
from joliba.services import superset_demo
from joliba.services.platform import Platform
from tests.browser.conftest import browser, sign_in, watch_console
from tests.conftest import LiveServer, World
from tests.fixtures.superset import SharedSuperset
from tests.fixtures.superset_worlds import link_of, write_health_map

pytestmark = pytest.mark.browser
__all__ = ["browser"]
#: Set to a folder to keep screenshots of the embedded dashboard (for a person to look at).
SHOTS = os.environ.get("JOLIBA_TEST_SCREENSHOTS", "")


@pytest.fixture
def ss_context(browser: Browser, ss_server: LiveServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=ss_server.url, viewport={"width": 1400, "height": 1000})
    yield ctx
    ctx.close()


def test_a_member_sees_the_embedded_dashboard_and_reaches_superset_signed_in(
    ss_context: BrowserContext,
    ss_world: World,
    ss_platform: Platform,
    superset: SharedSuperset,
) -> None:
    admin = ss_world.person()
    slug = ss_world.workspace(admin)
    write_health_map(ss_platform, slug)
    dashboard_id = superset_demo.build(link_of(ss_platform), slug)
    viewer = ss_world.person()
    ss_world.add_member(slug, viewer, Role.VIEWER)

    page = ss_context.new_page()
    errors = watch_console(page)
    sign_in(page, viewer.email, viewer.password)
    page.goto(f"/w/{slug}")
    page.click("nav.wsnav a:text-is('Dashboards')")
    page.click(f"a:text-is('{superset_demo.TITLE}')")
    expect(page).to_have_url(re.compile(rf"/w/{slug}/dashboards/{dashboard_id}$"))

    frame = page.frame_locator("#dashboard iframe")
    # Superset draws every chart inside the frame: the table's districts, the total, the
    # map's canvas (deck.gl, no base map).
    expect(frame.get_by_text("Cases by district").first).to_be_visible(timeout=60_000)
    expect(frame.get_by_text("District 5").first).to_be_visible(timeout=60_000)
    expect(frame.locator("canvas").first).to_be_visible(timeout=60_000)
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "embedded-dashboard.png"), full_page=True)
    assert not errors, errors

    # "Edit in Superset": Superset opens on the dashboard, signed in through Joliba.
    page.click("a:text-is('Edit in Superset')")
    expect(page).to_have_url(
        re.compile(rf"^{re.escape(superset.url)}/superset/dashboard/{dashboard_id}/"),
        timeout=30_000,
    )
    expect(page.get_by_text("Cases by district").first).to_be_visible(timeout=60_000)
    assert "/login" not in page.url
