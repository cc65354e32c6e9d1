"""Connections: typed fields, secrets encrypted and write-only, and "test connection"."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from joliba.db.tables import AuditEntry, Connection
from joliba.domain.connections import MASK
from tests.conftest import PG_ADMIN_URL, LiveServer, World, make_bucket, s3_options, unique
from tests.dhis2.emulator_support import live_emulator

SECRET = "district-S3cret-value"


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    handler = Captured()
    loggers = [logging.getLogger(n) for n in ("", "uvicorn", "uvicorn.access", "uvicorn.error")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler.lines
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


def test_secret_fields_never_come_back(world: World, log_lines: list[str]) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    viewer = world.person()
    from joliba.domain.permissions import Role

    world.add_member(ws, viewer, Role.VIEWER)
    with live_emulator(scale=0.1, users={"admin": SECRET}) as dhis2:
        r = admin.api.post(
            f"/workspaces/{ws}/connections",
            json={
                "type": "dhis2",
                "name": "Sierra Leone HMIS",
                "fields": {"url": str(dhis2.base_url), "username": "admin", "password": SECRET},
            },
        )
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["slug"] == "sierra-leone-hmis"
        assert created["fields"]["password"] == MASK
        assert created["secret_fields"] == ["password", "token"]
        slug = created["slug"]
        # Keeping the mask keeps the stored secret: the test still signs in.
        r = admin.api.patch(
            f"/workspaces/{ws}/connections/{slug}",
            json={"fields": {"password": MASK, "username": "admin"}, "description": "HMIS"},
        )
        assert r.status_code == 200, r.text
        r = admin.api.post(f"/workspaces/{ws}/connections/{slug}/test")
        assert r.json() == {
            "ok": True,
            "message": "connected to DHIS2 2.39.5 (Joliba DHIS2 emulator)",
        }
        bodies = [
            admin.api.get(f"/workspaces/{ws}/connections").text,
            admin.api.get(f"/workspaces/{ws}/connections/{slug}").text,
            viewer.api.get(f"/workspaces/{ws}/connections/{slug}").text,
            admin.api.get(f"/workspaces/{ws}/audit").text,
        ]
    for body in bodies:
        assert SECRET not in body
    assert not [line for line in log_lines if SECRET in line]
    with world.platform.db.session() as session:
        row = session.scalar(select(Connection).where(Connection.slug == slug))
        assert row is not None
        assert SECRET.encode() not in row.secrets_encrypted
        assert SECRET not in str(row.fields)
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.workspace_id == row.workspace_id)
        ).all()
    actions = [e.action for e in entries]
    assert {"connection.create", "connection.update", "connection.test"} <= set(actions)
    assert all(SECRET not in f"{e.target} {e.details}" for e in entries)


def test_dhis2_test_reports_clear_reasons(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)

    def make(fields: dict[str, Any]) -> str:
        slug = unique("c")
        r = admin.api.post(
            f"/workspaces/{ws}/connections",
            json={"type": "dhis2", "name": slug, "slug": slug, "fields": fields},
        )
        assert r.status_code == 201, r.text
        return slug

    with live_emulator(scale=0.1, version="2.38", tokens=["d2pat_right"]) as dhis2:
        url = str(dhis2.base_url)
        good = make({"url": url, "token": "d2pat_right"})
        wrong = make({"url": url, "username": "admin", "password": "wrong-password"})
        not_root = make({"url": f"{url}/api/system", "token": "d2pat_right"})
        result = admin.api.post(f"/workspaces/{ws}/connections/{good}/test").json()
        assert result == {
            "ok": True,
            "message": "connected to DHIS2 2.38.7 (Joliba DHIS2 emulator)",
        }
        # Our words, from the status: the far end's message is not repeated.
        result = admin.api.post(f"/workspaces/{ws}/connections/{wrong}/test").json()
        assert result == {
            "ok": False,
            "message": "authentication failed (the server answered HTTP 401)",
        }
        result = admin.api.post(f"/workspaces/{ws}/connections/{not_root}/test").json()
        assert result == {
            "ok": False,
            "message": "the server answered HTTP 404: is the URL the DHIS2 root?",
        }
        # Changing the password through the API is what the next test uses.
        admin.api.patch(
            f"/workspaces/{ws}/connections/{wrong}",
            json={"fields": {"password": "", "username": "", "token": "d2pat_right"}},
        )
        assert admin.api.post(f"/workspaces/{ws}/connections/{wrong}/test").json()["ok"]
    down = make({"url": url, "token": "d2pat_right"})  # the server has stopped
    result = admin.api.post(f"/workspaces/{ws}/connections/{down}/test").json()
    assert result == {"ok": False, "message": "could not connect: connection refused"}


def test_dhis2_test_explains_a_redirect_to_a_login_page(world: World) -> None:
    from starlette.applications import Starlette
    from starlette.responses import RedirectResponse
    from starlette.routing import Route

    async def to_login(request: object) -> RedirectResponse:
        return RedirectResponse("/dhis-web-commons/security/login.action", status_code=302)

    admin = world.person()
    ws = world.workspace(admin)
    app = Starlette(routes=[Route("/{path:path}", to_login)])
    with LiveServer(app) as site:
        r = admin.api.post(
            f"/workspaces/{ws}/connections",
            json={
                "type": "dhis2",
                "name": "Login",
                "fields": {"url": site.url, "token": "d2pat_x"},
            },
        )
        assert r.status_code == 201, r.text
        result = admin.api.post(f"/workspaces/{ws}/connections/login/test").json()
    # Where it redirects to is the far end's word: not repeated.
    assert result == {
        "ok": False,
        "message": "the server answered HTTP 302 (a redirect): is the URL the DHIS2 root?",
    }


def test_dhis2_needs_credentials_and_a_url(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    r = admin.api.post(
        f"/workspaces/{ws}/connections",
        json={"type": "dhis2", "name": "x", "fields": {"url": "https://play.dhis2.org"}},
    )
    assert r.status_code == 400 and "token" in r.json()["error"]["message"]
    r = admin.api.post(
        f"/workspaces/{ws}/connections",
        json={"type": "dhis2", "name": "x", "fields": {"url": "ftp://x", "token": "t"}},
    )
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "fields.url"
    r = admin.api.post(
        f"/workspaces/{ws}/connections",
        json={"type": "dhis2", "name": "x", "fields": {"url": "https://a.org", "tokn": "t"}},
    )
    assert r.status_code == 400 and "tokn" in r.json()["error"]["message"]


def test_postgresql_test(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    from sqlalchemy.engine import make_url

    pg = make_url(PG_ADMIN_URL)

    def check(fields: dict[str, Any]) -> dict[str, Any]:
        slug = unique("pg")
        r = admin.api.post(
            f"/workspaces/{ws}/connections",
            json={"type": "postgresql", "name": slug, "slug": slug, "fields": fields},
        )
        assert r.status_code == 201, r.text
        result: dict[str, Any] = admin.api.post(f"/workspaces/{ws}/connections/{slug}/test").json()
        return result

    base = {
        "host": pg.host,
        "port": pg.port or 5432,
        "username": pg.username,
        "password": "pw-never-shown",
    }
    from tests.conftest import need_service

    need_service("PostgreSQL", "127.0.0.1", 5432)
    ok = check({**base, "database": pg.database})
    assert ok["ok"] is True
    assert re.fullmatch(r"connected to PostgreSQL \d+\.\d+(\.\d+)?", ok["message"]), ok
    missing = check({**base, "database": "no_such_database_here"})
    assert missing == {"ok": False, "message": "database 'no_such_database_here' does not exist"}
    # PostgreSQL's texts name roles, hosts and ports: only our words come back.
    nobody = check({**base, "database": pg.database, "username": "no_such_role_here"})
    assert nobody == {"ok": False, "message": "authentication failed"}
    closed = check({**base, "database": "x", "port": 1})
    assert closed == {"ok": False, "message": "could not connect: connection refused"}
    for result in (ok, missing, nobody, closed):
        assert "pw-never-shown" not in result["message"]


def test_s3_test(world: World, s3_endpoint: str) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    bucket = unique("conn-")
    make_bucket(s3_endpoint, bucket)
    options = s3_options(s3_endpoint)

    def check(bucket_name: str) -> dict[str, Any]:
        slug = unique("s3")
        fields = {
            "bucket": bucket_name,
            "endpoint_url": s3_endpoint,
            "access_key_id": options["key"],
            "secret_access_key": options["secret"],
            "region": "us-east-1",
        }
        r = admin.api.post(
            f"/workspaces/{ws}/connections",
            json={"type": "s3", "name": slug, "slug": slug, "fields": fields},
        )
        assert r.status_code == 201, r.text
        assert r.json()["fields"]["secret_access_key"] == MASK
        result: dict[str, Any] = admin.api.post(f"/workspaces/{ws}/connections/{slug}/test").json()
        return result

    assert check(bucket)["ok"] is True
    missing = check("no-such-bucket-xyz")
    assert missing["ok"] is False and "does not exist" in missing["message"]


def test_custom_connections_keep_chosen_keys_secret(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    r = admin.api.post(
        f"/workspaces/{ws}/connections",
        json={
            "type": "custom",
            "name": "IASO",
            "fields": {"base_url": "https://iaso.example.org", "api_key": "k-123456"},
            "secret_fields": ["api_key"],
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["fields"] == {"base_url": "https://iaso.example.org", "api_key": MASK}
    r = admin.api.patch(
        f"/workspaces/{ws}/connections/iaso", json={"fields": {"base_url": None, "extra": "1"}}
    )
    assert r.json()["fields"] == {"api_key": MASK, "extra": "1"}
    r = admin.api.post(
        f"/workspaces/{ws}/connections",
        json={"type": "custom", "name": "bad", "fields": {"not a key": "1"}},
    )
    assert r.status_code == 400
    r = admin.api.post(f"/workspaces/{ws}/connections/iaso/test")
    assert r.json()["ok"] is False and "cannot be tested" in r.json()["message"]


def test_slug_clash_and_delete(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    body = {"type": "custom", "name": "Same", "fields": {}}
    assert admin.api.post(f"/workspaces/{ws}/connections", json=body).status_code == 201
    assert admin.api.post(f"/workspaces/{ws}/connections", json=body).status_code == 409
    assert admin.api.delete(f"/workspaces/{ws}/connections/same").status_code == 204
    assert admin.api.get(f"/workspaces/{ws}/connections/same").status_code == 404
