"""Platforms and servers that talk to the session's shared Superset (tests/fixtures/superset)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext

import pytest

from joliba.app import create_app
from joliba.db.migrate import upgrade
from joliba.services.platform import Platform
from tests.conftest import (
    CI,
    LiveServer,
    World,
    make_settings,
    temporary_postgres_database,
)
from tests.fixtures.pg_cluster import Cluster
from tests.fixtures.superset import SECRET_KEY, SharedSuperset, start_shared
from tests.web.page_client import Pages


@pytest.fixture(scope="session")
def superset(tmp_path_factory: pytest.TempPathFactory) -> SharedSuperset:
    return start_shared(tmp_path_factory.getbasetemp(), CI)


def _platform(
    home_name: str,
    backend: str,
    superset: SharedSuperset,
    tmp_path_factory: pytest.TempPathFactory,
    **more: object,
) -> Iterator[Platform]:
    home = tmp_path_factory.mktemp(home_name)
    with (
        temporary_postgres_database("joliba_superset") if backend == "postgresql" else nullcontext()
    ) as url:
        settings = make_settings(
            home, url, secret_key=SECRET_KEY, superset_url=superset.url, max_runs=0, **more
        )
        platform = Platform.from_settings(settings)
        upgrade(platform.db.engine)
        yield platform
        platform.close()


@pytest.fixture(scope="session")
def ss_platform(
    backend: str, superset: SharedSuperset, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """A platform (SQLite workspace databases) beside the shared Superset."""
    yield from _platform(f"home-ss-{backend}", backend, superset, tmp_path_factory)


@pytest.fixture(scope="session")
def ss_server(ss_platform: Platform) -> Iterator[LiveServer]:
    with LiveServer(create_app(platform=ss_platform)) as live:
        ss_platform.settings.base_url = live.url
        yield live


@pytest.fixture
def ss_world(ss_platform: Platform, ss_server: LiveServer) -> Iterator[World]:
    w = World(ss_platform, ss_server)
    yield w
    w.close()


@pytest.fixture
def ss_pages(ss_server: LiveServer) -> Iterator[Pages]:
    with Pages(ss_server.url, ss_server.transport()) as factory:
        yield factory


@pytest.fixture(scope="session")
def ss_pg_platform(
    backend: str,
    superset: SharedSuperset,
    pg_cluster: Cluster,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Platform]:
    """A platform whose workspaces get PostgreSQL databases on ``pg_cluster``."""
    yield from _platform(
        f"home-ss-pg-{backend}",
        backend,
        superset,
        tmp_path_factory,
        workspace_database_url=pg_cluster.url(),
    )


@pytest.fixture(scope="session")
def ss_pg_server(ss_pg_platform: Platform) -> Iterator[LiveServer]:
    with LiveServer(create_app(platform=ss_pg_platform)) as live:
        ss_pg_platform.settings.base_url = live.url
        yield live


@pytest.fixture
def ss_pg_world(ss_pg_platform: Platform, ss_pg_server: LiveServer) -> Iterator[World]:
    w = World(ss_pg_platform, ss_pg_server)
    yield w
    w.close()
