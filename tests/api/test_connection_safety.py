"""Server-side requests cannot be abused: silent servers do not starve the pages, internal
addresses are refused unless allowed, errors never relay the far end, and repointing a
connection clears its secrets. Real servers and sockets on 127.0.0.1, both databases."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select

from joliba.app import create_app
from joliba.db.tables import AuditEntry, Connection
from joliba.domain.permissions import Role
from joliba.services import connections
from joliba.services.outbound import AT_ONCE, QUEUE
from joliba.services.platform import Platform
from tests.conftest import LiveServer, World, make_settings, unique
from tests.raw_servers import RawServer, answer, silent
from tests.web.page_client import Pages

SECRET = "Adm1n-only-pa55word"
SYSTEM_INFO = json.dumps({"version": "2.40.1", "systemName": "Recorder"}).encode()
PRIVATE = (
    "is a private or loopback address, which connections may not reach unless an admin "
    "sets JOLIBA_CONNECTION_ALLOW_PRIVATE=true"
)


@pytest.fixture(scope="session")
def strict_platform(
    platform: Platform, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """The same database as ``platform``, with the default JOLIBA_CONNECTION_ALLOW_PRIVATE
    (false): internal addresses are refused."""
    settings = make_settings(
        tmp_path_factory.mktemp("home-strict"),
        platform.settings.database_url or platform.settings.resolved_database_url,
        secret_key=platform.settings.secret_key_value(),
        connection_allow_private=False,
        max_runs=0,
        profile_workers=0,
    )
    strict = Platform.from_settings(settings)
    yield strict
    strict.close()


@pytest.fixture
def strict_world(strict_platform: Platform) -> Iterator[World]:
    with LiveServer(create_app(platform=strict_platform)) as live:
        w = World(strict_platform, live)
        yield w
        w.close()


def _dhis2(api: httpx.Client, ws: str, url: str, **fields: str) -> str:
    slug = unique("c")
    body = {"type": "dhis2", "name": slug, "slug": slug, "fields": {"url": url, **fields}}
    created = api.post(f"/workspaces/{ws}/connections", json=body)
    assert created.status_code == 201, created.text
    return slug


# -- M-2: silent servers cannot starve the pages --------------------------------------------


def test_hanging_checks_leave_the_pages_and_health_answering(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    calls = 45  # as in the review
    with RawServer(silent) as hang:
        slug = _dhis2(admin.api, ws, f"http://127.0.0.1:{hang.port}", token="d2pat_x")
        url = f"/workspaces/{ws}/connections/{slug}/test"
        limits = httpx.Limits(max_connections=calls)
        with (
            httpx.Client(
                base_url=admin.api.base_url, headers=admin.api.headers, timeout=60, limits=limits
            ) as api,
            ThreadPoolExecutor(calls) as callers,
        ):
            tests = [callers.submit(api.post, url) for _ in range(calls)]
            hang.wait_for(AT_ONCE)  # every thread of the outbound pool is held by the server
            health = httpx.get(f"{world.server.url}/api/v1/health", timeout=30)
            page = httpx.get(f"{world.server.url}/login", timeout=30)
            listed = admin.api.get(f"/workspaces/{ws}/connections")
            still_pending = sum(not t.done() for t in tests)
            results = [t.result() for t in tests]
    # Pages, the API and /health answered while the checks were still hanging.
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert page.status_code == 200 and "<form" in page.text
    assert listed.status_code == 200
    assert still_pending >= AT_ONCE
    assert hang.accepted == AT_ONCE  # never more at once than the pool allows
    timed_out = [r for r in results if r.status_code == 200]
    assert [r.json() for r in timed_out] == [{"ok": False, "message": "timed out after 5 s"}] * (
        AT_ONCE
    )
    busy = [r for r in results if r.status_code == 429]
    assert len(busy) == calls - AT_ONCE
    assert all(r.headers["retry-after"] == "5" for r in busy)
    assert busy[0].json()["error"]["code"] == "too_many_requests"
    assert "try again in a few seconds" in busy[0].json()["error"]["message"]
    assert world.platform.outbound.pending == 0
    # Free again: the next test runs at once.
    again = admin.api.post(url).json()
    assert again == {"ok": False, "message": "could not connect: connection refused"}


def test_hanging_searches_and_page_tests_use_the_same_pool(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    with RawServer(silent) as hang, Pages(world.server.url) as pages:
        slug = _dhis2(admin.api, ws, f"http://127.0.0.1:{hang.port}", token="d2pat_x")
        client = pages.signed_in(admin.email, admin.password)
        with ThreadPoolExecutor(AT_ONCE + QUEUE + 1) as callers:
            searches = [
                callers.submit(admin.api.get, f"/workspaces/{ws}/connections/{slug}/dhis2/datasets")
                for _ in range(AT_ONCE)
            ]
            hang.wait_for(AT_ONCE)
            # A page test finds the pool full: it waits its turn briefly, then is told so.
            tested = client.post(f"/w/{ws}/connections/{slug}/test", headers={"HX-Request": "true"})
            assert not all(s.done() for s in searches)
            answers = [s.result() for s in searches]
    assert tested.status_code == 429 and "<html" not in tested.text
    assert "try again in a few seconds" in tested.text
    assert {a.status_code for a in answers} == {502}
    assert answers[0].json()["error"]["message"] == (
        f"DHIS2 connection '{slug}': timed out after 5 s"
    )


# -- M-3: internal addresses, and the far end's words ----------------------------------------


def test_internal_addresses_are_refused_naming_the_setting(strict_world: World) -> None:
    admin = strict_world.person()
    ws = strict_world.workspace(admin)
    with RawServer(answer(200, SYSTEM_INFO)) as target:
        by_address = _dhis2(admin.api, ws, f"http://127.0.0.1:{target.port}", token="d2pat_test")
        by_name = _dhis2(admin.api, ws, f"http://localhost:{target.port}", token="d2pat_test")
        mapped = _dhis2(
            admin.api, ws, f"http://[::ffff:127.0.0.1]:{target.port}", token="d2pat_test"
        )
        for slug, message in (
            (by_address, f"'127.0.0.1' {PRIVATE}"),
            (by_name, f"'localhost' {PRIVATE.replace('is a', 'resolves to a')}"),
            (mapped, f"'::ffff:127.0.0.1' {PRIVATE}"),
        ):
            result = admin.api.post(f"/workspaces/{ws}/connections/{slug}/test").json()
            assert result == {"ok": False, "message": message}
        searched = admin.api.get(f"/workspaces/{ws}/connections/{by_address}/dhis2/datasets")
        assert searched.status_code == 400
        assert searched.json()["error"]["message"] == (
            f"DHIS2 connection '{by_address}': '127.0.0.1' {PRIVATE}"
        )
        assert target.accepted == 0  # nothing was sent there

    # The local PostgreSQL that trusted "postgres" without a password is out of reach.
    slug = unique("pg")
    fields = {"host": "127.0.0.1", "port": 5432, "database": "postgres", "username": "postgres"}
    created = admin.api.post(
        f"/workspaces/{ws}/connections",
        json={"type": "postgresql", "name": slug, "slug": slug, "fields": fields},
    )
    assert created.status_code == 201, created.text
    result = admin.api.post(f"/workspaces/{ws}/connections/{slug}/test").json()
    assert result == {"ok": False, "message": f"'127.0.0.1' {PRIVATE}"}


def test_pickers_pass_on_only_the_checked_fields(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    foreign = {
        "organisationUnits": [
            {"id": "abcDEF12345", "name": "Malaria", "secret": "x", "href": "http://10.0.0.1"},
            {"id": {"nested": "object"}, "name": "not an id"},
            {"id": "../../etc/passwd", "name": "not a uid"},
            {"id": "okID1234567", "name": "bad\x00name", "level": True, "path": "javascript:x"},
            {
                "id": "unitID12345",
                "name": " Spaced \n name ",
                "level": 2,
                "path": "/a1/unitID12345",
            },
            "not an object",
        ],
        "internal": {"password": "from the far end"},
    }
    with RawServer(answer(200, json.dumps(foreign).encode())) as target:
        slug = _dhis2(admin.api, ws, f"http://127.0.0.1:{target.port}", token="d2pat_test")
        found = admin.api.get(f"/workspaces/{ws}/connections/{slug}/dhis2/org_units")
    assert found.status_code == 200, found.text
    assert found.json() == {
        "items": [
            {"id": "abcDEF12345", "name": "Malaria"},
            {"id": "okID1234567", "name": "okID1234567"},
            {"id": "unitID12345", "name": "Spaced name", "level": 2, "path": "/a1/unitID12345"},
        ]
    }
    assert "far end" not in found.text and "10.0.0.1" not in found.text

    body = b'{"message": "Internal: role postgres on db.internal:5432"}'
    with RawServer(answer(500, body)) as target:
        slug = _dhis2(admin.api, ws, f"http://127.0.0.1:{target.port}", token="d2pat_test")
        failed = admin.api.get(f"/workspaces/{ws}/connections/{slug}/dhis2/datasets")
        tested = admin.api.post(f"/workspaces/{ws}/connections/{slug}/test").json()
    assert failed.status_code == 502
    assert failed.json()["error"]["message"] == (
        f"DHIS2 connection '{slug}': the server answered HTTP 500"
    )
    assert tested == {"ok": False, "message": "the server answered HTTP 500"}
    with RawServer(answer(200, b'{"something": "else"}')) as target:
        slug = _dhis2(admin.api, ws, f"http://127.0.0.1:{target.port}", token="d2pat_test")
        other = admin.api.get(f"/workspaces/{ws}/connections/{slug}/dhis2/datasets")
        tested = admin.api.post(f"/workspaces/{ws}/connections/{slug}/test").json()
    assert other.json()["error"]["message"] == (
        f"DHIS2 connection '{slug}': not a DHIS2 server (no dataSets list in its answer)"
    )
    assert tested == {"ok": False, "message": "not a DHIS2 server (no system/info)"}


# -- M-4: repointing a connection clears its secrets -----------------------------------------


def _basic(header: str) -> str:
    scheme, _, value = header.partition(" ")
    assert scheme == "Basic"
    return base64.b64decode(value).decode()


def test_repointing_the_url_clears_the_password(world: World) -> None:
    admin, editor = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, editor, Role.EDITOR)
    with (
        RawServer(answer(200, SYSTEM_INFO)) as theirs,
        RawServer(answer(200, SYSTEM_INFO)) as elsewhere,
    ):
        slug = _dhis2(
            admin.api, ws, f"http://127.0.0.1:{theirs.port}", username="admin", password=SECRET
        )
        base = f"/workspaces/{ws}/connections/{slug}"
        assert admin.api.post(f"{base}/test").json() == {
            "ok": True,
            "message": "connected to DHIS2 2.40.1 (Recorder)",
        }
        assert [_basic(h) for h in theirs.header_values("authorization")] == [f"admin:{SECRET}"]

        # An editor points the admin's connection at a server of their own...
        moved = editor.api.patch(
            base, json={"fields": {"url": f"http://127.0.0.1:{elsewhere.port}"}}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["cleared_secret_fields"] == ["password"]
        assert moved.json()["notice"] == (
            "the password was cleared because the server URL changed; enter it again"
        )
        assert "password" not in moved.json()["fields"]
        # ...and presses "test": the admin's password is not sent there.
        editor.api.post(f"{base}/test")
        sent = [_basic(h) for h in elsewhere.header_values("authorization")]
        assert sent == ["admin:"]
        assert all(SECRET not in r.decode(errors="replace") for r in elsewhere.requests)

        # A password typed with the new URL is kept, and is what goes there.
        again = editor.api.patch(
            base,
            json={"fields": {"url": f"http://127.0.0.1:{theirs.port}", "password": "typed-anew"}},
        )
        assert again.json()["cleared_secret_fields"] == [] and again.json()["notice"] == ""
        admin.api.post(f"{base}/test")
        assert _basic(theirs.header_values("authorization")[-1]) == "admin:typed-anew"

        # Edits that do not move the connection keep its secrets.
        kept = admin.api.patch(
            base, json={"fields": {"username": "other", "password": "********"}, "name": "x"}
        )
        assert kept.json()["cleared_secret_fields"] == []
        assert kept.json()["fields"]["password"] == "********"
    with world.platform.db.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "connection.update", AuditEntry.target == slug
            )
        ).all()
    assert [e.details.get("cleared") for e in entries].count(["password"]) == 1


@pytest.mark.parametrize(
    ("kind", "fields", "secrets", "moves", "stays"),
    [
        (
            "postgresql",
            {"host": "db.example.org", "port": "5432", "database": "d", "username": "u"},
            {"password": "pg-secret"},
            [{"host": "other.example.org"}, {"port": "6543"}],
            [{"database": "e"}, {"username": "v"}, {"sslmode": "require"}],
        ),
        (
            "s3",
            {"bucket": "b", "access_key_id": "AKID", "endpoint_url": "https://s3.example.org"},
            {"secret_access_key": "s3-secret"},
            [{"endpoint_url": "https://minio.example.net"}],
            [{"bucket": "c"}, {"region": "eu-west-1"}],
        ),
        (
            "custom",
            {"base_url": "https://api.example.org", "extra": "1"},
            {"api_key": "k-secret"},
            [{"base_url": "https://evil.example.net"}, {"extra": "https://evil.example.net"}],
            [{"extra": "2"}, {"base_url": None}],
        ),
    ],
)
def test_what_moves_a_connection_is_read_from_its_fields(
    world: World,
    kind: str,
    fields: dict[str, str],
    secrets: dict[str, str],
    moves: list[dict[str, str]],
    stays: list[dict[str, str | None]],
) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    extra = {"secret_fields": list(secrets)} if kind == "custom" else {}
    for change, cleared in [*((m, list(secrets)) for m in moves), *((s, []) for s in stays)]:
        slug = unique("c")
        created = admin.api.post(
            f"/workspaces/{ws}/connections",
            json={
                "type": kind,
                "name": slug,
                "slug": slug,
                "fields": {**fields, **secrets},
                **extra,
            },
        )
        assert created.status_code == 201, created.text
        edited = admin.api.patch(f"/workspaces/{ws}/connections/{slug}", json={"fields": change})
        assert edited.status_code == 200, edited.text
        assert edited.json()["cleared_secret_fields"] == cleared, change
        assert (edited.json()["notice"] != "") == bool(cleared)
        with world.platform.db.session() as session:
            row = session.scalar(select(Connection).where(Connection.slug == slug))
            assert row is not None
            values = connections.reveal(row, world.platform.box)
        for name, value in secrets.items():
            assert (values.get(name) == value) == (not cleared), change


def test_the_edit_page_says_the_password_was_cleared(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    slug = _dhis2(admin.api, ws, "https://dhis2.example.org", username="admin", password=SECRET)
    with Pages(world.server.url) as pages:
        client = pages.signed_in(admin.email, admin.password)
        saved = client.post(
            f"/w/{ws}/connections/{slug}/edit",
            {
                "name": slug,
                "dhis2.url": "https://elsewhere.example.net",
                "dhis2.username": "admin",
                "dhis2.password": "********",
                "dhis2.token": "",
            },
        )
        assert saved.status_code == 303
        page = client.get(saved.headers["location"]).text
    assert (
        "Connection saved. The password was cleared because the server URL changed; "
        "enter it again." in page
    )
    assert 'name="dhis2.password" value=""' in page
