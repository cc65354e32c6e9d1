"""Pipeline and run pages: the list, the generated run form, queueing, errors, roles, cancel."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx
import pytest

from joliba.domain.permissions import Role
from tests.conftest import Person, World, unique
from tests.pipeline_helpers import held_run, push, wait_for_run
from tests.web.page_client import PageClient, Pages

SECRET = "Sup3r-secret-never-shown"

EVERY_TYPE = """
from joliba import (pipeline, parameter, current_run, Secret, File, Dataset,
    DHIS2Connection, PostgreSQLConnection)

@pipeline(name="Every type")
@parameter("country", type=str, name="Country", help="Shown in the report", default="Mali")
@parameter("years", type=int, name="Years", multiple=True, default=[2024, 2025])
@parameter("threshold", type=float, name="Threshold", default=0.5)
@parameter("limit", type=int, name="Limit", required=False)
@parameter("dry_run", type=bool, name="Dry run", default=True)
@parameter("api_key", type=Secret, name="API key", required=False)
@parameter("level", type=str, name="Level", choices=["district", "region"], default="district")
@parameter("indicators", type=str, name="Indicators", choices=["cases", "deaths", "tests"],
           multiple=True, required=False)
@parameter("source", type=DHIS2Connection, name="Source", required=False)
@parameter("warehouse", type=PostgreSQLConnection, name="Warehouse", required=False)
@parameter("input_file", type=File, name="Input file", required=False)
@parameter("dataset", type=Dataset, name="Dataset", required=False)
def every_type(country, years, threshold, limit, dry_run, api_key, level, indicators, source,
               warehouse, input_file, dataset):
    current_run.log_info(f"country={country} years={years} dry_run={dry_run} level={level}")
    current_run.log_info(f"indicators={indicators} source={source and source.slug}")
"""

NEEDS_VALUE = """
from joliba import pipeline, parameter, current_run

@pipeline(name="Needs a value")
@parameter("district", type=str, name="District")
def needs_value(district):
    current_run.log_info(f"district {district}")
"""

OUTPUTS = """
from joliba import pipeline, current_run, workspace

@pipeline(name="Writes a report")
def writes_a_report():
    with workspace.open("reports/cases 2024.csv", "w") as handle:
        handle.write("district,cases\\nBo,12\\n")
    current_run.add_file_output("reports/cases 2024.csv")
    current_run.add_table_output("cases_by_district")
    current_run.progress(100, "all done")
"""


@dataclass
class Control:
    tag: str
    attrs: dict[str, str]
    options: list[tuple[str, bool]] = field(default_factory=list)


class Controls(HTMLParser):
    """The named inputs and selects of a page, by name (options with their selected flag)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: dict[str, Control] = {}
        self._select: Control | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in ("input", "select", "textarea") and "name" in values:
            control = Control(tag, values)
            self.found.setdefault(values["name"], control)
            if tag == "select":
                self._select = control
        elif tag == "option" and self._select is not None:
            self._select.options.append((values.get("value", ""), "selected" in values))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def param_block(html: str, code: str) -> str:
    """The HTML of one parameter's block in the run form."""
    found = re.search(rf'<div class="param[^"]*" data-param="{code}">(.*?)\n    </div>', html, re.S)
    assert found, f"no block for parameter {code}"
    return found.group(1)


@dataclass
class Setup:
    admin: Person
    ws: str
    code: str
    client: PageClient


def _connection(api: httpx.Client, ws: str, kind: str, slug: str) -> None:
    fields = {
        "dhis2": {"url": "https://dhis2.example.org", "token": "d2pat_x"},
        "postgresql": {"host": "db.example.org", "database": "hmis", "username": "u"},
    }[kind]
    created = api.post(
        f"/workspaces/{ws}/connections",
        json={"type": kind, "name": f"The {slug}", "slug": slug, "fields": fields},
    )
    assert created.status_code == 201, created.text


@pytest.fixture
def every(world: World, pages: Pages) -> Setup:
    """A workspace with the every-type pipeline, a DHIS2 and a PostgreSQL connection."""
    admin = world.person()
    ws = world.workspace(admin)
    _connection(admin.api, ws, "dhis2", "hmis")
    _connection(admin.api, ws, "postgresql", "warehouse")
    code = unique("every-")
    push(admin.api, ws, code, EVERY_TYPE, message="first version")
    return Setup(admin, ws, code, pages.signed_in(admin.email, admin.password))


def _form(**overrides: str | list[str]) -> dict[str, str | list[str]]:
    values: dict[str, str | list[str]] = {
        "version": "1",
        "p.country": "Niger",
        "p.years": "2021, 2022",
        "p.threshold": "0.75",
        "p.limit": "",
        "p.dry_run": "true",
        "p.api_key": SECRET,
        "p.level": "region",
        "p.indicators": ["cases", "deaths"],
        "p.source": "hmis",
        "p.warehouse": "",
        "p.input_file": "data/cases.csv",
        "p.dataset": "",
    }
    values.update(overrides)
    return values


