"""``joliba datasets``: create, list and show datasets; push files as versions, pull them."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from joliba.cli.output import JsonOption, console, errors, print_rows
from joliba.cli.remote import connect
from joliba.client.api import ApiError
from joliba.client.datasets import DatasetsApi, VersionInfo, sha256_of

if TYPE_CHECKING:
    from rich.progress import Progress

app = typer.Typer(help="Create datasets, push files as versions, pull them.", no_args_is_help=True)

WorkspaceOption = typer.Option(..., "--workspace", "-w", help="Workspace slug")
SlugArgument = typer.Argument(
    ..., help="Dataset slug (source-workspace.slug for one shared with this workspace)"
)


def _size(n: int) -> str:
    from rich.filesize import decimal

    return decimal(n)


@contextmanager
def _progress(label: str, total: int) -> Iterator[tuple[Progress, Any]]:
    """A progress bar over ``total`` bytes, on stderr (stdout stays for --json)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    ) as progress:
        yield progress, progress.add_task(label, total=total)


@app.command("create")
def create(
    name: str = typer.Argument(..., help="The dataset's name"),
    workspace: str = WorkspaceOption,
    slug: str | None = typer.Option(None, "--slug", help="Default: made from the name"),
    description: str = typer.Option("", "--description", help="What it holds"),
    tag: list[str] = typer.Option([], "--tag", "-t", help="A tag; repeat for more"),
    as_json: bool = JsonOption,
) -> None:
    """Create an empty dataset; push files to make its first version."""
    with connect() as client:
        dataset = DatasetsApi(client, workspace).create(
            name, slug=slug, description=description, tags=tag
        )
    if as_json:
        typer.echo(json.dumps(dataset, indent=2))
        return
    typer.echo(f"created dataset {dataset['ref']} in {workspace}")


@app.command("list")
def list_datasets(
    workspace: str = WorkspaceOption,
    search: str = typer.Option("", "--search", help="Only names or slugs containing this"),
    tag: str = typer.Option("", "--tag", "-t", help="Only datasets with this tag"),
    as_json: bool = JsonOption,
) -> None:
    """The workspace's datasets with their latest published version."""
    with connect() as client:
        found = DatasetsApi(client, workspace).list_datasets(search=search, tag=tag)
    if as_json:
        typer.echo(json.dumps(found, indent=2))
        return
    rows = [
        {
            "dataset": d["ref"],
            "name": d["name"],
            "tags": ", ".join(d["tags"]),
            "latest": latest["name"] if (latest := d["latest"]) else "",
            "published": str(latest["published_at"] or "")[:19] if latest else "",
        }
        for d in found
    ]
    print_rows(rows, ["dataset", "name", "tags", "latest", "published"], as_json=False)


def _print_files(version: VersionInfo) -> None:
    rows = [
        {"file": f["name"], "kind": f["kind"], "size": _size(f["size"]), "sha256": f["sha256"]}
        for f in version["files"]
    ]
    print_rows(rows, ["file", "kind", "size", "sha256"], as_json=False)


@app.command("show")
def show(
    slug: str = SlugArgument,
    workspace: str = WorkspaceOption,
    version: str | None = typer.Option(
        None, "--version", "-v", help="A version (number, name or latest): show its files"
    ),
    as_json: bool = JsonOption,
) -> None:
    """A dataset and its versions, or one version with its files."""
    with connect() as client:
        api = DatasetsApi(client, workspace)
        if version is not None:
            chosen = api.get_version(slug, version)
            if as_json:
                typer.echo(json.dumps(chosen, indent=2))
                return
            _print_version(slug, chosen)
            return
        dataset = api.get(slug)
        versions = api.list_versions(slug)
    if as_json:
        typer.echo(json.dumps({**dataset, "versions": versions}, indent=2))
        return
    console.print(f"{'dataset':>12}: {dataset['ref']}", highlight=False)
    console.print(f"{'name':>12}: {dataset['name']}", highlight=False)
    if dataset["shared"]:
        console.print(
            f"{'shared by':>12}: {dataset['workspace']} (read-only here)", highlight=False
        )
    if dataset["description"]:
        console.print(f"{'description':>12}: {dataset['description']}", highlight=False)
    if dataset["tags"]:
        console.print(f"{'tags':>12}: {', '.join(dataset['tags'])}", highlight=False)
    rows = [
        {
            "number": v["number"],
            "name": v["name"],
            "state": v["state"],
            "author": f"run {v['author_run']}" if v["author_run"] else v["author"],
            "published": str(v["published_at"] or "")[:19],
            "changelog": v["changelog"].splitlines()[0] if v["changelog"] else "",
        }
        for v in versions
    ]
    print_rows(rows, ["number", "name", "state", "author", "published", "changelog"], as_json=False)
    latest = dataset["latest"]
    if latest is not None:
        console.print(f"files of the latest version, {latest['name']}:", highlight=False)
        _print_files(latest)
    elif not versions:
        console.print("no version yet: 'joliba datasets push' makes one", highlight=False)


def _print_version(slug: str, version: VersionInfo) -> None:
    console.print(f"{'dataset':>12}: {slug}", highlight=False)
    for key in ("number", "name", "state", "author", "author_run", "created_at", "published_at"):
        if version.get(key) is not None:
            console.print(f"{key:>12}: {version.get(key)}", highlight=False)
    if version["changelog"]:
        console.print(f"{'changelog':>12}: {version['changelog']}", highlight=False)
    _print_files(version)


