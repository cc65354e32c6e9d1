"""What every command shares: settings, the platform, printing data as tables or JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from joliba.db.migrate import upgrade
from joliba.domain.errors import JolibaError
from joliba.services.platform import Platform
from joliba.settings import Settings, prepare_home

console = Console()
errors = Console(stderr=True)

JsonOption = typer.Option(False, "--json", help="Print JSON instead of a table.")


def open_platform(settings: Settings | None = None, *, migrate: bool = True) -> Platform:
    settings = settings or Settings()
    prepare_home(settings)
    platform = Platform.from_settings(settings)
    if migrate:
        upgrade(platform.db.engine)
    return platform


@contextmanager
def transaction() -> Iterator[tuple[Platform, Session]]:
    """Open the platform and a write transaction; domain errors exit with code 1."""
    platform = open_platform()
    try:
        with platform.db.transaction() as session:
            yield platform, session
    except JolibaError as exc:
        errors.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        platform.close()


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(list(rows), indent=2, default=str))
        return
    table = Table(*columns)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console.print(table)