def test_list_page_and_its_empty_state(world: World, pages: Pages) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    client = pages.signed_in(admin.email, admin.password)
    empty = client.get(f"/w/{ws}/pipelines")
    assert empty.status_code == 200
    assert "joliba pipelines init NAME" in empty.text
    assert f"joliba pipelines push NAME --workspace {ws}" in empty.text
    # The workspace's tab bar leads here.
    home = client.get(f"/w/{ws}").text
    assert f'href="/w/{ws}/pipelines"' in home and ">Pipelines</a>" in home

    code = unique("list-")
    push(admin.api, ws, code, NEEDS_VALUE)
    push(admin.api, ws, code, NEEDS_VALUE, message="second")
    listed = client.get(f"/w/{ws}/pipelines").text
    assert f'href="/w/{ws}/pipelines/{code}"' in listed
    assert "Needs a value" in listed and code in listed
    assert "v2" in listed and "never run" in listed
    assert 'class="active" aria-current="page">Pipelines' in listed

    run = admin.api.post(
        f"/workspaces/{ws}/pipelines/{code}/runs", json={"parameters": {"district": "Bo"}}
    ).json()
    wait_for_run(admin.api, ws, run["id"])
    listed = client.get(f"/w/{ws}/pipelines").text
    assert 'class="badge state state-succeeded"' in listed


def test_the_run_form_has_a_field_for_each_parameter_type(every: Setup) -> None:
    page = every.client.get(f"/w/{every.ws}/pipelines/{every.code}")
    assert page.status_code == 200
    html = page.text
    controls = Controls(html).found

    assert controls["version"].attrs["value"] == "1"
    country = controls["p.country"]
    assert (country.tag, country.attrs["type"], country.attrs["value"]) == ("input", "text", "Mali")
    assert "Shown in the report" in param_block(html, "country")
    years = controls["p.years"]
    assert years.attrs["type"] == "text" and years.attrs["value"] == "2024, 2025"
    assert "separated by commas" in years.attrs["placeholder"]
    threshold = controls["p.threshold"]
    assert threshold.attrs["type"] == "number" and threshold.attrs["step"] == "any"
    assert threshold.attrs["value"] == "0.5"
    limit = controls["p.limit"]
    assert limit.attrs["type"] == "number" and limit.attrs["step"] == "1"
    assert limit.attrs["value"] == "" and "required" not in limit.attrs
    dry_run = controls["p.dry_run"]
    assert dry_run.attrs["type"] == "checkbox" and "checked" in dry_run.attrs
    api_key = controls["p.api_key"]
    assert api_key.attrs["type"] == "password" and api_key.attrs["value"] == ""

    level = controls["p.level"]
    assert level.tag == "select" and "multiple" not in level.attrs
    assert level.options == [("", False), ("district", True), ("region", False)]
    indicators = controls["p.indicators"]
    assert indicators.tag == "select" and "multiple" in indicators.attrs
    assert indicators.options == [("cases", False), ("deaths", False), ("tests", False)]
    # Connection parameters offer the workspace's connections of their type only.
    assert controls["p.source"].options == [("", False), ("hmis", False)]
    assert controls["p.warehouse"].options == [("", False), ("warehouse", False)]
    for code in ("input_file", "dataset"):
        assert controls[f"p.{code}"].attrs["type"] == "text"

    # Required parameters are marked; optional ones are not.
    assert 'class="required"' in param_block(html, "country")
    assert 'class="required"' not in param_block(html, "limit")
    # Versions and (no) runs.
    assert "first version" in html and "No runs yet." in html


