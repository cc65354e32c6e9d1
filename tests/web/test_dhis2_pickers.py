"""DHIS2 pickers in the run form: the search box, its HTMX fragment, and the picked ids run."""

from __future__ import annotations

import re

from joliba.domain.permissions import Role
from tests.conftest import World, unique
from tests.dhis2.emulator_support import live_emulator
from tests.fixtures.connections import connect_dhis2
from tests.pipeline_helpers import log_messages, push, wait_for_run
from tests.web.page_client import Pages

PICKS = """
from joliba import DHIS2Connection, current_run, parameter, pipeline

@pipeline(name="Picks")
@parameter("source", type=DHIS2Connection, name="DHIS2")
@parameter("elements", type=str, name="Data elements", multiple=True,
           widget="dhis2.data_elements", connection="source")
@parameter("unit", type=str, name="Org unit", required=False,
           widget="dhis2.org_units", connection="source")
def picks(source, elements, unit):
    current_run.log_info(f"elements {elements} unit {unit}")
"""

HX = {"HX-Request": "true"}


def _checked(html: str) -> list[str]:
    return re.findall(r'value="([^"]*)" checked>', html)


def _values(html: str) -> list[str]:
    return re.findall(r'<input type="(?:checkbox|radio)" name="p\.\w+" value="([^"]*)"', html)


def test_the_picker_searches_the_chosen_connection_and_its_picks_run(
    world: World, pages: Pages
) -> None:
    admin, viewer = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, viewer, Role.VIEWER)
    code = unique("picks-")
    push(admin.api, ws, code, PICKS)
    client = pages.signed_in(admin.email, admin.password)
    with live_emulator(scale=0.1) as dhis2:
        connect_dhis2(admin.api, ws, str(dhis2.base_url))
        elements = {
            e["name"]: e["id"]
            for e in dhis2.get(
                "/api/dataElements", params={"paging": "false", "fields": "id,name"}
            ).json()["dataElements"]
        }
        confirmed, tested = elements["Malaria confirmed cases"], elements["Malaria tested by RDT"]

        page = client.get(f"/w/{ws}/pipelines/{code}").text
        url = f"/w/{ws}/pipelines/{code}/pickers/elements?version=1"
        assert f'hx-get="{url}"' in page
        assert 'hx-include="#param-elements-picker, #param-source"' in page
        assert "change from:#param-source" in page
        # Enter in the search box searches: a disabled first submit button blocks submitting.
        assert '<button type="submit" disabled hidden' in page

        # No connection chosen yet: the fragment says so.
        hint = client.get(url, headers=HX)
        assert hint.status_code == 200
        assert "Choose the DHIS2 connection (source) to search it." in hint.text

        found = client.get(
            url, params={"q": "malaria confirmed", "p.source": "hmis", "p.elements": tested}
        )
        assert found.status_code == 200 and "<html" not in found.text
        values = _values(found.text)
        assert values[0] == tested and _checked(found.text) == [tested]  # kept, first, ticked
        assert confirmed in values[1:] and values.count(tested) == 1
        assert "Malaria tested by RDT" in found.text and "Malaria confirmed cases" in found.text

        # A single-valued, optional picker: radio buttons, and "none".
        units = client.get(
            f"/w/{ws}/pipelines/{code}/pickers/unit",
            params={"version": 1, "q": "", "p.source": "hmis"},
        ).text
        assert 'type="radio" name="p.unit" value="" checked>' in units
        assert "level 1" in units

        # The ticked boxes are the form's value: the run gets both ids.
        posted = client.post(
            f"/w/{ws}/pipelines/{code}/runs",
            {"version": "1", "p.source": "hmis", "p.elements": [confirmed, tested], "p.unit": ""},
        )
        assert posted.status_code == 303, posted.text
        run_id = posted.headers["location"].split("/runs/")[1].split("?")[0]
        run = wait_for_run(admin.api, ws, run_id)
        assert run["parameters"]["elements"] == [confirmed, tested]
        assert f"elements {[confirmed, tested]} unit None" in log_messages(admin.api, ws, run_id)

        # Viewers may not start runs, so they may not search either.
        as_viewer = pages.signed_in(viewer.email, viewer.password)
        refused = as_viewer.get(url, params={"p.source": "hmis"}, headers=HX)
        assert refused.status_code == 403 and "<html" not in refused.text
    # DHIS2 gone: the picks stay ticked and the reason shows.
    down = client.get(
        url, params={"q": "deaths", "p.source": "hmis", "p.elements": confirmed}, headers=HX
    )
    assert down.status_code == 502
    assert "DHIS2 connection &#39;hmis&#39;: could not connect: connection refused" in down.text
    assert _checked(down.text) == [confirmed]
    assert "district" not in down.text

    # A parameter without a picker, or a connection of another type, is refused clearly.
    missing = client.get(f"/w/{ws}/pipelines/{code}/pickers/source", headers=HX)
    assert missing.status_code == 404
    assert f"pipeline &#39;{code}&#39; has no DHIS2 picker &#39;source&#39;" in missing.text
    admin.api.post(
        f"/workspaces/{ws}/connections",
        json={"type": "custom", "name": "Other", "slug": "other", "fields": {"a": "1"}},
    )
    other = client.get(url, params={"p.source": "other", "p.elements": confirmed}, headers=HX)
    assert "connection &#39;other&#39; is a custom connection, not dhis2" in other.text
    assert _checked(other.text) == [confirmed]
