"""What the server-side commands share: settings, the platform, a transaction.

Heavy modules (SQLAlchemy, the services) are imported inside the functions, so that
``joliba`` commands that never touch the database start quickly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from joliba.cli.output import JsonOption, console, errors, print_rows

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from joliba.services.platform import Platform
    from joliba.settings import Settings

__all__ = [
    "JsonOption",
    "console",
    "errors",
    "open_platform",
    "platform_work",
    "print_rows",
    "server_settings",
    "transaction",
]


def server_settings(**overrides: object) -> Settings:
    """The server's settings; a bad one ends the command with one line naming it (exit 2)."""
    from rich.markup import escape

    from joliba.settings import SettingsError, load_settings

    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(2) from None


def open_platform(settings: Settings | None = None, *, migrate: bool = True) -> Platform:
    from joliba.db.migrate import upgrade
    from joliba.services.platform import Platform
    from joliba.settings import prepare_home

    settings = settings or server_settings()
    prepare_home(settings)
    platform = Platform.from_settings(settings)
    if migrate:
        upgrade(platform.db.engine)
    return platform


@contextmanager
def platform_work() -> Iterator[Platform]:
    """Open the platform for a use case that runs its own transactions; domain errors exit
    with code 1."""
    from rich.markup import escape

    from joliba.domain.errors import JolibaError

    platform = open_platform()
    try:
        yield platform
    except JolibaError as exc:
        errors.print(f"[red]error:[/red] {escape(exc.message)}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        platform.close()


@contextmanager
def transaction() -> Iterator[tuple[Platform, Session]]:
    """Open the platform and a write transaction; domain errors exit with code 1."""
    with platform_work() as platform, platform.db.transaction() as session:
        yield platform, session
