"""joliba users …"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from joliba.cli.common import JsonOption, print_rows, transaction

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from joliba.db.tables import User
    from joliba.services.users import Revoked

app = typer.Typer(help="Manage user accounts (run on the server).", no_args_is_help=True)


@app.command("create")
def create(
    email: str = typer.Argument(..., help="The new user's email address."),
    password: str = typer.Option(
        ..., "--password", prompt=True, hide_input=True, help="At least 10 characters."
    ),
    superuser: bool = typer.Option(False, "--superuser", help="May do everything."),
    name: str = typer.Option("", "--name", help="Display name."),
) -> None:
    """Create a user who can sign in with EMAIL and the password."""
    from joliba.services import users

    with transaction() as (_platform, session):
        user = users.create_user(
            session, email=email, password=password, name=name, superuser=superuser
        )
        typer.echo(f"created {'superuser' if superuser else 'user'} {user.email}")


@app.command("list")
def list_users(as_json: bool = JsonOption) -> None:
    """List user accounts."""
    from joliba.domain.paging import PageRequest
    from joliba.services import users

    with transaction() as (_platform, session):
        rows, _total = users.list_users(session, PageRequest(page=1, page_size=10_000))
        print_rows(
            [
                {
                    "email": u.email,
                    "name": u.name,
                    "superuser": u.is_superuser,
                    "active": u.is_active,
                    "created_at": u.created_at.isoformat(),
                }
                for u in rows
            ],
            ["email", "name", "superuser", "active", "created_at"],
            as_json=as_json,
        )


@app.command("set-password")
def set_password(
    email: str = typer.Argument(..., help="The user's email address."),
    password: str = typer.Option(..., "--password", prompt=True, hide_input=True),
) -> None:
    """Reset a user's password: ends their browser sessions and revokes their API tokens and
    dataset tokens."""
    from joliba.services import users

    with transaction() as (_platform, session):
        user = _user(session, email)
        revoked = users.reset_password(session, user, password)
        typer.echo(f"password changed for {user.email}; {_revoked(revoked)}")


@app.command("deactivate")
def deactivate(email: str = typer.Argument(..., help="The user's email address.")) -> None:
    """Stop a user from signing in or using the API: ends their browser sessions and revokes
    their API tokens and dataset tokens."""
    from joliba.services import users

    with transaction() as (_platform, session):
        user = _user(session, email)
        revoked = users.deactivate(session, user)
        typer.echo(f"deactivated {user.email}; {_revoked(revoked)}")


@app.command("activate")
def activate(email: str = typer.Argument(..., help="The user's email address.")) -> None:
    """Let a deactivated user sign in again (their revoked tokens stay revoked)."""
    from joliba.services import users

    with transaction() as (_platform, session):
        user = _user(session, email)
        users.activate(session, user)
        typer.echo(f"activated {user.email}")


def _user(session: Session, email: str) -> User:
    from joliba.services import users

    user = users.get_by_email(session, email)
    if user is None:
        raise typer.BadParameter(f"no user with email {email}")
    return user


def _revoked(revoked: Revoked) -> str:
    return (
        f"browser sessions ended, {revoked.tokens} API token(s) and "
        f"{revoked.dataset_tokens} dataset token(s) revoked"
    )
