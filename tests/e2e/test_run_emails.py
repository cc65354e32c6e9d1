"""A real `joliba serve` with JOLIBA_SMTP_URL: a failed run emails its recipient."""

from __future__ import annotations

import os
from email.message import Message
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller

from tests.api.test_pipeline_automation import FAILING, Inbox, body_text
from tests.e2e.test_demo import free_port
from tests.e2e.test_runner_restart import _server
from tests.fixtures.cli import Joliba
from tests.pipeline_helpers import push, start_run, wait_for_run
from tests.wheels import build_wheel


def test_a_failed_run_is_emailed_by_the_server(
    tmp_path: Path, fresh_database_url: str | None
) -> None:
    inbox = Inbox()
    smtp_port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
        port = free_port()
        env.update(
            JOLIBA_HOME=str(tmp_path / "home"),
            JOLIBA_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}?from=joliba@ministry.test",
            JOLIBA_BASE_URL=f"http://127.0.0.1:{port}",
            JOLIBA_PACKAGE_INDEX_URL="none",
            JOLIBA_PACKAGE_FIND_LINKS=str(build_wheel(tmp_path / "wheels").parent),
        )
        if fresh_database_url:
            env["JOLIBA_DATABASE_URL"] = fresh_database_url
        cli = Joliba(env)
        cli(
            "users", "create", "hmis@example.org", "--password", "Correct-Horse-9", "--superuser"
        ).ok()
        cli("workspaces", "create", "HMIS", "--admin", "hmis@example.org").ok()
        token = cli("tokens", "create", "hmis@example.org").ok().stdout.strip().splitlines()[-1]
        with (
            httpx.Client(
                base_url=f"http://127.0.0.1:{port}/api/v1",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ) as api,
            _server(env, port, tmp_path / "server.log"),
        ):
            push(api, "hmis", "broken", FAILING)
            r = api.post(
                "/workspaces/hmis/pipelines/broken/recipients", json={"email": "hmis@example.org"}
            )
            assert r.status_code == 201, r.text
            run = wait_for_run(api, "hmis", start_run(api, "hmis", "broken")["id"])
            assert run["state"] == "failed"
            inbox.wait_for(1, timeout=20)
        mail: Message = inbox.messages[0]
        assert mail["To"] == "hmis@example.org"
        assert mail["Subject"] == "[Joliba] broken: run failed"
        body = body_text(mail)
        assert f"http://127.0.0.1:{port}/w/hmis/runs/{run['id']}" in body
    finally:
        controller.stop()
