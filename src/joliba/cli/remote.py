"""What the commands that talk to a server share: the client, errors, waiting on a run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from joliba.cli.output import errors
from joliba.client import credentials
from joliba.client.api import ApiError, Client

FINISHED = {"succeeded", "failed", "cancelled", "timed_out", "skipped"}
POLL_SECONDS = 0.5


@contextmanager
def connect() -> Iterator[Client]:
    """A client for the logged-in server; API errors print and exit with code 1."""
    try:
        saved = credentials.load()
    except credentials.NotLoggedIn as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    client = Client(saved.url, saved.token)
    try:
        yield client
    except ApiError as exc:
        fail(exc)
    finally:
        client.close()


def fail(exc: ApiError) -> None:
    errors.print(f"[red]error:[/red] {exc.message}", markup=True, highlight=False)
    raise typer.Exit(1)


def run_path(workspace: str, run_id: str) -> str:
    return f"/workspaces/{workspace}/runs/{run_id}"


def follow_logs(client: Client, workspace: str, run_id: str) -> dict[str, Any]:
    """Print the run's log lines as they arrive until it ends; return the ended run."""
    after = 0
    while True:
        page = client.get(f"{run_path(workspace, run_id)}/logs", after=after)
        for line in page["items"]:
            print_line(line)
        after = page["next_after"]
        if page["finished"]:
            return dict(client.get(run_path(workspace, run_id)))
        if not page["items"]:
            time.sleep(POLL_SECONDS)


def wait(client: Client, workspace: str, run_id: str) -> dict[str, Any]:
    while True:
        run = client.get(run_path(workspace, run_id))
        if run["state"] in FINISHED:
            return dict(run)
        time.sleep(POLL_SECONDS)


def print_line(line: dict[str, Any]) -> None:
    clock = str(line["at"])[11:19]
    level = str(line["level"]).upper()
    typer.echo(f"{clock} {level:<7} {line['message']}", err=line["stream"] == "stderr")


def report_end(run: dict[str, Any]) -> None:
    """One closing line; exit 0 only when the run succeeded."""
    duration = run.get("duration_seconds")
    took = f" in {duration:.1f} s" if isinstance(duration, int | float) else ""
    message = f"run {run['id']} {run['state']}{took}"
    if run["state"] == "succeeded":
        errors.print(f"[green]{message}[/green]", highlight=False)
        return
    detail = f": {run['error']}" if run.get("error") else ""
    errors.print(f"[red]{message}{detail}[/red]", highlight=False)
    raise typer.Exit(1)
