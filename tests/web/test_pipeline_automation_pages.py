"""The pipeline automation page: schedules, the webhook, triggers, email recipients, roles."""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

import httpx
import pytest

from joliba.domain.permissions import Role
from tests.conftest import Person, World, unique
from tests.pipeline_helpers import push, start_run, wait_for_run
from tests.web.page_client import PageClient, Pages

SECRET = "Hook-secret-never-shown-42"

AUTOMATED = """
from joliba import pipeline, parameter, current_run, Secret

@pipeline(name="Automated")
@parameter("district", type=str, name="District", default="Bo")
@parameter("years", type=int, name="Years", multiple=True, default=[2024])
@parameter("api_key", type=Secret, name="API key", required=False)
def automated(district, years, api_key):
    current_run.log_info(f"district={district} years={years} key={api_key is not None}")
"""

UPSTREAM = """
from joliba import pipeline, current_run

@pipeline(name="Upstream extract")
def upstream_extract():
    current_run.log_info("extracted")
"""


@dataclass
class Setup:
    admin: Person
    ws: str
    code: str
    client: PageClient

    @property
    def base(self) -> str:
        return f"/w/{self.ws}/pipelines/{self.code}"

    @property
    def page(self) -> str:
        return f"{self.base}/automation"

    @property
    def api_base(self) -> str:
        return f"/workspaces/{self.ws}/pipelines/{self.code}"


@pytest.fixture
def auto(world: World, pages: Pages) -> Setup:
    admin = world.person()
    ws = world.workspace(admin)
    code = unique("auto-")
    push(admin.api, ws, code, AUTOMATED)
    return Setup(admin, ws, code, pages.signed_in(admin.email, admin.password))


def form_html(html: str, form_id: str) -> str:
    found = re.search(rf'<form [^>]*id="{form_id}">(.*?)</form>', html, re.S)
    assert found, f"no form {form_id}"
    return found.group(1)


def param_block(html: str, code: str) -> str:
    found = re.search(rf'<div class="param[^"]*" data-param="{code}">(.*?)\n</div>', html, re.S)
    assert found, f"no block for parameter {code}"
    return found.group(0)


def flash_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.split("?")[0].endswith("/automation"), location
    return location


def test_the_pipeline_page_links_to_an_empty_automation_page(world: World, auto: Setup) -> None:
    pipeline_page = auto.client.get(auto.base).text
    assert f'href="{auto.page}"' in pipeline_page

    page = auto.client.get(auto.page)
    assert page.status_code == 200
    html = page.text
    assert "No schedules." in html
    assert 'data-webhook-state="off"' in html and "Create webhook URL" in html
    assert "No other pipeline starts this one." in html
    assert "push another one to chain them" in html  # the only pipeline: nothing to pick
    assert "Nobody is emailed" in html
    if not world.platform.settings.smtp_url:
        assert "JOLIBA_SMTP_URL" in html
    # The schedule form is drawn from the latest version's parameters, ids kept apart.
    schedule_form = form_html(html, "schedule-form")
    assert 'name="p.district"' in schedule_form and 'id="schedule-param-district"' in schedule_form
    assert 'value="Bo"' in param_block(schedule_form, "district")
    assert 'type="password"' in param_block(schedule_form, "api_key")
    assert 'placeholder="0 6 * * 1"' in schedule_form
    # The time zone list defaults to the workspace's.
    assert re.search(r"<option selected>UTC</option>", schedule_form)
    assert 'name="overlap" value="skip" checked' in schedule_form