def _collect(paths: Sequence[Path]) -> list[Path]:
    """The files to push: each file given, and the files directly inside each folder given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            skipped = [p.name for p in path.iterdir() if p.is_dir()]
            if skipped:
                errors.print(
                    f"{path}: sub-folders are not pushed ({', '.join(sorted(skipped))})",
                    highlight=False,
                )
            files.extend(inside)
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"{path}: not a file or folder")
    if not files:
        raise ValueError("no files to push")
    names = [f.name for f in files]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"two files would have the same name in the version: {', '.join(twice)}")
    return files


def _refuse(message: str) -> NoReturn:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


def _prepare(api: DatasetsApi, slug: str, *, create: bool) -> None:
    """Check the dataset can take a version here; with ``create``, create a missing one."""
    try:
        found = api.get(slug)
    except ApiError as exc:
        if exc.status != 404 or not exc.message.startswith("dataset "):
            raise  # e.g. no such workspace
        if not create:
            _refuse(
                f"{exc.message} in workspace '{api.workspace}': push with --create to create "
                "it, or run 'joliba datasets create'"
            )
        api.create(slug, slug=slug)
        errors.print(f"created dataset {slug}", highlight=False)
        return
    if found["shared"]:
        _refuse(
            f"dataset '{slug}' is shared with '{api.workspace}' by '{found['workspace']}' and "
            f"is read-only here: push to it in '{found['workspace']}'"
        )


@app.command("push")
def push(
    slug: str = SlugArgument,
    paths: list[Path] = typer.Argument(..., help="Files, or folders whose files to push"),
    workspace: str = WorkspaceOption,
    name: str = typer.Option("", "--name", help="Version name; default v<number>"),
    changelog: str = typer.Option("", "--changelog", "-m", help="What changed in this version"),
    create: bool = typer.Option(False, "--create", help="Create the dataset if it is missing"),
    as_json: bool = JsonOption,
) -> None:
    """Upload files as a new version and publish it (a failed upload publishes nothing)."""
    try:
        files = _collect(paths)
    except ValueError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    total = sum(f.stat().st_size for f in files)
    with connect() as client:
        api = DatasetsApi(client, workspace)
        _prepare(api, slug, create=create)
        draft = api.create_version(slug, name=name, changelog=changelog)
        label = f"version {draft['name']} of {slug}"
        try:
            with _progress(f"pushing {len(files)} file(s)", total) as (progress, task):
                for path in files:
                    progress.update(task, description=path.name)
                    api.upload_file(
                        slug,
                        draft["number"],
                        path,
                        on_bytes=lambda n: progress.advance(task, n),
                    )
            published = api.publish(slug, draft["number"])
        except (ApiError, OSError) as exc:
            message = exc.message if isinstance(exc, ApiError) else str(exc)
            errors.print(f"[red]error:[/red] {message}", highlight=False)
            errors.print(f"{label} stays an unpublished draft", highlight=False)
            raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps(published, indent=2))
        return
    typer.echo(f"published {label}: {len(files)} file(s), {_size(total)}")


@app.command("pull")
def pull(
    slug: str = SlugArgument,
    workspace: str = WorkspaceOption,
    version: str = typer.Option("latest", "--version", "-v", help="Number, name or latest"),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Folder to write into; default ./SLUG"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Download every file of a version; files already there with the same content stay."""
    folder = output if output is not None else Path(slug)
    written: list[dict[str, Any]] = []
    with connect() as client:
        api = DatasetsApi(client, workspace)
        chosen = api.get_version(slug, version)
        todo = []
        for file in chosen["files"]:
            target = folder / file["name"]
            present = target.is_file() and target.stat().st_size == file["size"]
            if present and sha256_of(target) == file["sha256"]:
                written.append({**file, "path": str(target), "downloaded": False})
            else:
                todo.append(file)
        total = sum(f["size"] for f in todo)
        try:
            with _progress(f"pulling {len(todo)} file(s)", total) as (progress, task):
                for file in todo:
                    progress.update(task, description=file["name"])
                    path = api.download_file(
                        slug,
                        chosen["number"],
                        file["name"],
                        folder / file["name"],
                        sha256=file["sha256"],
                        on_bytes=lambda n: progress.advance(task, n),
                    )
                    written.append({**file, "path": str(path), "downloaded": True})
        except OSError as exc:
            errors.print(f"[red]error:[/red] cannot write into {folder}: {exc}", highlight=False)
            raise typer.Exit(1) from None
    written.sort(key=lambda f: str(f["name"]))
    if as_json:
        typer.echo(json.dumps(written, indent=2))
        return
    kept = len(chosen["files"]) - len(todo)
    note = f" ({kept} already up to date)" if kept else ""
    typer.echo(
        f"pulled {slug} version {chosen['name']}: {len(chosen['files'])} file(s) into "
        f"{folder}{note}"
    )


@app.command("to-table")
def to_table(
    slug: str = SlugArgument,
    workspace: str = WorkspaceOption,
    file: str = typer.Option(..., "--file", "-f", help="A table file of the version"),
    table: str = typer.Option(..., "--table", "-t", help="The table to write"),
    version: str = typer.Option("latest", "--version", "-v", help="Number, name or latest"),
    if_exists: str = typer.Option("replace", "--if-exists", help="replace, append or fail"),
    follow: bool = typer.Option(
        False, "--follow", help="Keep the table in step with each new published version"
    ),
    as_json: bool = JsonOption,
) -> None:
    """Load a table file of a dataset version into the workspace's database."""
    with connect() as client:
        loaded = DatasetsApi(client, workspace).to_table(
            slug, file, table, version=version, if_exists=if_exists, follow=follow
        )
    if as_json:
        typer.echo(json.dumps(loaded, indent=2))
        return
    kept = "; it follows the dataset's new versions" if loaded["following"] else ""
    typer.echo(
        f"loaded {loaded['rows']} rows of {loaded['dataset']} version {loaded['version']} "
        f"({loaded['file']}) into table {loaded['table']}{kept}"
    )
