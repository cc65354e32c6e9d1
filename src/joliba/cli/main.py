"""The ``joliba`` command."""

from __future__ import annotations

import typer

from joliba import __version__
from joliba.cli import (
    datasets,
    demo,
    dhis2,
    login,
    pipelines,
    runs,
    server,
    superset,
    tokens,
    users,
    workspaces,
)

app = typer.Typer(
    name="joliba",
    help="Joliba: open data integration for public health.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(server.serve)
app.command("demo")(demo.demo)
app.add_typer(server.db_app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(tokens.app, name="tokens")
app.add_typer(workspaces.app, name="workspaces")
app.command("login")(login.login)
app.add_typer(pipelines.app, name="pipelines")
app.add_typer(runs.app, name="runs")
app.add_typer(datasets.app, name="datasets")
app.add_typer(dhis2.app, name="dhis2")
app.add_typer(superset.app, name="superset")


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
