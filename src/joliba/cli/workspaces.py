"""joliba workspaces …"""

from __future__ import annotations

import typer

from joliba.cli.common import JsonOption, platform_work, print_rows, transaction

app = typer.Typer(help="Manage workspaces (run on the server).", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Display name, e.g. 'Malaria programme'."),
    admin: str = typer.Option(..., "--admin", help="Email of the user who becomes its admin."),
    slug: str | None = typer.Option(None, "--slug", help="URL name (default: from the name)."),
    description: str = typer.Option("", "--description"),
    time_zone: str = typer.Option("UTC", "--time-zone", help="IANA name, e.g. Africa/Niamey."),
) -> None:
    """Create a workspace; the user given with --admin is its first admin."""
    from joliba.services import users, workspaces

    with transaction() as (_platform, session):
        owner = users.get_by_email(session, admin)
        if owner is None:
            raise typer.BadParameter(f"no user with email {admin}", param_hint="--admin")
        workspace = workspaces.create(
            session,
            None,
            name=name,
            slug=slug,
            description=description,
            time_zone=time_zone,
            admin=owner,
        )
        typer.echo(f"created workspace {workspace.slug} (admin {owner.email})")


@app.command("list")
def list_workspaces(as_json: bool = JsonOption) -> None:
    """List every workspace with its number of members."""
    from joliba.services import workspaces

    with transaction() as (_platform, session):
        rows = workspaces.all_with_member_counts(session)
        print_rows(
            [
                {
                    "slug": w.slug,
                    "name": w.name,
                    "time_zone": w.time_zone,
                    "archived": w.archived,
                    "members": count,
                }
                for w, count in rows
            ],
            ["slug", "name", "time_zone", "archived", "members"],
            as_json=as_json,
        )


@app.command("members")
def members_command(
    slug: str = typer.Argument(..., help="Workspace slug."),
    add: str | None = typer.Option(None, "--add", help="Add the user with this email."),
    role: str = typer.Option("viewer", "--role", help="Role for --add: admin, editor, viewer."),
    remove: str | None = typer.Option(None, "--remove", help="Remove the user with this email."),
    as_json: bool = JsonOption,
) -> None:
    """List a workspace's members, or add or remove one."""
    from joliba.domain.errors import NotFound
    from joliba.domain.paging import PageRequest
    from joliba.services import members, users, workspaces

    with transaction() as (_platform, session):
        try:
            workspace = workspaces.by_slug(session, slug)
        except NotFound:
            raise typer.BadParameter(f"no workspace '{slug}'", param_hint="SLUG") from None
        if add:
            user = users.get_by_email(session, add)
            if user is None:
                raise typer.BadParameter(f"no user with email {add}", param_hint="--add")
            members.add(session, None, workspace, user, members.parse_role(role))
            typer.echo(f"added {user.email} as {role}")
        if remove:
            user = users.get_by_email(session, remove)
            if user is None:
                raise typer.BadParameter(f"no user with email {remove}", param_hint="--remove")
            members.remove_user(session, workspace, user)
            typer.echo(f"removed {user.email}")
        if add or remove:
            return
        rows, _total = members.list_members(session, workspace, PageRequest(1, 10_000))
        print_rows(
            [{"email": m.user.email, "name": m.user.name, "role": m.role} for m in rows],
            ["email", "name", "role"],
            as_json=as_json,
        )


@app.command("database")
def database(
    ws: str = typer.Argument(..., help="The workspace's slug."),
    reveal: bool = typer.Option(
        False, "--reveal", help="Show the passwords too (recorded in the audit log)."
    ),
    rotate: bool = typer.Option(
        False, "--rotate", help="Give both roles new passwords first, and show them."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show where a workspace's database is and its roles, for BI tools (docs/bi.md)."""
    import dataclasses
    import json

    with platform_work() as platform:
        if rotate:
            details = platform.databases.rotate(None, ws)
        else:
            details = platform.databases.details(None, ws, reveal=reveal)
    shown = dataclasses.asdict(details)
    if not (reveal or rotate):
        shown = {k: v for k, v in shown.items() if not k.endswith("password")}
    if as_json:
        typer.echo(json.dumps(shown, indent=2, default=str))
        return
    for key, value in shown.items():
        if value not in (None, ""):
            typer.echo(f"{key:20} {value}")