def test_add_a_schedule_through_the_form(auto: Setup) -> None:
    client, api = auto.client, auto.admin.api
    patched = api.patch(f"/workspaces/{auto.ws}", json={"time_zone": "Asia/Kathmandu"})
    assert patched.status_code == 200, patched.text
    form = form_html(client.get(auto.page).text, "schedule-form")
    assert "<option selected>Asia/Kathmandu</option>" in form

    posted = client.post(
        f"{auto.base}/schedules",
        {
            "cron": "0  6 * * 1",
            "time_zone": "Africa/Niamey",
            "overlap": "queue",
            "p.district": "Kayes",
            "p.years": "2022, 2023",
            "p.api_key": SECRET,
        },
    )
    assert "Schedule+added" in flash_of(posted)

    listed = api.get(f"{auto.api_base}/schedules")
    assert listed.status_code == 200
    [schedule] = listed.json()
    assert schedule["cron"] == "0 6 * * 1"
    assert schedule["time_zone"] == "Africa/Niamey"
    assert schedule["overlap"] == "queue" and schedule["enabled"] is True
    assert schedule["parameters"] == {
        "district": "Kayes",
        "years": [2022, 2023],
        "api_key": "********",
    }
    next_at = datetime.fromisoformat(schedule["next_at"])
    assert next_at.astimezone(ZoneInfo("Africa/Niamey")).strftime("%a %H:%M") == "Mon 06:00"

    page = client.get(posted.headers["location"])
    html = page.text
    assert "Schedule added." in html
    assert SECRET not in html
    row = re.search(rf'<tr data-schedule="{schedule["id"]}">(.*?)</tr>', html, re.S)
    assert row, html
    cells = row.group(1)
    assert "<code>0 6 * * 1</code>" in cells and "Africa/Niamey" in cells and "queue" in cells
    assert 'data-param="api_key">********' in cells
    assert 'data-param="years">2022, 2023' in cells
    assert 'data-param="district">Kayes' in cells
    # The next run, in the workspace's time zone (Niamey 06:00 is Kathmandu 10:45).
    shown = next_at.astimezone(ZoneInfo("Asia/Kathmandu")).strftime("%Y-%m-%d %H:%M")
    assert shown.endswith("10:45") and shown in cells
    assert "Next run (Asia/Kathmandu)" in html
    # The pipeline page itself sums the schedules up too.
    pipeline_page = client.get(auto.page.rsplit("/automation", 1)[0]).text
    assert "<code>0 6 * * 1</code> Africa/Niamey, next" in pipeline_page and shown in pipeline_page


def test_a_bad_cron_shows_the_error_and_creates_nothing(auto: Setup) -> None:
    client = auto.client
    values = {"time_zone": "UTC", "overlap": "skip", "p.district": "Typed", "p.api_key": SECRET}
    bad = client.post(f"{auto.base}/schedules", {**values, "cron": "0 6 * *"})
    assert bad.status_code == 400
    form = form_html(bad.text, "schedule-form")
    cron = re.search(
        r'<div class="param invalid">\s*<label for="schedule-cron">.*?</div>', form, re.S
    )
    assert cron, form
    assert "is not a cron expression of five fields" in cron.group(0)
    assert 'aria-invalid="true"' in cron.group(0) and 'value="0 6 * *"' in cron.group(0)
    assert 'value="Typed"' in param_block(form, "district")  # what was typed is kept
    assert SECRET not in bad.text  # but never a secret
    # The error is in the schedule form only.
    assert bad.text.count("is not a cron expression") == 1

    zone = client.post(
        f"{auto.base}/schedules", {**values, "cron": "0 6 * * 1", "time_zone": "Mars/Base"}
    )
    assert zone.status_code == 400
    assert "unknown time zone" in form_html(zone.text, "schedule-form")
    assert 'id="schedule-time_zone-error"' in zone.text

    years = client.post(
        f"{auto.base}/schedules", {**values, "cron": "0 6 * * 1", "p.years": "many"}
    )
    assert years.status_code == 400
    block = param_block(form_html(years.text, "schedule-form"), "years")
    assert "is not an integer" in block and 'aria-invalid="true"' in block
    assert years.text.count("is not an integer") == 1

    assert auto.admin.api.get(f"{auto.api_base}/schedules").json() == []


def test_pause_resume_and_delete_a_schedule(auto: Setup) -> None:
    client, api = auto.client, auto.admin.api
    created = api.post(f"{auto.api_base}/schedules", json={"cron": "30 2 * * *"})
    assert created.status_code == 201, created.text
    schedule_id = created.json()["id"]
    url = f"{auto.base}/schedules/{schedule_id}"

    html = client.get(auto.page).text
    assert f'action="{url}/pause"' in html and f'action="{url}/delete"' in html

    assert "Schedule+paused" in flash_of(client.post(f"{url}/pause"))
    assert api.get(f"{auto.api_base}/schedules").json()[0]["enabled"] is False
    html = client.get(auto.page).text
    assert f'action="{url}/resume"' in html and ">paused</span>" in html

    assert "Schedule+resumed" in flash_of(client.post(f"{url}/resume"))
    assert api.get(f"{auto.api_base}/schedules").json()[0]["enabled"] is True

    assert "Schedule+deleted" in flash_of(client.post(f"{url}/delete"))
    assert api.get(f"{auto.api_base}/schedules").json() == []
    assert "No schedules." in client.get(auto.page).text
    # Gone: a second delete, or an id that never was, is a 404.
    assert client.post(f"{url}/delete").status_code == 404
    assert client.post(f"{auto.base}/schedules/not-an-id/pause").status_code == 404


