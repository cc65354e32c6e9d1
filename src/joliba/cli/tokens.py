"""joliba tokens …"""

from __future__ import annotations

import typer

from joliba.cli.common import transaction

app = typer.Typer(help="Manage API tokens (run on the server).", no_args_is_help=True)


@app.command("create")
def create(
    email: str = typer.Argument(..., help="The user the token acts as."),
    workspace: str | None = typer.Option(
        None, "--workspace", help="Restrict the token to this workspace (slug)."
    ),
    expires_in_days: int | None = typer.Option(
        None, "--expires-in-days", min=1, help="Expire after N days (default: never)."
    ),
    name: str = typer.Option("cli", "--name", help="A name to recognise the token by."),
) -> None:
    """Create a personal API token; the token is printed as the last line."""
    from joliba.services import tokens, users
    from joliba.services.actors import Actor

    with transaction() as (_platform, session):
        user = users.get_by_email(session, email)
        if user is None:
            raise typer.BadParameter(f"no user with email {email}")
        created = tokens.create(
            session,
            Actor(user=user),
            name=name,
            workspace_slug=workspace,
            expires_in_days=expires_in_days,
        )
        scope = f"workspace {workspace}" if workspace else "all of the user's workspaces"
        typer.echo(f"token for {user.email} ({scope}); it is shown only once:")
        typer.echo(created.secret)
