"""Shared fixtures: real SQLite and PostgreSQL databases, a real HTTP server on 127.0.0.1.

Tests that touch the metadata database take the ``platform`` or ``server`` fixture, which is
parametrised over both backends. PostgreSQL tests skip when no server answers on
127.0.0.1:5432, except under CI=true where they fail instead.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from joliba.app import create_app
from joliba.db.migrate import upgrade
from joliba.domain.permissions import Role
from joliba.services import members, tokens, users, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.settings import Settings, prepare_home
from tests.fixtures.asgi import InProcess
from tests.fixtures.pg_cluster import Cluster, password_cluster
from tests.fixtures.superset import stop_shared
from tests.wheels import build_wheel

CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get(
    "JOLIBA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PASSWORD = "correct horse battery"
BACKENDS = ["sqlite", "postgresql"]


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    if reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if CI:
        pytest.fail(message + " (CI=true: services must be up)")
    pytest.skip(message)


@contextmanager
def temporary_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped when the block ends."""
    need_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1),
        isolation_level="AUTOCOMMIT",
    )
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The PostgreSQL database shared by this test session's tests."""
    with temporary_postgres_database("joliba_test") as url:
        yield url


@pytest.fixture
def fresh_database_url(backend: str) -> Iterator[str | None]:
    """For whole-flow tests that start their own server: None (the default SQLite file in
    the home) or a new, empty PostgreSQL database."""
    if backend == "sqlite":
        yield None
        return
    with temporary_postgres_database("joliba_e2e") as url:
        yield url


def sandbox_problem() -> str | None:
    from joliba.builds.sandbox import Sandbox

    return Sandbox(Settings(sandbox="on")).problem()


#: Pipeline code runs sandboxed in the tests whenever bubblewrap works here; under CI=true it
#: must. Elsewhere (a laptop without bwrap) the tests of pipelines run unsandboxed and the
#: sandbox's own tests skip.
SANDBOX = "on" if CI or sandbox_problem() is None else "off"


@pytest.fixture
def needs_sandbox() -> None:
    problem = sandbox_problem()
    if problem is None:
        return
    if CI:
        pytest.fail(f"the run sandbox cannot be set up (CI=true: it must): {problem}")
    pytest.skip(problem)


def make_settings(home: Path, database_url: str | None = None, **overrides: Any) -> Settings:
    overrides.setdefault("sandbox", SANDBOX)
    # The tests' DHIS2 emulators, moto and PostgreSQL are on 127.0.0.1: connections must
    # reach them (tests of the refusal turn it off).
    overrides.setdefault("connection_allow_private", True)
    # The cheapest password hashing the settings allow (OWASP's argon2id minimum): thousands
    # of test users are made, and the default cost is tried in tests/services/test_passwords.
    overrides.setdefault("password_memory_kib", 19456)
    overrides.setdefault("password_time_cost", 2)
    settings = Settings(home=home, database_url=database_url, **overrides)
    prepare_home(settings)
    return settings


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def platform(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Platform]:
    """One migrated platform per backend for the whole session (tests use unique names)."""
    home = tmp_path_factory.mktemp(f"home-{backend}")
    url = request.getfixturevalue("postgres_database") if backend == "postgresql" else None
    # Pipeline environments install from a local folder of wheels, never from the network.
    wheels = home / "wheels"
    build_wheel(wheels)
    settings = make_settings(
        home,
        url,
        login_max_failures=5,
        package_index_url="none",
        package_find_links=str(wheels),
    )
    platform = Platform.from_settings(settings)
    upgrade(platform.db.engine)
    yield platform
    platform.close()


class LiveServer:
    """uvicorn serving an app on a free port of 127.0.0.1, in a background thread."""

    def __init__(self, app: Any) -> None:
        # As `joliba serve`: the app, not uvicorn, decides what X-Forwarded-For is worth.
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="on",
            proxy_headers=False,
        )
        self.app = app
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        # Our own loop rather than uvicorn's, so in-process clients can reach it.
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.server.serve())
        finally:
            self.loop.close()

    def transport(self) -> InProcess:
        """Requests to this server's app in process, with no socket (tests/fixtures/asgi.py)."""
        return InProcess(self.app, self.loop)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def serving(platform: Platform) -> Iterator[LiveServer]:
    """A live server of ``platform``'s app; as in production, its BASE_URL is then where
    the server is reached (links, run processes)."""
    with LiveServer(create_app(platform=platform)) as live:
        platform.settings.base_url = live.url
        yield live