def _webhook_url(html: str) -> str:
    found = re.search(r"<code data-webhook-url>([^<]+)</code>", html)
    assert found, html
    return html_lib.unescape(found.group(1))


def test_the_webhook_url_is_shown_once_and_works(world: World, auto: Setup) -> None:
    client, api = auto.client, auto.admin.api
    created = client.post(f"{auto.base}/webhook")
    assert created.status_code == 200  # rendered, not redirected
    assert created.headers["cache-control"] == "no-store"
    url = _webhook_url(created.text)
    assert url.startswith(f"{world.server.url}/api/v1/hooks/jlw_")
    curl = re.search(r"<code data-webhook-curl>([^<]+)</code>", created.text)
    assert curl
    assert html_lib.unescape(curl.group(1)) == (
        f"curl -X POST -H 'Content-Type: application/json' -d '{{\"district\": \"Bo\"}}' {url}"
    )
    assert "shown only once" in created.text

    # Anyone with the URL starts a run, without a token.
    called = httpx.post(url, json={"district": "Gao", "years": [2020]}, timeout=30)
    assert called.status_code == 201, called.text
    run = wait_for_run(api, auto.ws, called.json()["id"])
    assert run["state"] == "succeeded", run
    assert run["trigger"] == "webhook" and run["parameters"]["district"] == "Gao"

    # Later visits say it is on, but never show the URL again.
    page = client.get(auto.page).text
    assert url.rsplit("/", 1)[1] not in page
    assert 'data-webhook-state="on"' in page
    assert "New URL" in page and "Turn off" in page and "Create webhook URL" not in page
    assert "stops working" in page

    # A new URL: the old one stops working.
    renewed = client.post(f"{auto.base}/webhook")
    assert renewed.status_code == 200
    new_url = _webhook_url(renewed.text)
    assert new_url != url
    assert httpx.post(url, json={}, timeout=30).status_code == 404
    second = httpx.post(new_url, json={}, timeout=30)
    assert second.status_code == 201, second.text
    wait_for_run(api, auto.ws, second.json()["id"])

    # Off: no URL works, and the page offers to create one again.
    assert "Webhook+turned+off" in flash_of(client.post(f"{auto.base}/webhook/off"))
    assert httpx.post(new_url, json={}, timeout=30).status_code == 404
    page = client.get(auto.page).text
    assert 'data-webhook-state="off"' in page and "Create webhook URL" in page


def test_add_and_remove_a_trigger(auto: Setup) -> None:
    client, api = auto.client, auto.admin.api
    source = unique("upstream-")
    push(api, auto.ws, source, UPSTREAM)
    form = form_html(client.get(auto.page).text, "trigger-form")
    assert f'<option value="{source}">Upstream extract ({source})</option>' in form
    assert f'<option value="{auto.code}"' not in form  # not itself
    assert 'id="trigger-param-district"' in form

    missing = client.post(f"{auto.base}/triggers", {"source": ""})
    assert missing.status_code == 400
    assert "choose the pipeline" in form_html(missing.text, "trigger-form")
    unknown = client.post(f"{auto.base}/triggers", {"source": "no-such-pipeline"})
    assert unknown.status_code == 400
    assert 'id="trigger-source-error"' in form_html(unknown.text, "trigger-form")
    bad = client.post(f"{auto.base}/triggers", {"source": source, "p.years": "x"})
    assert bad.status_code == 400
    assert "is not an integer" in param_block(form_html(bad.text, "trigger-form"), "years")
    assert f'<option value="{source}" selected>' in form_html(bad.text, "trigger-form")
    assert api.get(f"{auto.api_base}/triggers").json() == []

    posted = client.post(f"{auto.base}/triggers", {"source": source, "p.district": "Segou"})
    flash_of(posted)
    [trigger] = api.get(f"{auto.api_base}/triggers").json()
    assert trigger["source"] == source and trigger["parameters"]["district"] == "Segou"
    html = client.get(auto.page).text
    item = re.search(rf'<li data-trigger="{source}">(.*?)</li>\s*</ul>', html, re.S)
    assert item, html
    assert "Runs after:" in item.group(1) and "Upstream extract" in item.group(1)
    assert "succeeds" in item.group(1)
    assert 'data-param="district">Segou' in item.group(1)

    # It works: a successful run of the source queues a run of this pipeline.
    upstream = start_run(api, auto.ws, source)
    assert wait_for_run(api, auto.ws, upstream["id"])["state"] == "succeeded"
    downstream = api.get(f"{auto.api_base}/runs").json()["items"]
    assert [run["trigger"] for run in downstream] == ["pipeline"]
    done = wait_for_run(api, auto.ws, downstream[0]["id"])
    assert done["state"] == "succeeded" and done["parameters"]["district"] == "Segou"

    # Setting it again replaces its values; a secret one is only ever shown masked.
    again = client.post(
        f"{auto.base}/triggers", {"source": source, "p.district": "Mopti", "p.api_key": SECRET}
    )
    flash_of(again)
    html = client.get(auto.page).text
    assert html.count(f'<li data-trigger="{source}">') == 1
    assert 'data-param="district">Mopti' in html
    assert 'data-param="api_key">********' in html
    assert SECRET not in html

    removed = client.post(f"{auto.base}/triggers/{source}/remove")
    assert "Trigger+removed" in flash_of(removed)
    assert api.get(f"{auto.api_base}/triggers").json() == []
    assert client.post(f"{auto.base}/triggers/{source}/remove").status_code == 404


