"""joliba superset install | serve | sync: Apache Superset beside Joliba (docs/bi.md)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from joliba.cli.common import console, errors, platform_work, server_settings

if TYPE_CHECKING:
    from joliba.builds.superset import SupersetHome
    from joliba.settings import Settings

app = typer.Typer(help="Apache Superset beside Joliba: set up, serve, sync.", no_args_is_help=True)

DEFAULT_PORT = 8088


def superset_home(settings: Settings, venv: Path | None = None) -> SupersetHome:
    from joliba.builds.superset import SupersetHome

    return SupersetHome(
        home=settings.resolved_superset_home, venv=venv or settings.resolved_superset_venv
    )


def superset_url(settings: Settings, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> str:
    return settings.superset_url or f"http://{host}:{port}"


def prepare(settings: Settings, home: SupersetHome, url: str) -> None:
    """Write Superset's configuration for this Joliba and bring its database up to date."""
    from joliba.builds.superset import Keys
    from joliba.settings import prepare_home

    prepare_home(settings)
    keys = Keys.derive(settings.secret_key_value())
    home.configure(
        keys,
        joliba_url=settings.base_url,
        superset_url=url,
        frame_origins=settings.superset_frame_origins,
    )
    home.initialise(keys, echo=lambda step: console.print(f"  {step}"))


def _fail(exc: Exception) -> typer.Exit:
    from rich.markup import escape

    errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
    return typer.Exit(1)


@app.command("install")
def install(
    venv: Path | None = typer.Option(
        None, "--venv", help="Where to make Superset's environment (default: JOLIBA_SUPERSET_VENV)."
    ),
    no_setup: bool = typer.Option(
        False,
        "--no-setup",
        help="Only the environment: no configuration or metadata database (for an "
        "environment that several homes share).",
    ),
) -> None:
    """Install Apache Superset in its own virtual environment (from PyPI, or the package
    index settings on an offline server) and set it up for this Joliba."""
    from joliba.builds.superset import SupersetError

    settings = server_settings()
    home = superset_home(settings, venv.resolve() if venv else None)
    try:
        home.install(
            index_url=settings.package_index_url,
            find_links=settings.package_find_links,
            echo=lambda line: console.print(line),
        )
        if no_setup:
            return
        prepare(settings, home, superset_url(settings))
    except SupersetError as exc:
        raise _fail(exc) from None
    console.print(f"Superset ready in {home.home}; start it with `joliba superset serve`")


@app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="Port to listen on."),
) -> None:
    """Run Superset (gunicorn) with Joliba's sign-in; set JOLIBA_SUPERSET_URL on Joliba's
    server to its address."""
    from joliba.builds.superset import SupersetError

    settings = server_settings()
    home = superset_home(settings)
    url = superset_url(settings, host, port)
    try:
        prepare(settings, home, url)
    except SupersetError as exc:
        raise _fail(exc) from None
    console.print(f"Superset on {url} (data in {home.home})")
    if not settings.superset_url:
        console.print(f"  on Joliba's server, set JOLIBA_SUPERSET_URL={url}")
    command = home.serve_command(host, port)
    os.execve(command[0], command, home.env())  # noqa: S606 (our own venv's gunicorn)


def start_beside(settings: Settings, host: str, port: int) -> subprocess.Popen[bytes]:
    """Superset as a child process (``joliba demo --with-superset``): installed first if it
    is not, set up, started, and answering ``/health`` when this returns. Its output goes
    to ``superset.log`` in its folder."""
    import httpx

    from joliba.builds.superset import SupersetError

    home = superset_home(settings)
    url = superset_url(settings, host, port)
    if not port_free(host, port):
        # Else another server there would answer /health, and look like this one.
        raise _fail(
            SupersetError(
                f"{host}:{port} is taken (another Superset?): stop it, or choose another "
                "port (--superset-port)"
            )
        )
    try:
        if home.installed_version() is None:
            console.print(f"Installing Superset in {home.venv} (once; about 900 MB)…")
            home.install(
                index_url=settings.package_index_url,
                find_links=settings.package_find_links,
                echo=lambda line: console.print(f"  {line}"),
            )
        console.print("Setting up Superset…")
        prepare(settings, home, url)
    except SupersetError as exc:
        raise _fail(exc) from None
    log = home.home / "superset.log"
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 (our own venv's gunicorn)
            home.serve_command(host, port), env=home.env(), stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise _fail(SupersetError(f"Superset exited with {process.returncode}:\n{tail}"))
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.terminate()
    raise _fail(SupersetError(f"Superset did not answer on {url} within 180 s (see {log})"))


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@app.command("sync")
def sync() -> None:
    """Register every workspace database and its tables in Superset now (the server also
    does it every minute and after each successful run)."""
    from rich.markup import escape

    from joliba.services.superset import required

    with platform_work() as platform:
        report = required(platform.superset).sync()
    for name in report.databases:
        console.print(f"database {name}: registered")
    for name in report.datasets_added:
        console.print(f"dataset {name}: added")
    for name in report.datasets_refreshed:
        console.print(f"dataset {name}: columns refreshed")
    for error in report.errors:
        errors.print(f"[red]error:[/red] {escape(error)}", highlight=False)
    if report.errors:
        raise typer.Exit(1)
    console.print("Superset is in step with the workspace databases")
