"""A dataset table drawn as a map in real Chromium: no tiles, the shapes coloured by value,
a period slider, a legend and tooltips, and nothing the page's security policy refuses."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import PHONE, fits_the_phone, sign_in, watch_console
from tests.browser.test_dataset_browser import push_version
from tests.conftest import World

pytestmark = pytest.mark.browser


def _square(west: float) -> str:
    ring = [[west, 13], [west + 1, 13], [west + 1, 14], [west, 14], [west, 13]]
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def test_a_table_with_shapes_is_a_choropleth_with_a_period_slider(
    context: BrowserContext, world: World
) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    assert admin.api.post(f"/workspaces/{ws}/datasets", json={"name": "Map"}).status_code == 201
    lines = ["district,period,cases,geometry"]
    for index, name in enumerate(["Dosso", "Tahoua", "Zinder", "<i>Diffa</i>"]):
        for period, cases in (("202401", 10 * (index + 1)), ("202402", 100 - 10 * index)):
            geometry = _square(index).replace('"', '""')
            lines.append(f'{name},{period},{cases},"{geometry}"')
    push_version(admin.api, ws, "map", {"cases.csv": ("\n".join(lines) + "\n").encode()})

    page = context.new_page()
    errors = watch_console(page)
    sign_in(page, admin.email, admin.password)
    page.goto(f"/w/{ws}/datasets/map")
    page.click(".exports a:text-is('Map')")
    expect(page.locator("h1")).to_have_text("Map of cases.csv")
    shapes = page.locator("#map path.leaflet-interactive")
    expect(shapes).to_have_count(4)
    assert page.locator("#map img").count() == 0  # no tiles
    expect(page.locator("#map-period-label")).to_have_text("202402")

    def fills() -> list[str]:
        return [str(shapes.nth(i).get_attribute("fill")) for i in range(4)]

    last = fills()
    assert last[0] != last[3]  # Dosso has the most cases in 202402, Diffa the fewest
    page.locator("#map-period").fill("0")
    expect(page.locator("#map-period-label")).to_have_text("202401")
    first = fills()
    assert first[0] == last[3] and first[3] == last[0]  # the order turned round
    expect(page.locator("#map-legend")).to_contain_text("no value")

    shapes.nth(3).hover()
    tip = page.locator(".leaflet-tooltip")
    expect(tip).to_contain_text("<i>Diffa</i>: 40 (202401)")  # the name as text, not markup
    assert page.locator(".leaflet-tooltip i").count() == 0
    assert errors == []

    page.set_viewport_size(PHONE)
    page.reload()
    expect(shapes).to_have_count(4)
    assert fits_the_phone(page)
