"""The `joliba` command against both databases, run in process (tests/fixtures/cli.py); the
last test runs the entry points themselves as real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from argon2 import extract_parameters

from joliba.services import crypto, users
from joliba.services.platform import Platform
from tests.conftest import PASSWORD, LiveServer, unique
from tests.fixtures.cli import Joliba, on_server
from tests.web.page_client import Pages


def test_users_tokens_workspaces(platform: Platform, server: LiveServer, tmp_path: Path) -> None:
    cli = on_server(platform, tmp_path)
    email = f"{unique()}@example.org"
    made = cli("users", "create", email, "--password", PASSWORD, "--superuser")
    assert made.exit_code == 0, made.stderr
    again = cli("users", "create", email, "--password", PASSWORD)
    assert again.exit_code == 1 and "already exists" in again.stderr
    weak = cli("users", "create", f"{unique()}@example.org", "--password", "x")
    assert weak.exit_code == 1 and "at least 10" in weak.stderr

    slug = unique("cli-")
    created = cli(
        "workspaces",
        "create",
        "CLI test",
        "--slug",
        slug,
        "--admin",
        email,
        "--time-zone",
        "Africa/Bamako",
    )
    assert created.exit_code == 0, created.stderr
    listed = cli("workspaces", "list", "--json")
    row = next(w for w in json.loads(listed.stdout) if w["slug"] == slug)
    assert row["members"] == 1 and row["time_zone"] == "Africa/Bamako"

    member = f"{unique()}@example.org"
    cli("users", "create", member, "--password", PASSWORD)
    added = cli("workspaces", "members", slug, "--add", member, "--role", "editor")
    assert added.exit_code == 0, added.stderr
    members = json.loads(cli("workspaces", "members", slug, "--json").stdout)
    assert {m["email"]: m["role"] for m in members} == {email: "admin", member: "editor"}

    token_run = cli(
        "tokens",
        "create",
        member,
        "--workspace",
        slug,
        "--expires-in-days",
        "7",
    )
    assert token_run.exit_code == 0, token_run.stderr
    token = token_run.stdout.strip().splitlines()[-1]
    with httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
    ) as api:
        me = api.get("/me").json()
        assert me["email"] == member and me["token_workspace"] == slug
        assert api.get(f"/workspaces/{slug}").json()["role"] == "editor"

    removed = cli("workspaces", "members", slug, "--remove", member)
    assert removed.exit_code == 0
    last_admin = cli("workspaces", "members", slug, "--remove", email)
    assert last_admin.exit_code == 1 and "admin" in last_admin.stderr
    unknown = cli("tokens", "create", f"{unique()}@example.org")
    assert unknown.exit_code == 2


def test_password_reset_and_deactivation_revoke_tokens(
    platform: Platform, server: LiveServer, tmp_path: Path
) -> None:
    cli = on_server(platform, tmp_path)
    email = f"{unique()}@example.org"
    assert cli("users", "create", email, "--password", PASSWORD).exit_code == 0

    def token() -> httpx.Client:
        made = cli("tokens", "create", email)
        assert made.exit_code == 0, made.stderr
        secret = made.stdout.strip().splitlines()[-1]
        return httpx.Client(
            base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {secret}"}
        )

    with token() as first, token() as second:
        assert first.get("/me").status_code == 200 and second.get("/me").status_code == 200
        reset = cli("users", "set-password", email, "--password", "a new long one")
        assert reset.exit_code == 0, reset.stderr
        assert "2 API token(s)" in reset.stdout and "revoked" in reset.stdout
        assert first.get("/me").status_code == 401 and second.get("/me").status_code == 401
    with token() as third:
        assert third.get("/me").status_code == 200
        off = cli("users", "deactivate", email)
        assert off.exit_code == 0, off.stderr
        assert "deactivated" in off.stdout and "1 API token(s)" in off.stdout
        assert third.get("/me").status_code == 401
    listed = json.loads(cli("users", "list", "--json").stdout)
    assert next(u for u in listed if u["email"] == email)["active"] is False
    on = cli("users", "activate", email)
    assert on.exit_code == 0 and "activated" in on.stdout
    with token() as fourth:  # a token made after reactivation works; the old ones stay dead
        assert fourth.get("/me").status_code == 200
    missing = cli("users", "deactivate", f"{unique()}@example.org")
    assert missing.exit_code == 2


def test_intranet_emails_sign_up_sign_in_and_are_invited(
    platform: Platform, server: LiveServer, tmp_path: Path
) -> None:
    """Ministry intranets use special-use domains (``.local``, ``.test``) for their mail."""
    cli = on_server(platform, tmp_path)
    admin = f"{unique()}@sante.local"
    made = cli("users", "create", admin, "--password", PASSWORD, "--superuser")
    assert made.exit_code == 0, made.stderr
    malformed = cli("users", "create", "it@sante..local", "--password", PASSWORD)
    assert malformed.exit_code == 1 and "two periods in a row" in malformed.stderr
    with Pages(server.url) as pages:
        home = pages.signed_in(admin, PASSWORD).get("/account")
        assert admin in home.text

    slug = unique("intranet-")
    created = cli("workspaces", "create", "Intranet", "--slug", slug, "--admin", admin)
    assert created.exit_code == 0, created.stderr
    token = cli("tokens", "create", admin).stdout.strip().splitlines()[-1]
    with httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
    ) as api:
        nurse = f"{unique()}@clinic.moh.test"
        answer = api.post("/users", json={"email": nurse.upper(), "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        assert answer.json()["email"] == nurse
        invited = api.post(
            f"/workspaces/{slug}/invitations",
            json={"email": f"{unique()}@district.sante.local", "role": "viewer"},
        )
        assert invited.status_code == 201, invited.text
        refused = api.post(
            f"/workspaces/{slug}/invitations", json={"email": "x@host.localhost", "role": "viewer"}
        )
        assert refused.status_code == 400, refused.text
        assert "special-use or reserved name" in refused.json()["error"]["message"]


def test_db_commands(platform: Platform, tmp_path: Path) -> None:
    cli = on_server(platform, tmp_path)
    upgraded = cli("db", "upgrade")
    assert upgraded.exit_code == 0 and "revision" in upgraded.stdout
    current = cli("db", "current")
    revision = current.stdout.split()[1]
    assert current.stdout.strip() == f"current {revision} · head {revision}"


def test_help_everywhere(tmp_path: Path) -> None:
    cli = Joliba({"JOLIBA_HOME": str(tmp_path / "h")})
    for args in (["--help"], ["workspaces", "--help"], ["tokens", "create", "--help"]):
        result = cli(*args)
        assert result.exit_code == 0 and "Usage" in result.stdout
    assert not (tmp_path / "h").exists()  # --help does no work


def test_a_command_reads_only_the_environment_it_is_given(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process runs are isolated: settings come from the command's environment, not from
    this process's, and the password cost a command configures does not stay behind."""
    before = extract_parameters(crypto.hash_password("before"))
    email = f"{unique()}@example.org"
    costly = Joliba({**on_server(platform, tmp_path).env, "JOLIBA_PASSWORD_TIME_COST": "3"})
    costly("users", "create", email, "--password", PASSWORD).ok()
    with platform.db.transaction() as session:
        user = users.get_by_email(session, email)
        assert user is not None
        assert extract_parameters(user.password_hash).time_cost == 3
    assert extract_parameters(crypto.hash_password("after")) == before

    monkeypatch.setenv("JOLIBA_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("JOLIBA_TOKEN", "jlb_of_the_test_process")
    alone = Joliba({"XDG_CONFIG_HOME": str(tmp_path / "config")})("pipelines", "list", "-w", "x")
    assert alone.exit_code == 1 and "no server to talk to" in alone.stderr
    assert os.environ["JOLIBA_TOKEN"] == "jlb_of_the_test_process"


def test_the_entry_points_run_in_real_processes(tmp_path: Path) -> None:
    """The one test that starts real `joliba` processes, through `python -m joliba.cli.main`
    and the installed script: every other test runs the commands in process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    env.update(JOLIBA_HOME=str(tmp_path / "home"), COLUMNS="200")

    def real(*command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command), env=env, capture_output=True, text=True, timeout=120, check=False
        )

    module = [sys.executable, "-m", "joliba.cli.main"]
    script = Path(sys.executable).with_name("joliba")
    helped = real(*module, "--help")
    assert helped.returncode == 0 and "Usage" in helped.stdout, helped.stderr
    assert not (tmp_path / "home").exists()  # --help does no work
    upgraded = real(str(script), "db", "upgrade")
    assert upgraded.returncode == 0 and "revision" in upgraded.stdout, upgraded.stderr
    revision = upgraded.stdout.split()[-1]
    current = real(*module, "db", "current")
    assert current.returncode == 0, current.stderr
    assert current.stdout.strip() == f"current {revision} · head {revision}"