def test_add_and_remove_a_recipient(world: World, auto: Setup) -> None:
    client, api = auto.client, auto.admin.api
    member = world.person()
    world.add_member(auto.ws, member, Role.VIEWER)
    stranger = world.person()
    form = form_html(client.get(auto.page).text, "recipient-form")
    assert f'<option value="{member.email}">' in form
    assert f'<option value="{auto.admin.email}">' in form
    assert stranger.email not in form

    posted = client.post(f"{auto.base}/recipients", {"email": member.email, "notify_on": "all"})
    assert f"{member.email} will be emailed" in unquote_plus(flash_of(posted))
    assert api.get(f"{auto.api_base}/recipients").json() == [
        {"email": member.email, "notify_on": "all"}
    ]
    html = client.get(auto.page).text
    row = re.search(rf'<tr data-recipient="{re.escape(member.email)}">(.*?)</tr>', html, re.S)
    assert row and "after every run" in row.group(1)

    # Someone outside the workspace cannot be added; the error is next to the field.
    refused = client.post(
        f"{auto.base}/recipients", {"email": stranger.email, "notify_on": "failure"}
    )
    assert refused.status_code == 400
    form = form_html(refused.text, "recipient-form")
    assert "is not a member of this workspace" in form and 'id="recipient-email-error"' in form
    bad_when = client.post(f"{auto.base}/recipients", {"email": member.email, "notify_on": "often"})
    assert bad_when.status_code == 400
    assert 'id="recipient-notify_on-error"' in form_html(bad_when.text, "recipient-form")
    assert len(api.get(f"{auto.api_base}/recipients").json()) == 1

    removed = client.post(f"{auto.base}/recipients/remove", {"email": member.email})
    flash_of(removed)
    assert api.get(f"{auto.api_base}/recipients").json() == []
    assert "Nobody is emailed" in client.get(auto.page).text


def _post_paths(auto: Setup, schedule_id: str, source: str) -> list[tuple[str, dict[str, str]]]:
    return [
        (f"{auto.base}/schedules", {"cron": "0 6 * * 1"}),
        (f"{auto.base}/schedules/{schedule_id}/pause", {}),
        (f"{auto.base}/schedules/{schedule_id}/resume", {}),
        (f"{auto.base}/schedules/{schedule_id}/delete", {}),
        (f"{auto.base}/webhook", {}),
        (f"{auto.base}/webhook/off", {}),
        (f"{auto.base}/triggers", {"source": source}),
        (f"{auto.base}/triggers/{source}/remove", {}),
        (f"{auto.base}/recipients", {"email": auto.admin.email}),
        (f"{auto.base}/recipients/remove", {"email": auto.admin.email}),
    ]


