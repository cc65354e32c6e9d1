"""Runs started without a person (webhooks, other pipelines), emails about runs, retention,
and the run token a pipeline's process gets."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from joliba.db.tables import PipelineRun, RunLog
from joliba.domain.permissions import Role
from joliba.runner.notifier import Notifier
from joliba.services import retention
from joliba.services.platform import Platform
from tests.conftest import World
from tests.e2e.test_demo import free_port
from tests.fixtures.waiting import eventually
from tests.pipeline_helpers import push, start_run, wait_for_run

COUNTING = """
from joliba import current_run, parameter, pipeline

@pipeline(name="Counting")
@parameter("count", type=int, default=1)
def counting(count):
    current_run.log_info(f"count {count}")
"""

PUBLISH = """
from joliba import Secret, current_run, parameter, pipeline

@pipeline(name="Publish")
@parameter("count", type=int, default=1)
@parameter("key", type=Secret, required=False)
def publish(count, key):
    current_run.log_info(f"count {count}, key of {len(key or '')} characters")
"""

FAILING = """
from joliba import pipeline

@pipeline(name="Failing")
def failing():
    raise RuntimeError("broken on purpose")
"""

USES_TOKEN = """
import json, os, urllib.error, urllib.request
from joliba import current_run, parameter, pipeline

