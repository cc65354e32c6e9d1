"""joliba demo: seed a demo home, start a DHIS2 emulator beside the server, serve both."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from joliba.cli.common import console, open_platform, server_settings

if TYPE_CHECKING:
    from joliba.dhis2.emulator.serve import Background

#: The demo's synthetic country (the same one on every start).
EMULATOR_SEED = 1


def demo(
    home: Path = typer.Option(
        Path(".joliba-demo"), "--home", help="Demo data folder (ignored when JOLIBA_HOME is set)."
    ),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    dhis2_port: int = typer.Option(
        8001,
        "--dhis2-port",
        help="Port of the DHIS2 emulator on 127.0.0.1 (0, or a busy port: any free one).",
    ),
    no_serve: bool = typer.Option(False, "--no-serve", help="Seed only, do not start the server."),
    with_superset: bool = typer.Option(
        False,
        "--with-superset",
        help="Also start Apache Superset (installed on first use) with a dashboard of the "
        "health map, signed in through Joliba.",
    ),
    superset_port: int = typer.Option(
        8088, "--superset-port", help="Superset's port on the same address (0: any free one)."
    ),
) -> None:
    """Set up a demo home with an admin, a sample workspace and a DHIS2 connection to an
    emulator, then serve Joliba and the emulator (and Superset) until stopped."""
    import uvicorn

    from joliba.app import create_app
    from joliba.cli.superset import start_beside
    from joliba.runner.demo import (
        dashboard_when_ready,
        finish_run,
        seed_health_map,
        seed_pipeline,
    )
    from joliba.services import demo as demo_service

    overrides: dict[str, object] = {}
    if "JOLIBA_HOME" not in os.environ:
        overrides["home"] = home
    if "JOLIBA_BASE_URL" not in os.environ:
        overrides["base_url"] = f"http://{host}:{port}"
    if "JOLIBA_CONNECTION_ALLOW_PRIVATE" not in os.environ:
        # The demo's DHIS2 emulator is on 127.0.0.1: its connection must reach it.
        overrides["connection_allow_private"] = True
    if with_superset and superset_port == 0:
        superset_port = free_port(host)
    if with_superset and "JOLIBA_SUPERSET_URL" not in os.environ:
        overrides["superset_url"] = f"http://{host}:{superset_port}"
    settings = server_settings(**overrides)
    url = settings.base_url
    platform = open_platform(settings)
    # The emulator first: the connection records the port it actually got.
    emulator = None if no_serve else start_emulator(dhis2_port)
    dhis2_url = emulator.url if emulator else f"http://127.0.0.1:{dhis2_port}"
    with platform.db.transaction() as session:
        seeded = demo_service.seed(session, platform)
        demo_service.seed_dhis2_connection(session, platform.box, dhis2_url)
    run_id = seed_pipeline(platform, seeded.email, seeded.workspace)
    ran = finish_run(platform, run_id) if run_id is not None else ""
    map_run = None
    if emulator is not None:
        # Queued only: it reads the emulator and publishes through the API, so the server's
        # runner takes it as soon as the server below is up.
        map_run = seed_health_map(
            platform, seeded.email, seeded.workspace, demo_service.DHIS2_SLUG, mapped_element()
        )
    console.print(f"[bold]Joliba demo[/bold] (data in {settings.home.resolve()})")
    console.print(f"  open      {url}/login")
    console.print(f"  email     {seeded.email}")
    console.print(f"  password  {seeded.password}")
    console.print(f"  workspace {url}/w/{seeded.workspace}")
    if ran:
        console.print(f"  pipeline  {url}/w/{seeded.workspace}/pipelines/malaria-report ({ran})")
    if map_run is not None:
        console.print(
            f"  map       {url}/w/{seeded.workspace}/datasets/health-map (its pipeline runs "
            "once the server is up)"
        )
    console.print(
        f"  dhis2     {dhis2_url} (emulator{'' if emulator else ', not started'}; "
        f"connection {demo_service.DHIS2_SLUG}, user admin, password district)"
    )
    if emulator is None:
        platform.close()
        return
    superset = None
    stopping = threading.Event()
    try:
        if with_superset:
            superset = start_beside(settings, host, superset_port)
            console.print(
                f"  superset  {settings.superset_url} (sign in through Joliba; the health "
                "map's dashboard is made once its pipeline has run)"
            )
            dashboard_when_ready(
                platform,
                seeded.workspace,
                lambda path: console.print(f"  dashboard {url}{path}"),
                stopping=stopping,
            )
        # The app reads X-Forwarded-For itself, only from JOLIBA_TRUSTED_PROXIES.
        uvicorn.run(
            create_app(platform=platform),
            host=host,
            port=port,
            log_level="warning",
            proxy_headers=False,
        )
    finally:
        stopping.set()
        emulator.stop()  # nothing of the demo outlives it
        if superset is not None:
            superset.terminate()
            superset.wait(30)


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def mapped_element() -> str:
    """The id of the demo emulator's malaria data element that the health map shows."""
    from joliba.dhis2.emulator import build_country
    from joliba.runner.demo import MAPPED_ELEMENT

    country = build_country(seed=EMULATOR_SEED, scale=1.0)
    found = (e["id"] for e in country.collections["dataElements"] if e["name"] == MAPPED_ELEMENT)
    return str(next(found))


def start_emulator(port: int) -> Background:
    """The DHIS2 emulator on ``port``, or on a free port when that one is taken."""
    from joliba.dhis2.emulator import create_app
    from joliba.dhis2.emulator.serve import Background

    app = create_app(seed=EMULATOR_SEED, scale=1.0)
    for attempt in (port, 0):
        server = Background(app, attempt, name="joliba-demo-dhis2")
        if server.start():
            return server
    raise RuntimeError("the DHIS2 emulator did not start on 127.0.0.1")
