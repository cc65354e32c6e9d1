"""joliba demo"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from joliba.cli.common import console, open_platform


def demo(
    home: Path = typer.Option(
        Path(".joliba-demo"), "--home", help="Demo data folder (ignored when JOLIBA_HOME is set)."
    ),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port"),
    no_serve: bool = typer.Option(False, "--no-serve", help="Seed only, do not start the server."),
) -> None:
    """Set up a demo home with an admin and a sample workspace, then serve it."""
    import uvicorn

    from joliba.app import create_app
    from joliba.runner.demo import finish_run, seed_pipeline
    from joliba.services import demo as demo_service
    from joliba.settings import Settings

    overrides: dict[str, object] = {}
    if "JOLIBA_HOME" not in os.environ:
        overrides["home"] = home
    if "JOLIBA_BASE_URL" not in os.environ:
        overrides["base_url"] = f"http://{host}:{port}"
    settings = Settings(**overrides)  # type: ignore[arg-type]
    url = settings.base_url
    platform = open_platform(settings)
    with platform.db.transaction() as session:
        seeded = demo_service.seed(session, platform)
    run_id = seed_pipeline(platform, seeded.email, seeded.workspace)
    ran = finish_run(platform, run_id) if run_id is not None else ""
    console.print(f"[bold]Joliba demo[/bold] (data in {settings.home.resolve()})")
    console.print(f"  open      {url}/login")
    console.print(f"  email     {seeded.email}")
    console.print(f"  password  {seeded.password}")
    console.print(f"  workspace {url}/w/{seeded.workspace}")
    if ran:
        console.print(f"  pipeline  {url}/w/{seeded.workspace}/pipelines/malaria-report ({ran})")
    if no_serve:
        platform.close()
        return
    uvicorn.run(create_app(platform=platform), host=host, port=port, log_level="warning")
