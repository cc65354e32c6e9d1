"""``joliba pipelines``: scaffold, push, run and list pipelines on a server."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from joliba.cli.output import JsonOption, errors, print_rows
from joliba.cli.remote import connect, follow_logs, report_end, wait
from joliba.client.archive import ArchiveError, build
from joliba.domain.errors import Invalid
from joliba.domain.parameters import ParameterSpec, parse_assignments
from joliba.domain.slugs import slugify
from joliba.templates import TEMPLATES, write_template

app = typer.Typer(help="Write, push and run pipelines.", no_args_is_help=True)

WorkspaceOption = typer.Option(..., "--workspace", "-w", help="Workspace slug")


@app.command("init")
def init(
    name: str = typer.Argument(..., help="Folder to create, also the pipeline's name"),
    template: str = typer.Option(
        "starter", "--template", "-t", help="What to start from: see `joliba pipelines templates`"
    ),
) -> None:
    """Create a working pipeline folder with a test and a local workspace.yaml."""
    folder = Path(name)
    if template not in TEMPLATES:
        errors.print(f"[red]error:[/red] no template {template!r}: one of {', '.join(TEMPLATES)}")
        raise typer.Exit(2)
    if folder.exists():
        errors.print(f"[red]error:[/red] {folder} already exists")
        raise typer.Exit(1)
    write_template(folder, template, name=folder.name, code=slugify(folder.name) or "pipeline")
    typer.echo(f"created {folder}/ from {template} — see {folder}/README.md")


@app.command("templates")
def templates(as_json: bool = JsonOption) -> None:
    """The built-in pipelines `joliba pipelines init NAME --template T` starts from."""
    rows = [{"template": name, "what it does": what} for name, what in TEMPLATES.items()]
    print_rows(rows, ["template", "what it does"], as_json=as_json)


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            yield chunk


@app.command("push")
def push(
    folder: Path = typer.Argument(..., help="The pipeline folder (with pipeline.py)"),
    workspace: str = WorkspaceOption,
    code: str = typer.Option("", "--code", help="Pipeline code; default: the folder's name"),
    message: str = typer.Option("", "--message", "-m", help="What changed in this version"),
    as_json: bool = JsonOption,
) -> None:
    """Upload the folder as a new version (its requirements are installed once, now)."""
    code = code or slugify(folder.resolve().name)
    with tempfile.TemporaryDirectory(prefix="joliba-push-") as scratch:
        archive = Path(scratch) / "pipeline.zip"
        try:
            packed = build(folder, archive)
        except ArchiveError as exc:
            errors.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None
        errors.print(f"uploading {packed.files} files ({packed.size} bytes) as '{code}'…")
        with connect() as client:
            version = client.upload(
                f"/workspaces/{workspace}/pipelines/{code}/versions",
                _chunks(archive),
                params={"message": message},
            )
    if as_json:
        typer.echo(json.dumps(version, indent=2))
        return
    names = ", ".join(p["code"] for p in version["parameters"]) or "none"
    typer.echo(f"pushed {code} version {version['number']} (parameters: {names})")


@app.command("list")
def list_pipelines(workspace: str = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """The workspace's pipelines with their latest version and last run."""
    with connect() as client:
        page = client.get(f"/workspaces/{workspace}/pipelines", page_size=200)
    rows = [
        {
            "code": p["code"],
            "name": p["name"],
            "version": (p["latest_version"] or {}).get("number"),
            "last run": p["last_run_state"],
        }
        for p in page["items"]
    ]
    print_rows(rows, ["code", "name", "version", "last run"], as_json=as_json)


def _values(
    parameters: list[dict[str, Any]], params: list[str], config: Path | None
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if config is not None:
        try:
            loaded = json.loads(config.read_text())
        except (OSError, ValueError) as exc:
            raise Invalid(f"--config: cannot read {config} as JSON ({exc})") from None
        if not isinstance(loaded, dict):
            raise Invalid("--config: the file must hold a JSON object of parameter values")
        values.update(loaded)
    specs = [ParameterSpec.from_json(p) for p in parameters]
    # A parameter given with --param replaces its value from --config.
    values.update(parse_assignments(specs, params))
    return values


@app.command("run")
def run(
    code: str = typer.Argument(..., help="Pipeline code"),
    workspace: str = WorkspaceOption,
    param: list[str] = typer.Option([], "--param", "-p", help="code=value; repeat for more"),
    config: Path | None = typer.Option(None, "--config", help="JSON file of parameter values"),
    version: int | None = typer.Option(None, "--version", help="Version number (default latest)"),
    wait_: bool = typer.Option(False, "--wait", help="Wait for the end; exit 0 only on success"),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Print the logs live (implies --wait)"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Start a run; parameter values are checked before it is queued."""
    with connect() as client:
        pipeline = client.get(f"/workspaces/{workspace}/pipelines/{code}")
        chosen = pipeline["latest_version"] or {}
        if version is not None:
            chosen = client.get(f"/workspaces/{workspace}/pipelines/{code}/versions/{version}")
        try:
            values = _values(chosen.get("parameters", []), param, config)
        except Invalid as exc:
            errors.print(f"[red]error:[/red] {exc.message}", highlight=False)
            raise typer.Exit(2) from None
        started = client.post(
            f"/workspaces/{workspace}/pipelines/{code}/runs",
            json={"parameters": values, "version": version},
        )
        errors.print(f"run {started['id']} queued", highlight=False)
        if not (wait_ or follow):
            if as_json:
                typer.echo(json.dumps(started, indent=2))
            else:
                typer.echo(started["id"])
            return
        ended = (follow_logs if follow else wait)(client, workspace, started["id"])
    if as_json:
        typer.echo(json.dumps(ended, indent=2))
    report_end(ended)
