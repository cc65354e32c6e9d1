"""The `joliba` command, run as a real subprocess against both databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from joliba.services.platform import Platform
from tests.conftest import PASSWORD, LiveServer, unique

JOLIBA = [sys.executable, "-m", "joliba.cli.main"]


def run(platform: Platform, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "JOLIBA_HOME": str(home),
        "JOLIBA_DATABASE_URL": platform.settings.resolved_database_url,
        "JOLIBA_SECRET_KEY": platform.settings.secret_key_value(),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [*JOLIBA, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_users_tokens_workspaces(platform: Platform, server: LiveServer, tmp_path: Path) -> None:
    email = f"{unique()}@example.org"
    made = run(platform, tmp_path, "users", "create", email, "--password", PASSWORD, "--superuser")
    assert made.returncode == 0, made.stderr
    again = run(platform, tmp_path, "users", "create", email, "--password", PASSWORD)
    assert again.returncode == 1 and "already exists" in again.stderr
    weak = run(platform, tmp_path, "users", "create", f"{unique()}@example.org", "--password", "x")
    assert weak.returncode == 1 and "at least 10" in weak.stderr

    slug = unique("cli-")
    created = run(
        platform,
        tmp_path,
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
    assert created.returncode == 0, created.stderr
    listed = run(platform, tmp_path, "workspaces", "list", "--json")
    row = next(w for w in json.loads(listed.stdout) if w["slug"] == slug)
    assert row["members"] == 1 and row["time_zone"] == "Africa/Bamako"

    member = f"{unique()}@example.org"
    run(platform, tmp_path, "users", "create", member, "--password", PASSWORD)
    added = run(
        platform, tmp_path, "workspaces", "members", slug, "--add", member, "--role", "editor"
    )
    assert added.returncode == 0, added.stderr
    members = json.loads(run(platform, tmp_path, "workspaces", "members", slug, "--json").stdout)
    assert {m["email"]: m["role"] for m in members} == {email: "admin", member: "editor"}

    token_run = run(
        platform,
        tmp_path,
        "tokens",
        "create",
        member,
        "--workspace",
        slug,
        "--expires-in-days",
        "7",
    )
    assert token_run.returncode == 0, token_run.stderr
    token = token_run.stdout.strip().splitlines()[-1]
    with httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
    ) as api:
        me = api.get("/me").json()
        assert me["email"] == member and me["token_workspace"] == slug
        assert api.get(f"/workspaces/{slug}").json()["role"] == "editor"

    removed = run(platform, tmp_path, "workspaces", "members", slug, "--remove", member)
    assert removed.returncode == 0
    last_admin = run(platform, tmp_path, "workspaces", "members", slug, "--remove", email)
    assert last_admin.returncode == 1 and "admin" in last_admin.stderr
    unknown = run(platform, tmp_path, "tokens", "create", f"{unique()}@example.org")
    assert unknown.returncode == 2


def test_password_reset_and_deactivation_revoke_tokens(
    platform: Platform, server: LiveServer, tmp_path: Path
) -> None:
    email = f"{unique()}@example.org"
    assert run(platform, tmp_path, "users", "create", email, "--password", PASSWORD).returncode == 0

    def token() -> httpx.Client:
        made = run(platform, tmp_path, "tokens", "create", email)
        assert made.returncode == 0, made.stderr
        secret = made.stdout.strip().splitlines()[-1]
        return httpx.Client(
            base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {secret}"}
        )

    with token() as first, token() as second:
        assert first.get("/me").status_code == 200 and second.get("/me").status_code == 200
        reset = run(
            platform, tmp_path, "users", "set-password", email, "--password", "a new long one"
        )
        assert reset.returncode == 0, reset.stderr
        assert "2 API token(s)" in reset.stdout and "revoked" in reset.stdout
        assert first.get("/me").status_code == 401 and second.get("/me").status_code == 401
    with token() as third:
        assert third.get("/me").status_code == 200
        off = run(platform, tmp_path, "users", "deactivate", email)
        assert off.returncode == 0, off.stderr
        assert "deactivated" in off.stdout and "1 API token(s)" in off.stdout
        assert third.get("/me").status_code == 401
    listed = json.loads(run(platform, tmp_path, "users", "list", "--json").stdout)
    assert next(u for u in listed if u["email"] == email)["active"] is False
    on = run(platform, tmp_path, "users", "activate", email)
    assert on.returncode == 0 and "activated" in on.stdout
    with token() as fourth:  # a token made after reactivation works; the old ones stay dead
        assert fourth.get("/me").status_code == 200
    missing = run(platform, tmp_path, "users", "deactivate", f"{unique()}@example.org")
    assert missing.returncode == 2


def test_db_commands(platform: Platform, tmp_path: Path) -> None:
    upgraded = run(platform, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0 and "revision" in upgraded.stdout
    current = run(platform, tmp_path, "db", "current")
    revision = current.stdout.split()[1]
    assert current.stdout.strip() == f"current {revision} · head {revision}"


def test_help_everywhere(tmp_path: Path) -> None:
    for args in (["--help"], ["workspaces", "--help"], ["tokens", "create", "--help"]):
        result = subprocess.run(
            [*JOLIBA, *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "JOLIBA_HOME": str(tmp_path / "h")},
        )
        assert result.returncode == 0 and "Usage" in result.stdout
    assert not (tmp_path / "h").exists()  # --help does no work