@contextmanager
def world_of(platform: Platform, server: LiveServer) -> Iterator[World]:
    """A World on ``platform`` whose clients it closes at the end."""
    w = World(platform, server)
    try:
        yield w
    finally:
        w.close()


@pytest.fixture(scope="session")
def server(platform: Platform) -> Iterator[LiveServer]:
    with serving(platform) as live:
        yield live


@contextmanager
def variant_server(platform: Platform, **changes: Any) -> Iterator[LiveServer]:
    """Another server on the same database, storage and key, with some settings changed; it
    runs no pipelines and profiles no tables (the main server does)."""
    settings = platform.settings.model_copy(update={"max_runs": 0, "profile_workers": 0, **changes})
    other = Platform.from_settings(settings)
    with LiveServer(create_app(platform=other)) as live:
        yield live


@pytest.fixture(scope="session")
def proxied_server(platform: Platform) -> Iterator[LiveServer]:
    """A server behind a reverse proxy on 127.0.0.1 (and proxies in 10.0.0.0/8): tests play
    clients from any address by sending X-Forwarded-For."""
    with variant_server(platform, trusted_proxies="127.0.0.1, 10.0.0.0/8") as live:
        yield live


class Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Closable)


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclass
class Person:
    """A user with an API token and an httpx client for the API (and one for pages)."""

    email: str
    password: str
    token: str
    api: httpx.Client
    user_id: uuid.UUID
    extra: dict[str, Any] = field(default_factory=dict)


class World:
    """Factory of users, workspaces and tokens on one backend, through the services."""

    def __init__(self, platform: Platform, server: LiveServer) -> None:
        self.platform = platform
        self.server = server
        self.clients: list[httpx.Client] = []
        self.closing: list[Closable] = []

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        client = httpx.Client(
            base_url=f"{self.server.url}/api/v1",
            headers=headers,
            timeout=30,
            transport=self.server.transport(),
        )
        self.clients.append(client)
        return client

    def person(self, *, superuser: bool = False, workspace_token: str | None = None) -> Person:
        email = f"{unique('u')}@example.org"
        with self.platform.db.transaction() as session:
            user = users.create_user(session, email=email, password=PASSWORD, superuser=superuser)
            created = tokens.create(
                session, Actor(user=user), name="test", workspace_slug=workspace_token
            )
            user_id = user.id
        return Person(email, PASSWORD, created.secret, self.client(created.secret), user_id)

    def workspace(self, admin: Person, slug: str | None = None) -> str:
        slug = slug or unique("ws-")
        with self.platform.db.transaction() as session:
            owner = users.get_by_email(session, admin.email)
            assert owner is not None
            workspaces.create(session, None, name=f"Workspace {slug}", slug=slug, admin=owner)
        return slug

    def add_member(self, slug: str, person: Person, role: Role) -> None:
        from sqlalchemy import select

        from joliba.db.tables import Workspace

        with self.platform.db.transaction() as session:
            ws = session.scalar(select(Workspace).where(Workspace.slug == slug))
            user = users.get_by_email(session, person.email)
            assert ws is not None and user is not None
            members.add(session, None, ws, user, role)

    def token_for(self, person: Person, workspace: str | None) -> str:
        with self.platform.db.transaction() as session:
            user = users.get_by_email(session, person.email)
            assert user is not None
            return tokens.create(
                session, Actor(user=user), name="scoped", workspace_slug=workspace
            ).secret

    def token_id_for(self, person: Person) -> str:
        """Create a token for ``person`` and return its id (for revocation tests)."""
        with self.platform.db.transaction() as session:
            user = users.get_by_email(session, person.email)
            assert user is not None
            return str(tokens.create(session, Actor(user=user), name="extra").token.id)

    def keep(self, closable: C) -> C:
        """Close ``closable`` (a client, a connection) when the test ends."""
        self.closing.append(closable)
        return closable

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for closable in self.closing:
            closable.close()


