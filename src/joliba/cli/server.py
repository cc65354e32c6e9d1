"""joliba serve, joliba db …"""

from __future__ import annotations

import typer

from joliba.cli.common import open_platform, platform_work, server_settings

db_app = typer.Typer(
    help="The metadata database and the workspaces' databases.", no_args_is_help=True
)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
) -> None:
    """Run the web pages and the API (migrating the database first)."""
    import uvicorn

    from joliba.app import create_app

    settings = server_settings()
    if "base_url" not in settings.model_fields_set:
        # Runs call the API at BASE_URL: by default, this very server (its token must never
        # go to another one listening on the default port).
        local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
        settings = settings.model_copy(update={"base_url": f"http://{local}:{port}"})
        if local != host:
            typer.secho(
                f"note: links and runs use {settings.base_url}; set JOLIBA_BASE_URL to the "
                "address users reach this server at",
                err=True,
                fg="yellow",
            )
    platform = open_platform(settings)
    typer.echo(f"Joliba on http://{host}:{port} (data in {settings.home})")
    from joliba.builds.sandbox import notice

    warning = notice(settings)
    if warning:
        typer.secho(f"warning: {warning}", err=True, fg="yellow")
    uvicorn.run(
        create_app(platform=platform),
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        # The app reads X-Forwarded-For itself, only from JOLIBA_TRUSTED_PROXIES.
        proxy_headers=False,
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from joliba.db.migrate import current_revision, upgrade

    platform = open_platform()
    upgrade(platform.db.engine)
    typer.echo(f"database at revision {current_revision(platform.db.engine)}")
    platform.close()


@db_app.command("current")
def db_current() -> None:
    """Print the database's revision and the newest one this version knows."""
    from joliba.db.migrate import current_revision, head_revision

    platform = open_platform(migrate=False)
    typer.echo(f"current {current_revision(platform.db.engine)} · head {head_revision()}")
    platform.close()


@db_app.command("workspaces")
def db_workspaces() -> None:
    """Make the PostgreSQL database of every workspace that has none or whose making failed
    (with JOLIBA_WORKSPACE_DATABASE_URL; the server also does it when it starts)."""
    with platform_work() as platform:
        if platform.databases.server is None:
            typer.echo(
                "workspace databases are SQLite files (JOLIBA_WORKSPACE_DATABASE_URL is unset)"
            )
            return
        failed = platform.databases.ensure_all(
            progress=lambda slug, outcome: typer.echo(f"{slug}: {outcome}")
        )
    if failed:
        raise typer.Exit(1)
    typer.echo("every workspace has its database")
