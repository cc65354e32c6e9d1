"""Joliba and a real Superset: databases registered read-only, tables as datasets, one
sign-in with roles from workspace membership, dashboards listed and embedded per workspace."""

from __future__ import annotations

import base64
import json
import sqlite3
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from sqlalchemy import select

from joliba.domain.errors import Unavailable
from joliba.domain.permissions import Role
from joliba.services.platform import Platform
from joliba.services.superset import sign
from tests.conftest import World
from tests.fixtures.superset import JOLIBA_URL, SharedSuperset
from tests.fixtures.superset_worlds import link_of, workspace_id, write_sqlite_table
from tests.web.page_client import Pages


def superset_session(superset: SharedSuperset, signin_url: str) -> httpx.Client:
    """A browser-like client of Superset, signed in by following Joliba's sign-in URL."""
    client = httpx.Client(base_url=superset.url, timeout=30, follow_redirects=False)
    parts = urlsplit(signin_url)
    answer = client.get(f"{parts.path}?{parts.query}")
    assert answer.status_code == 302, answer.text
    return client


def signed_in_superset(
    pages: Pages, superset: SharedSuperset, email: str, password: str, next_path: str = "/"
) -> httpx.Client:
    page = pages.signed_in(email, password)
    answer = page.get("/superset/signin", params={"next": next_path})
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(f"{superset.url}/joliba/signin?token=")
    client = superset_session(superset, location)
    return client


def visible_databases(client: httpx.Client) -> set[str]:
    answer = client.get("/api/v1/database/", params={"q": "(page_size:100)"})
    assert answer.status_code == 200, answer.text
    return {row["database_name"] for row in answer.json()["result"]}


def test_sync_registers_each_workspace_database_read_only_with_its_tables(
    ss_world: World, ss_platform: Platform
) -> None:
    admin = ss_world.person()
    slug = ss_world.workspace(admin)
    empty = ss_world.workspace(admin)
    write_sqlite_table(ss_platform, slug, "cases", [("Bo", 12), ("Kenema", 30)])
    link = link_of(ss_platform)

    report = link.sync()

    assert slug in report.databases and empty not in report.databases  # no file yet: later
    assert f"{slug}.cases" in report.datasets_added
    databases = {
        row["database_name"]: row
        for row in link.api.every(
            "/api/v1/database/", ["id", "database_name", "allow_dml", "expose_in_sqllab"]
        )
    }
    assert databases[slug]["allow_dml"] is False and databases[slug]["expose_in_sqllab"] is True
    # Superset really reads the table through that registration.
    database_id = databases[slug]["id"]
    answer = link.api.post(
        "/api/v1/sqllab/execute/",
        {"database_id": database_id, "sql": "SELECT sum(cases) AS total FROM cases"},
    )
    assert answer["data"] == [{"total": 42}]
    # ... and cannot write, not even as Superset's Admin (and the file is opened read-only).
    with pytest.raises(Unavailable, match=r"does not allow for DDL/DML"):
        link.api.post(
            "/api/v1/sqllab/execute/",
            {"database_id": database_id, "sql": "DELETE FROM cases"},
        )

    # A second pass changes nothing; a new column refreshes the dataset.
    again = link.sync()
    assert slug not in again.databases and f"{slug}.cases" not in again.datasets_added
    target = ss_platform.databases.target(workspace_id(ss_platform, slug), writable=True)
    with sqlite3.connect(target.path) as con:
        con.execute("ALTER TABLE cases ADD COLUMN deaths INTEGER")
    con.close()
    refreshed = link.sync()
    assert f"{slug}.cases" in refreshed.datasets_refreshed
    datasets = link.api.every("/api/v1/dataset/", ["id", "table_name", "database.id"])
    dataset = next(
        d for d in datasets if d["table_name"] == "cases" and d["database"]["id"] == database_id
    )
    columns = link.api.get(f"/api/v1/dataset/{dataset['id']}")["result"]["columns"]
    assert {c["column_name"] for c in columns} == {"district", "cases", "deaths"}


def test_one_sign_in_gives_members_only_their_workspaces_databases(
    ss_world: World, ss_platform: Platform, ss_pages: Pages, superset: SharedSuperset
) -> None:
    admin = ss_world.person()
    mine, theirs = ss_world.workspace(admin), ss_world.workspace(admin)
    for slug in (mine, theirs):
        write_sqlite_table(ss_platform, slug, "cases", [("Bo", 1)])
    link_of(ss_platform).sync()
    viewer = ss_world.person()
    ss_world.add_member(mine, viewer, Role.VIEWER)

    client = signed_in_superset(ss_pages, superset, viewer.email, viewer.password)
    seen = visible_databases(client)
    assert mine in seen and theirs not in seen
    me = client.get("/api/v1/me/roles/").json()["result"]
    assert {"Gamma", "sql_lab", f"Joliba: {mine}"} <= set(me["roles"])
    assert "Admin" not in me["roles"]
    # SQL Lab reads their own workspace's database and not the other one.
    ids = {
        row["database_name"]: row["id"]
        for row in link_of(ss_platform).api.every("/api/v1/database/", ["id", "database_name"])
    }
    csrf = client.get("/api/v1/security/csrf_token/").json()["result"]
    allowed = client.post(
        "/api/v1/sqllab/execute/",
        json={"database_id": ids[mine], "sql": "SELECT count(*) AS n FROM cases"},
        headers={"X-CSRFToken": csrf, "Referer": superset.url},
    )
    assert allowed.status_code == 200, allowed.text
    refused = client.post(
        "/api/v1/sqllab/execute/",
        json={"database_id": ids[theirs], "sql": "SELECT count(*) AS n FROM cases"},
        headers={"X-CSRFToken": csrf, "Referer": superset.url},
    )
    # Superset does not tell a database it hides from one that does not exist.
    assert refused.status_code >= 400 and "was not found" in refused.text
    client.close()

    # Leaving the workspace takes its data away at the next sign-in.
    with ss_platform.db.transaction() as session:
        from joliba.db.tables import Membership

        membership = session.scalar(
            select(Membership).where(
                Membership.user_id == viewer.user_id,
                Membership.workspace_id == workspace_id(ss_platform, mine),
            )
        )
        assert membership is not None
        session.delete(membership)
    again = signed_in_superset(ss_pages, superset, viewer.email, viewer.password)
    assert mine not in visible_databases(again)
    again.close()

    # Instance admins are Superset admins.
    boss = ss_world.person(superuser=True)
    root = signed_in_superset(ss_pages, superset, boss.email, boss.password)
    assert {mine, theirs} <= visible_databases(root)
    assert "Admin" in root.get("/api/v1/me/roles/").json()["result"]["roles"]
    root.close()