@pytest.fixture
def world(platform: Platform, server: LiveServer) -> Iterator[World]:
    with world_of(platform, server) as w:
        yield w


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """This worker's PostgreSQL cluster with password authentication (tests/fixtures/pg_cluster)."""
    with password_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def db_platform(
    backend: str, pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """A platform whose workspaces get PostgreSQL databases on ``pg_cluster``. On the
    postgresql backend its metadata database is on that cluster too, as on a one-server
    install, so tests can check that workspace roles cannot open it."""
    home = tmp_path_factory.mktemp(f"home-db-{backend}")
    url = None
    if backend == "postgresql":
        # A name of its own: pytest may tear this fixture down and make it again on the same
        # cluster when it switches backends.
        name = unique("joliba_metadata_")
        with psycopg.connect(pg_cluster.url(), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        url = pg_cluster.url(name)
    wheels = home / "wheels"
    build_wheel(wheels)
    settings = make_settings(
        home,
        url,
        package_index_url="none",
        package_find_links=str(wheels),
        workspace_database_url=pg_cluster.url(),
    )
    platform = Platform.from_settings(settings)
    upgrade(platform.db.engine)
    yield platform
    platform.close()


def metadata_database(world: World) -> str:
    """The name of the PostgreSQL database that holds ``world``'s metadata."""
    url = world.platform.settings.database_url
    assert url is not None and url.startswith("postgresql")
    return url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def db_server(db_platform: Platform) -> Iterator[LiveServer]:
    with serving(db_platform) as live:
        yield live


@pytest.fixture
def db_world(db_platform: Platform, db_server: LiveServer) -> Iterator[World]:
    """A world whose workspaces each have a PostgreSQL database."""
    with world_of(db_platform, db_server) as w:
        yield w


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API (moto's server mode) on 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_options(endpoint: str) -> dict[str, Any]:
    return {
        "endpoint_url": endpoint,
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"region_name": "us-east-1"},
    }


def make_bucket(endpoint: str, bucket: str) -> None:
    import botocore.session

    client = botocore.session.get_session().create_client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)


@pytest.fixture(scope="session")
def s3_platform(
    platform: Platform, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """The same database as ``platform``, with workspace files in an S3 bucket."""
    bucket = unique("bucket-")
    make_bucket(s3_endpoint, bucket)
    settings = make_settings(
        tmp_path_factory.mktemp("home-s3"),
        platform.settings.database_url,
        storage_url=f"s3://{bucket}/joliba",
        storage_options=s3_options(s3_endpoint),
        secret_key=platform.settings.secret_key_value(),
        # Servers sharing a database must share storage; this one only serves files, so it
        # must not run the main platform's pipelines nor profile its tables (their code and
        # blobs are in the other store).
        max_runs=0,
        profile_workers=0,
    )
    if platform.settings.database_url is None:
        settings = settings.model_copy(
            update={"database_url": platform.settings.resolved_database_url}
        )
    s3 = Platform.from_settings(settings)
    yield s3
    s3.close()


@pytest.fixture(scope="session")
def s3_server(s3_platform: Platform) -> Iterator[LiveServer]:
    with LiveServer(create_app(platform=s3_platform)) as live:
        yield live


@pytest.fixture(params=["local", "s3"])
def files_world(
    request: pytest.FixtureRequest, platform: Platform, server: LiveServer
) -> Iterator[World]:
    """A world whose workspace files live on the local disk, then in S3."""
    if request.param == "local":
        w = World(platform, server)
    else:
        w = World(request.getfixturevalue("s3_platform"), request.getfixturevalue("s3_server"))
    yield w
    w.close()


def pytest_unconfigure(config: pytest.Config) -> None:
    """The controller (or a session without xdist) stops the shared Superset, if started."""
    if hasattr(config, "workerinput"):
        return
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is not None and factory._basetemp is not None:
        stop_shared(factory._basetemp)
