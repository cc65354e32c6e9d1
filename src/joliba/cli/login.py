"""``joliba login``: remember a server and a token for the commands that talk to it."""

from __future__ import annotations

import typer

from joliba.cli.output import errors
from joliba.client import credentials
from joliba.client.api import ApiError, Client


def login(
    url: str = typer.Option(..., "--url", help="The server, e.g. https://joliba.example.org"),
    token: str = typer.Option(
        ...,
        "--token",
        help="An API token (jlb_…) from your account page",
        prompt=True,
        hide_input=True,
    ),
) -> None:
    """Check the token against the server, then save both (readable by you only)."""
    with Client(url, token) as client:
        try:
            me = client.get("/me")
        except ApiError as exc:
            errors.print(f"[red]error:[/red] {exc.message}", highlight=False)
            raise typer.Exit(1) from None
    path = credentials.save(credentials.Credentials(url=url.rstrip("/"), token=token))
    typer.echo(f"logged in to {url} as {me['email']} (saved in {path})")