def get(path, body=None):
    request = urllib.request.Request(
        os.environ["JOLIBA_SERVER_URL"] + "/api/v1" + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": "Bearer " + os.environ["JOLIBA_RUN_TOKEN"],
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code

@pipeline(name="Uses its token")
@parameter("other", type=str)
def uses(other):
    ws = os.environ["JOLIBA_WORKSPACE"]
    current_run.log_info(f"own {get('/workspaces/' + ws + '/pipelines')}")
    current_run.log_info(f"other {get('/workspaces/' + other + '/pipelines')}")
    current_run.log_info(f"tokens {get('/me/tokens', {'name': 'escape'})}")
    print("TOKEN " + os.environ["JOLIBA_RUN_TOKEN"], flush=True)
"""


def test_webhook_starts_runs_with_posted_parameters_until_replaced(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "counting", COUNTING)
    first_url = admin.api.post(f"/workspaces/{ws}/pipelines/counting/webhook").json()["url"]
    assert "/api/v1/hooks/jlw_" in first_url
    assert admin.api.get(f"/workspaces/{ws}/pipelines/counting").json()["webhook_enabled"]
    hook = first_url.split("/api/v1", 1)[1]
    anonymous = world.client()
    response = anonymous.post(hook, json={"count": 7})
    assert response.status_code == 201, response.text
    run = wait_for_run(admin.api, ws, response.json()["id"])
    assert run["state"] == "succeeded" and run["trigger"] == "webhook"
    assert run["parameters"] == {"count": 7} and run["triggered_by"] is None
    bad = anonymous.post(hook, json={"count": "many"})
    assert bad.status_code == 400 and "count" in bad.json()["error"]["message"]
    second_url = admin.api.post(f"/workspaces/{ws}/pipelines/counting/webhook").json()["url"]
    assert second_url != first_url
    assert anonymous.post(hook, json={}).status_code == 404
    assert admin.api.delete(f"/workspaces/{ws}/pipelines/counting/webhook").status_code == 204
    assert anonymous.post(second_url.split("/api/v1", 1)[1], json={}).status_code == 404
    audit = admin.api.get(f"/workspaces/{ws}/audit").json()["items"]
    assert any(e["action"] == "run.create" and e["actor_email"] == "webhook" for e in audit)
    assert all("jlw_" not in str(e) for e in audit)


def test_a_successful_run_triggers_the_downstream_pipeline(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "extract", COUNTING)
    push(admin.api, ws, "publish", PUBLISH)
    push(admin.api, ws, "broken", FAILING)
    for source in ("extract", "broken"):
        response = admin.api.post(
            f"/workspaces/{ws}/pipelines/publish/triggers",
            json={"source": source, "parameters": {"count": 42, "key": "k3y-S3cret"}},
        )
        assert response.status_code == 201, response.text
    itself = admin.api.post(
        f"/workspaces/{ws}/pipelines/publish/triggers", json={"source": "publish"}
    )
    assert itself.status_code == 400
    upstream = start_run(admin.api, ws, "extract")
    assert wait_for_run(admin.api, ws, upstream["id"])["state"] == "succeeded"
    failed = start_run(admin.api, ws, "broken")
    assert wait_for_run(admin.api, ws, failed["id"])["state"] == "failed"

    def downstream_runs() -> list[dict[str, Any]]:
        return list(admin.api.get(f"/workspaces/{ws}/pipelines/publish/runs").json()["items"])

    def first_succeeded() -> bool:
        runs = downstream_runs()
        return bool(runs) and runs[0]["state"] == "succeeded"

    eventually(first_succeeded, timeout=30, interval=0.1, message=lambda: str(downstream_runs()))
    # An ending queues the runs it triggers in the transaction that records it: "broken" was
    # seen failed above, so a run it had wrongly triggered would be listed already.
    downstream = downstream_runs()
    assert len(downstream) == 1  # the failed run of "broken" started nothing
    assert downstream[0]["trigger"] == "pipeline"
    assert upstream["id"] in downstream[0]["trigger_detail"]
    assert downstream[0]["parameters"] == {"count": 42, "key": "********"}
    lines = admin.api.get(f"/workspaces/{ws}/runs/{downstream[0]['id']}/logs").json()["items"]
    assert "count 42, key of 10 characters" in [line["message"] for line in lines]
    listed = admin.api.get(f"/workspaces/{ws}/pipelines/publish/triggers").json()
    assert all(t["parameters"]["key"] == "********" for t in listed)
    assert sorted(t["source"] for t in listed) == ["broken", "extract"]
    assert (
        admin.api.delete(f"/workspaces/{ws}/pipelines/publish/triggers/broken").status_code == 204
    )


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 15) -> None:
        """Until at least ``count`` emails have arrived."""
        eventually(
            lambda: len(self.messages) >= count,
            timeout=timeout,
            message=lambda: f"{len(self.messages)} emails, expected {count}",
        )


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def body_text(mail: Message) -> str:
    """The decoded body of a one-part email."""
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes), payload
    return payload.decode()


def _with_smtp(platform: Platform, port: int) -> Platform:
    settings = platform.settings.model_copy(
        update={"smtp_url": f"smtp://127.0.0.1:{port}?from=runs@joliba.test"}
    )
    return Platform(settings=settings, db=platform.db, store=platform.store, box=platform.box)


def test_recipients_are_emailed_on_failure_or_every_run(
    world: World, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    admin, watcher, outsider = world.person(), world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, watcher, Role.VIEWER)
    push(admin.api, ws, "broken", FAILING)
    push(admin.api, ws, "counting", COUNTING)
    base = f"/workspaces/{ws}/pipelines"
    assert (
        admin.api.post(f"{base}/broken/recipients", json={"email": watcher.email}).status_code
        == 201
    )
    assert (
        admin.api.post(
            f"{base}/counting/recipients", json={"email": watcher.email, "notify_on": "failure"}
        ).status_code
        == 201
    )
    assert (
        admin.api.post(
            f"{base}/counting/recipients", json={"email": admin.email, "notify_on": "all"}
        ).status_code
        == 201
    )
    refused = admin.api.post(f"{base}/broken/recipients", json={"email": outsider.email})
    assert refused.status_code == 400 and "not a member" in refused.json()["error"]["message"]

    failed = wait_for_run(admin.api, ws, start_run(admin.api, ws, "broken")["id"])
    succeeded = wait_for_run(admin.api, ws, start_run(admin.api, ws, "counting")["id"])
    notifier = Notifier(_with_smtp(world.platform, port))
    notifier.start()
    try:
        notifier.run_ended(uuid.UUID(failed["id"]))
        inbox.wait_for(1)
        notifier.run_ended(uuid.UUID(succeeded["id"]))
        inbox.wait_for(2)
    finally:
        notifier.stop()
    about_failure, about_success = inbox.messages
    assert about_failure["To"] == watcher.email
    assert about_failure["From"] == "runs@joliba.test"
    assert about_failure["Subject"] == "[Joliba] broken: run failed"
    body = body_text(about_failure)
    assert "Error: exited with code 1" in body
    assert f"/w/{ws}/runs/{failed['id']}" in body
    # The watcher asked for failures only: the success mail goes to the admin alone.
    assert about_success["To"] == admin.email
    assert about_success["Subject"] == "[Joliba] counting: run succeeded"


def test_old_finished_runs_and_their_logs_are_pruned(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "counting", COUNTING)
    old = wait_for_run(admin.api, ws, start_run(admin.api, ws, "counting")["id"])
    recent = wait_for_run(admin.api, ws, start_run(admin.api, ws, "counting")["id"])
    platform = world.platform
    with platform.db.transaction() as session:
        run = session.get(PipelineRun, uuid.UUID(old["id"]))
        assert run is not None
        run.finished_at = datetime.now(UTC) - timedelta(days=100)
    with platform.db.transaction() as session:
        pruned = 0
        while count := retention.prune_runs(
            session, finished_before=datetime.now(UTC) - timedelta(days=90)
        ):
            pruned += count
    assert pruned == 1
    assert admin.api.get(f"/workspaces/{ws}/runs/{old['id']}").status_code == 404
    assert admin.api.get(f"/workspaces/{ws}/runs/{recent['id']}").status_code == 200
    with platform.db.session(write=False) as session:
        left = session.scalar(
            select(func.count()).select_from(RunLog).where(RunLog.run_id == uuid.UUID(old["id"]))
        )
    assert left == 0


def test_the_run_token_is_limited_to_its_workspace_and_its_run(world: World) -> None:
    admin = world.person()
    ws, other = world.workspace(admin), world.workspace(admin)
    push(admin.api, ws, "uses", USES_TOKEN)
    run = wait_for_run(admin.api, ws, start_run(admin.api, ws, "uses", {"other": other})["id"])
    assert run["state"] == "succeeded", run
    page = admin.api.get(f"/workspaces/{ws}/runs/{run['id']}/logs").json()["items"]
    messages = [line["message"] for line in page]
    assert "own 200" in messages  # reads its own workspace
    assert "other 404" in messages  # the admin's other workspace is out of its reach
    assert "tokens 403" in messages  # a restricted token cannot manage tokens
    token = next(m for m in messages if m.startswith("TOKEN ")).split()[1]
    after = httpx.get(
        f"{world.server.url}/api/v1/workspaces/{ws}/pipelines",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert after.status_code == 401  # the run has ended: its token is dead
