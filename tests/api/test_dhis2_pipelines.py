"""A pipeline with a DHIS2Connection parameter, run on the platform against a live emulator."""

from __future__ import annotations

from tests.conftest import World
from tests.dhis2.emulator_support import live_emulator
from tests.fixtures.connections import connect_dhis2
from tests.pipeline_helpers import log_messages, push, start_run, wait_for_run

READS_DHIS2 = """
from joliba import DHIS2Connection, current_run, parameter, pipeline
from joliba.dhis2.client import DHIS2

@pipeline(name="Reads DHIS2")
@parameter("source", type=DHIS2Connection)
def reads(source):
    current_run.log_info(f"is a client: {isinstance(source, DHIS2)}; {source!r}")
    current_run.log_info(f"connection {source.connection.slug} ({source.connection.name})")
    info = source.system_info
    current_run.log_info(f"DHIS2 {info['version']} called {info['systemName']}")
    districts = source.organisation_units(level=3)
    current_run.log_info(f"{districts.height} districts, first {districts['name'].sort()[0]}")
"""


def test_a_platform_run_gets_a_dhis2_client_that_reads_the_emulator(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "reads", READS_DHIS2)
    with live_emulator(scale=0.1) as dhis2:
        connect_dhis2(admin.api, ws, str(dhis2.base_url), name="Emulated HMIS")
        expected = sorted(
            unit["name"]
            for unit in dhis2.get(
                "/api/organisationUnits", params={"level": 3, "paging": "false", "fields": "name"}
            ).json()["organisationUnits"]
        )
        run_id = start_run(admin.api, ws, "reads", {"source": "hmis"})["id"]
        run = wait_for_run(admin.api, ws, run_id)
    messages = log_messages(admin.api, ws, run_id)
    assert run["state"] == "succeeded", (run, messages)
    assert f"is a client: True; DHIS2('{dhis2.base_url}', connection='hmis')" in messages
    assert "connection hmis (Emulated HMIS)" in messages
    assert "DHIS2 2.39.5 called Joliba DHIS2 emulator" in messages
    assert f"{len(expected)} districts, first {expected[0]}" in messages
    assert len(expected) == 72
    logs = admin.api.get(f"/workspaces/{ws}/runs/{run_id}/logs.txt").text
    assert "district" not in logs.replace("districts", "")  # the password never shows


PICKER = """
from joliba import DHIS2Connection, parameter, pipeline

@pipeline(name="Picker")
@parameter("source", type=SOURCE_TYPE)
@parameter("elements", type=str, multiple=True, widget=WIDGET, connection="source")
def picker(source, elements):
    pass
"""


def test_picker_options_travel_in_the_version_and_bad_ones_fail_the_push(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    good = PICKER.replace("SOURCE_TYPE", "DHIS2Connection").replace("WIDGET", '"dhis2.datasets"')
    version = push(admin.api, ws, "picker", good)
    assert version["parameters"][1] == {
        "code": "elements",
        "type": "str",
        "name": "elements",
        "help": "",
        "default": None,
        "choices": None,
        "multiple": True,
        "required": True,
        "widget": "dhis2.datasets",
        "connection": "source",
    }
    assert version["parameters"][0]["widget"] is None
    shown = admin.api.get(f"/workspaces/{ws}/pipelines/picker/versions/1").json()
    assert shown["parameters"] == version["parameters"]

    for source_type, widget, reason in (
        (
            "str",
            '"dhis2.datasets"',
            "parameter 'elements': connection: parameter 'source' is a "
            "str parameter, not a DHIS2Connection",
        ),
        (
            "DHIS2Connection",
            '"dhis2.programs"',
            "parameter 'elements': widget: unknown widget 'dhis2.programs'",
        ),
    ):
        bad = PICKER.replace("SOURCE_TYPE", source_type).replace("WIDGET", widget)
        refused = push(admin.api, ws, "picker", bad, expect=400)
        assert reason in refused["error"]["message"], refused
    assert len(admin.api.get(f"/workspaces/{ws}/pipelines/picker/versions").json()["items"]) == 1