def test_viewers_see_lists_only_and_outsiders_nothing(
    world: World, auto: Setup, pages: Pages
) -> None:
    api = auto.admin.api
    source = unique("upstream-")
    push(api, auto.ws, source, UPSTREAM)
    schedule_id = api.post(
        f"{auto.api_base}/schedules", json={"cron": "0 6 * * 1", "parameters": {"api_key": SECRET}}
    ).json()["id"]
    assert api.post(f"{auto.api_base}/webhook").status_code == 201
    assert api.post(f"{auto.api_base}/triggers", json={"source": source}).status_code == 201
    recipient = {"email": auto.admin.email, "notify_on": "failure"}
    assert api.post(f"{auto.api_base}/recipients", json=recipient).status_code == 201

    viewer = world.person()
    world.add_member(auto.ws, viewer, Role.VIEWER)
    as_viewer = pages.signed_in(viewer.email, viewer.password)
    page = as_viewer.get(auto.page)
    assert page.status_code == 200
    html = page.text
    assert "<code>0 6 * * 1</code>" in html and 'data-param="api_key">********' in html
    assert SECRET not in html
    assert 'data-webhook-state="on"' in html
    assert "Runs after:" in html and auto.admin.email in html
    assert "Editors and admins change these settings." in html
    assert f'action="{auto.base}/' not in html  # no forms, no buttons
    for label in ("Add schedule", "Pause", "Create webhook URL", "New URL", "Turn off", "Remove"):
        assert f">{label}</button>" not in html, label
    for path, data in _post_paths(auto, schedule_id, source):
        assert as_viewer.post(path, data).status_code == 403, path
    # Nothing changed.
    assert api.get(f"{auto.api_base}/schedules").json()[0]["enabled"] is True
    assert len(api.get(f"{auto.api_base}/triggers").json()) == 1

    outsider = world.person()
    as_outsider = pages.signed_in(outsider.email, outsider.password)
    assert as_outsider.get(auto.page).status_code == 404
    for path, data in _post_paths(auto, schedule_id, source):
        assert as_outsider.post(path, data).status_code == 404, path
    # Members get a 404 for a pipeline that does not exist; anonymous visitors sign in first.
    assert auto.client.get(f"/w/{auto.ws}/pipelines/nope/automation").status_code == 404
    anonymous = pages.anonymous().get(auto.page)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    # Without the CSRF token, even an admin's post is refused.
    no_token = auto.client.http.post(f"{auto.base}/webhook/off", data={})
    assert no_token.status_code == 403


def test_archived_workspaces_are_read_only(auto: Setup) -> None:
    client, api = auto.client, auto.admin.api
    schedule_id = api.post(f"{auto.api_base}/schedules", json={"cron": "0 6 * * 1"}).json()["id"]
    assert client.post(f"/w/{auto.ws}/archive", {"archived": "true"}).status_code == 303
    html = client.get(auto.page).text
    assert "<code>0 6 * * 1</code>" in html
    assert f'action="{auto.base}/' not in html
    assert client.post(f"{auto.base}/schedules/{schedule_id}/pause").status_code == 409
    assert client.post(f"{auto.base}/webhook").status_code == 409


def test_add_and_remove_a_dataset_trigger(auto: Setup) -> None:
    client, api = auto.client, auto.admin.api
    slug = unique("cases-")
    assert api.post(f"/workspaces/{auto.ws}/datasets", json={"name": slug}).status_code == 201
    form = form_html(client.get(auto.page).text, "dataset-trigger-form")
    assert f'<option value="{slug}">' in form
    unknown = client.post(f"{auto.base}/dataset-triggers", {"dataset": "no-such-dataset"})
    assert unknown.status_code == 400
    assert "'no-such-dataset' not found" in html_lib.unescape(
        form_html(unknown.text, "dataset-trigger-form")
    )

    posted = client.post(f"{auto.base}/dataset-triggers", {"dataset": slug, "p.district": "Kayes"})
    flash_of(posted)
    [trigger] = api.get(f"{auto.api_base}/dataset-triggers").json()
    assert trigger["dataset"] == slug and trigger["parameters"]["district"] == "Kayes"
    assert f'<li data-dataset-trigger="{slug}">' in client.get(auto.page).text

    # Publishing a version queues a run with the saved values.
    base = f"/workspaces/{auto.ws}/datasets/{slug}/versions"
    api.post(base, json={})
    api.put(f"{base}/1/files/a.csv", content=b"x\n1\n")
    assert api.post(f"{base}/1/publish").status_code == 200
    [run] = api.get(f"{auto.api_base}/runs").json()["items"]
    assert run["trigger"] == "dataset"
    done = wait_for_run(api, auto.ws, run["id"])
    assert done["state"] == "succeeded" and done["parameters"]["district"] == "Kayes"

    removed = client.post(f"{auto.base}/dataset-triggers/{slug}/remove")
    assert "Dataset+trigger+removed" in flash_of(removed)
    assert api.get(f"{auto.api_base}/dataset-triggers").json() == []
