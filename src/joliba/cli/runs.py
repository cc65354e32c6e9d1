"""``joliba runs``: show a run, print or follow its logs, cancel it."""

from __future__ import annotations

import json

import typer

from joliba.cli.output import JsonOption, console
from joliba.cli.remote import connect, follow_logs, print_line, report_end, run_path

app = typer.Typer(help="Follow and control pipeline runs.", no_args_is_help=True)

WorkspaceOption = typer.Option(..., "--workspace", "-w", help="Workspace slug")


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="Run id"),
    workspace: str = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """The run's state, parameters, timing and outputs."""
    with connect() as client:
        run = client.get(run_path(workspace, run_id))
    if as_json:
        typer.echo(json.dumps(run, indent=2))
        return
    for key in ("id", "pipeline", "version", "state", "trigger", "triggered_by", "attempt"):
        console.print(f"{key:>14}: {run[key]}", highlight=False)
    for key in ("queued_at", "started_at", "finished_at", "duration_seconds", "error"):
        if run.get(key):
            console.print(f"{key:>14}: {run[key]}", highlight=False)
    console.print(f"{'parameters':>14}: {json.dumps(run['parameters'])}", highlight=False)
    for output in run["outputs"]:
        console.print(f"{'output':>14}: {output['kind']} {output['uri']}", highlight=False)


@app.command("logs")
def logs(
    run_id: str = typer.Argument(..., help="Run id"),
    workspace: str = WorkspaceOption,
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the run ends"),
    search: str = typer.Option("", "--search", help="Only lines containing this text"),
) -> None:
    """Print the run's log; with --follow, exit 0 only if the run succeeded."""
    with connect() as client:
        if follow:
            report_end(follow_logs(client, workspace, run_id))
            return
        after = 0
        while True:
            page = client.get(
                f"{run_path(workspace, run_id)}/logs", after=after, search=search or None
            )
            for line in page["items"]:
                print_line(line)
            if not page["items"]:
                return
            after = page["next_after"]


@app.command("cancel")
def cancel(
    run_id: str = typer.Argument(..., help="Run id"),
    workspace: str = WorkspaceOption,
) -> None:
    """Cancel a queued or running run (its whole process tree is stopped)."""
    with connect() as client:
        run = client.post(f"{run_path(workspace, run_id)}/cancel")
    state = "cancel requested" if run["state"] == "running" else run["state"]
    typer.echo(f"run {run['id']}: {state}")