def test_posting_the_form_queues_a_run_and_opens_its_page(every: Setup) -> None:
    client, ws, api = every.client, every.ws, every.admin.api
    posted = client.post(f"/w/{ws}/pipelines/{every.code}/runs", _form())
    assert posted.status_code == 303, posted.text
    location = posted.headers["location"]
    found = re.match(rf"/w/{ws}/runs/([0-9a-f-]{{36}})\?flash=", location)
    assert found, location
    run_id = found.group(1)

    run = wait_for_run(api, ws, run_id)
    assert run["state"] == "succeeded", run
    assert run["trigger"] == "manual" and run["triggered_by"] == every.admin.email
    assert run["parameters"] == {
        "country": "Niger",
        "years": [2021, 2022],
        "threshold": 0.75,
        "limit": None,
        "dry_run": True,
        "api_key": "********",
        "level": "region",
        "indicators": ["cases", "deaths"],
        "source": "hmis",
        "warehouse": None,
        "input_file": "data/cases.csv",
        "dataset": None,
    }

    page = client.get(location)
    assert page.status_code == 200
    html = page.text
    assert SECRET not in html
    assert 'data-param="api_key">********' in html
    assert 'data-param="years">2021, 2022' in html
    assert 'class="badge state state-succeeded"' in html
    assert "Run queued." in html  # the flash
    assert "country=Niger years=[2021, 2022] dry_run=True level=region" in html
    assert f'href="/api/v1/workspaces/{ws}/runs/{run_id}/logs.txt"' in html
    assert 'data-finished="true"' in html and "Cancel run" not in html

    # An unticked checkbox is not sent at all: it means false. Empty fields take defaults.
    again = client.post(
        f"/w/{ws}/pipelines/{every.code}/runs",
        {"version": "1", "p.country": "", "p.years": "", "p.threshold": "", "p.level": ""},
    )
    assert again.status_code == 303, again.text
    second = wait_for_run(api, ws, again.headers["location"].split("/")[-1].split("?")[0])
    assert second["state"] == "succeeded", second
    assert second["parameters"]["dry_run"] is False
    assert second["parameters"]["country"] == "Mali"
    assert second["parameters"]["years"] == [2024, 2025]
    assert second["parameters"]["level"] == "district"
    assert second["parameters"]["api_key"] is None

    # The pipeline page lists both runs, and charts them.
    pipeline_page = client.get(f"/w/{ws}/pipelines/{every.code}").text
    assert pipeline_page.count(f'href="/w/{ws}/runs/{run_id}"') == 2  # the chart and the table
    assert pipeline_page.count('class="bar state-succeeded"') == 2
    assert "<svg" in pipeline_page


def test_a_bad_value_shows_the_error_next_to_its_parameter(every: Setup) -> None:
    client, ws = every.client, every.ws
    bad = client.post(
        f"/w/{ws}/pipelines/{every.code}/runs",
        _form(**{"p.threshold": "lots", "p.country": "Typed country", "p.years": "2020"}),
    )
    assert bad.status_code == 400
    html = bad.text
    block = param_block(html, "threshold")
    assert "parameter &#39;threshold&#39;: &#39;lots&#39; is not a number" in block
    assert 'aria-invalid="true"' in block
    assert "is not a number" not in param_block(html, "country")
    controls = Controls(html).found
    assert controls["p.country"].attrs["value"] == "Typed country"
    assert controls["p.years"].attrs["value"] == "2020"
    assert ("region", True) in controls["p.level"].options
    assert ("deaths", True) in controls["p.indicators"].options
    assert controls["p.source"].options == [("", False), ("hmis", True)]
    assert controls["p.api_key"].attrs["value"] == ""
    assert SECRET not in html

    # Caught by the service rather than the parser: a connection of the wrong type.
    wrong = client.post(f"/w/{ws}/pipelines/{every.code}/runs", _form(**{"p.source": "warehouse"}))
    assert wrong.status_code == 400
    assert "is a postgresql connection, not dhis2" in param_block(wrong.text, "source")

    # A required value left empty.
    code = unique("needs-")
    push(every.admin.api, ws, code, NEEDS_VALUE)
    page = client.get(f"/w/{ws}/pipelines/{code}").text
    assert "required" in Controls(page).found["p.district"].attrs
    missing = client.post(f"/w/{ws}/pipelines/{code}/runs", {"version": "1", "p.district": " "})
    assert missing.status_code == 400
    assert "a value is required" in param_block(missing.text, "district")
    # Nothing was queued by the failed posts.
    listed = every.admin.api.get(f"/workspaces/{ws}/runs").json()
    assert listed["total"] == 0


def test_viewers_see_no_form_and_outsiders_see_nothing(
    world: World, every: Setup, pages: Pages
) -> None:
    ws, code = every.ws, every.code
    run_id = held_run(world.platform, ws, every.admin.email, code)
    viewer = world.person()
    world.add_member(ws, viewer, Role.VIEWER)
    as_viewer = pages.signed_in(viewer.email, viewer.password)
    page = as_viewer.get(f"/w/{ws}/pipelines/{code}")
    assert page.status_code == 200
    assert f'action="/w/{ws}/pipelines/{code}/runs"' not in page.text
    assert "p.country" not in page.text
    assert "Every type" in page.text and "Indicators" in page.text  # the parameters, read-only
    refused = as_viewer.post(f"/w/{ws}/pipelines/{code}/runs", _form())
    assert refused.status_code == 403
    run_page = as_viewer.get(f"/w/{ws}/runs/{run_id}")
    assert run_page.status_code == 200 and "Cancel run" not in run_page.text
    assert as_viewer.post(f"/w/{ws}/runs/{run_id}/cancel").status_code == 403
    assert as_viewer.get(f"/w/{ws}/runs").status_code == 200

    outsider = world.person()
    as_outsider = pages.signed_in(outsider.email, outsider.password)
    for path in (
        f"/w/{ws}/pipelines",
        f"/w/{ws}/pipelines/{code}",
        f"/w/{ws}/runs",
        f"/w/{ws}/runs/{run_id}",
        f"/w/{ws}/runs/{run_id}/summary",
    ):
        assert as_outsider.get(path).status_code == 404, path
    assert as_outsider.post(f"/w/{ws}/pipelines/{code}/runs", _form()).status_code == 404
    assert as_outsider.post(f"/w/{ws}/runs/{run_id}/cancel").status_code == 404
    # Unknown pipelines and runs are 404s for members too.
    assert every.client.get(f"/w/{ws}/pipelines/nope").status_code == 404
    assert every.client.get(f"/w/{ws}/runs/not-a-run-id").status_code == 404
    # Anonymous visitors are sent to sign in.
    anonymous = pages.anonymous().get(f"/w/{ws}/pipelines/{code}")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")