def test_sign_in_tokens_are_single_use_signed_and_short_lived(
    ss_world: World, ss_platform: Platform, superset: SharedSuperset
) -> None:
    person = ss_world.person()
    link = link_of(ss_platform)
    with ss_platform.db.transaction(write=False) as session:
        from joliba.db.tables import User

        user = session.get(User, person.user_id)
        assert user is not None
        url = link.signin_url(user, "/sqllab/")
    parts = urlsplit(url)
    path = f"{parts.path}?{parts.query}"
    with httpx.Client(base_url=superset.url, timeout=30) as client:
        first = client.get(path)
        assert first.status_code == 302 and first.headers["location"].endswith("/sqllab/")
    with httpx.Client(base_url=superset.url, timeout=30) as client:
        assert client.get(path).status_code == 403  # replayed

    # A token whose claims were changed (made an admin) is refused; the same token as
    # signed still works afterwards.
    fresh = parse_qs(urlsplit(link.signin_url(user, "/")).query)["token"][0]
    body, signature = fresh.split(".")
    changed = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    changed["admin"] = True
    forged_body = base64.urlsafe_b64encode(json.dumps(changed).encode()).decode().rstrip("=")
    tampered = f"{forged_body}.{signature}"
    # The shared Superset remembers used nonces across tests: each token here has its own.
    claims = {"username": "x", "email": "x@example.org", "exp": 4102444800}
    forged = sign({**claims, "nonce": uuid.uuid4().hex}, "not the key")
    expired = sign({**claims, "exp": 1, "nonce": uuid.uuid4().hex}, link.keys.signin_key)
    with httpx.Client(base_url=superset.url, timeout=30) as client:
        for bad in (forged, expired, tampered, ""):
            assert client.get("/joliba/signin", params={"token": bad}).status_code == 403
        # An outside address as the place to go after sign-in is never followed.
        outside = sign(
            {**claims, "nonce": uuid.uuid4().hex, "next": "//evil.example/"}, link.keys.signin_key
        )
        answer = client.get("/joliba/signin", params={"token": outside})
        assert answer.status_code == 302 and answer.headers["location"] == "/"
    with httpx.Client(base_url=superset.url, timeout=30) as client:
        assert client.get("/joliba/signin", params={"token": fresh}).status_code == 302
        assert "Admin" not in client.get("/api/v1/me/roles/").json()["result"]["roles"]


def test_superset_sign_in_page_sends_people_to_joliba(superset: SharedSuperset) -> None:
    answer = httpx.get(f"{superset.url}/login/", params={"next": "/sqllab/"})
    assert answer.status_code == 302
    assert answer.headers["location"] == f"{JOLIBA_URL}/superset/signin?next=%2Fsqllab%2F"
    # Someone not signed in who opens a dashboard lands on Joliba's sign-in, by way of it.
    first = httpx.get(f"{superset.url}/superset/welcome/")
    assert first.status_code == 302 and "/login" in first.headers["location"]


def test_a_postgresql_workspace_database_is_registered_with_its_read_only_role(
    ss_pg_world: World, ss_pg_platform: Platform
) -> None:
    admin = ss_pg_world.person()
    slug = ss_pg_world.workspace(admin)
    owner = ss_pg_platform.databases.target(workspace_id(ss_pg_platform, slug), writable=True)
    with psycopg.connect(owner.url, autocommit=True) as con:
        con.execute("CREATE TABLE cases (district text, cases integer)")
        con.execute("INSERT INTO cases VALUES ('Bo', 5), ('Kenema', 7)")
    link = link_of(ss_pg_platform)
    report = link.sync()
    assert slug in report.databases and f"{slug}.cases" in report.datasets_added
    database_id = link.database_id(slug)
    assert database_id is not None
    details = ss_pg_platform.databases.details(None, slug)
    connection = link.api.get(f"/api/v1/database/{database_id}/connection")["result"]
    assert f"//{details.read_only_user}:" in connection["sqlalchemy_uri"]
    answer = link.api.post(
        "/api/v1/sqllab/execute/",
        {"database_id": database_id, "sql": "SELECT sum(cases) AS total FROM cases"},
    )
    assert answer["data"] == [{"total": 12}]

    # A new password for the roles reaches Superset at the next pass.
    ss_pg_platform.databases.rotate(None, slug)
    assert slug in link.sync().databases
    again = link.api.post(
        "/api/v1/sqllab/execute/",
        {"database_id": database_id, "sql": "SELECT count(*) AS n FROM cases"},
    )
    assert again["data"] == [{"n": 2}]