def test_the_run_page_masks_secrets(world: World, every: Setup) -> None:
    run_id = held_run(world.platform, every.ws, every.admin.email, every.code, {"api_key": SECRET})
    for path in (f"/w/{every.ws}/runs/{run_id}", f"/w/{every.ws}/runs/{run_id}/summary"):
        html = every.client.get(path).text
        assert SECRET not in html, path
        assert 'data-param="api_key">********' in html, path
        assert 'data-param="country">Mali' in html, path


def test_cancel_a_queued_run(world: World, every: Setup) -> None:
    client, ws = every.client, every.ws
    run_id = held_run(world.platform, ws, every.admin.email, every.code)
    page = client.get(f"/w/{ws}/runs/{run_id}").text
    assert 'class="badge state state-queued"' in page
    assert f'action="/w/{ws}/runs/{run_id}/cancel"' in page
    assert 'data-finished="false"' in page  # the live log follows it

    cancelled = client.post(f"/w/{ws}/runs/{run_id}/cancel")
    assert cancelled.status_code == 303
    assert cancelled.headers["location"].startswith(f"/w/{ws}/runs/{run_id}?flash=")
    page = client.get(cancelled.headers["location"]).text
    assert "Run cancelled." in page
    assert 'class="badge state state-cancelled"' in page
    assert "Cancel run" not in page
    assert f"cancelled by {every.admin.email} before it started" in page
    assert every.admin.api.get(f"/workspaces/{ws}/runs/{run_id}").json()["state"] == "cancelled"

    # Again: it has ended, which the page says rather than fail.
    again = client.post(f"/w/{ws}/runs/{run_id}/cancel")
    assert again.status_code == 303
    assert "already+ended" in again.headers["location"]

    # The workspace's runs, filtered by state and by pipeline.
    listed = client.get(f"/w/{ws}/runs", params={"state": "cancelled"}).text
    assert f'href="/w/{ws}/runs/{run_id}"' in listed
    other = client.get(f"/w/{ws}/runs", params={"state": "succeeded"}).text
    assert f'href="/w/{ws}/runs/{run_id}"' not in other and "No runs in state" in other
    mine = client.get(f"/w/{ws}/runs", params={"pipeline": every.code}).text
    assert f'href="/w/{ws}/runs/{run_id}"' in mine and "Runs of Every type" in mine


def test_archived_workspaces_hide_the_form(every: Setup) -> None:
    client, ws = every.client, every.ws
    assert client.post(f"/w/{ws}/archive", {"archived": "true"}).status_code == 303
    page = client.get(f"/w/{ws}/pipelines/{every.code}")
    assert page.status_code == 200
    assert f'action="/w/{ws}/pipelines/{every.code}/runs"' not in page.text
    assert client.post(f"/w/{ws}/pipelines/{every.code}/runs", _form()).status_code == 409


def test_outputs_link_to_their_files(world: World, pages: Pages) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    code = unique("outputs-")
    push(admin.api, ws, code, OUTPUTS)
    client = pages.signed_in(admin.email, admin.password)
    posted = client.post(f"/w/{ws}/pipelines/{code}/runs", {"version": "1"})
    assert posted.status_code == 303, posted.text
    run_id = posted.headers["location"].split("/")[-1].split("?")[0]
    assert wait_for_run(admin.api, ws, run_id)["state"] == "succeeded"
    html = client.get(f"/w/{ws}/runs/{run_id}/summary").text
    link = f"/api/v1/workspaces/{ws}/files/reports/cases%202024.csv"
    assert f'href="{link}"' in html
    assert "cases_by_district" in html and "table" in html
    assert "100%" in html and "all done" in html
    # The session cookie downloads it, as the browser does.
    assert client.get(link).content == b"district,cases\nBo,12\n"
