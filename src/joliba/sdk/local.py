"""Local mode: ``python pipeline.py [-c JSON | -f FILE]`` with no server.

Values come from the command line, the workspace from ``workspace.yaml`` (the current folder
first, then the pipeline's folder; else a default "local" workspace in ``./workspace``), and
events are printed to stderr as ``HH:MM:SS LEVEL message``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joliba.domain.errors import Invalid
from joliba.domain.local_paths import absolute_sqlite_url
from joliba.domain.parameters import CONNECTION_TYPES, validate_values
from joliba.domain.slugs import check_slug
from joliba.sdk.context import RunContext
from joliba.sdk.events import LEVELS, EventWriter, TerminalSink
from joliba.sdk.parameters import bind_values

if TYPE_CHECKING:
    import argparse

    from joliba.sdk.pipeline import Pipeline

WORKSPACE_FILE = "workspace.yaml"
USAGE_ERROR = 2


class WorkspaceFileError(Exception):
    """``workspace.yaml`` cannot be read or has a wrong value."""


def main(pipeline: Pipeline, argv: Sequence[str] | None = None) -> int:
    """Run ``pipeline`` from the command line; return the exit code (0, 1, or 2 for bad input)."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        pipeline.check()
        raw = _config(args)
        values = validate_values(pipeline.parameters, raw)
        context = load_context(_pipeline_folder(pipeline), level=args.log_level)
        bound = bind_values(pipeline.parameters, values, context)
    except (Invalid, WorkspaceFileError, TypeError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return USAGE_ERROR
    return 0 if pipeline.execute(context, bound) else 1


def _parser() -> argparse.ArgumentParser:
    import argparse

    parser = argparse.ArgumentParser(
        prog=Path(sys.argv[0]).name or "pipeline.py",
        description="Run this pipeline locally. Parameters are a JSON object of code: value.",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("-c", "--config", help="parameters as JSON text")
    source.add_argument("-f", "--config-file", help="a JSON file holding the parameters")
    parser.add_argument("--log-level", choices=list(LEVELS), default="info")
    return parser


def _config(args: argparse.Namespace) -> dict[str, Any]:
    if args.config is not None:
        text, where = args.config, "--config"
    elif args.config_file is not None:
        try:
            text = Path(args.config_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise Invalid(
                f"--config-file: cannot read {args.config_file}: {exc.strerror}"
            ) from None
        where = args.config_file
    else:
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise Invalid(f"{where}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise Invalid(f"{where}: expected a JSON object of parameter code: value")
    return data


def _pipeline_folder(pipeline: Pipeline) -> Path | None:
    code = getattr(pipeline.function, "__code__", None)
    return Path(code.co_filename).resolve().parent if code is not None else None


def load_context(pipeline_folder: Path | None = None, *, level: str = "info") -> RunContext:
    """A local context from the first ``workspace.yaml`` found, or the default workspace."""
    events = EventWriter(TerminalSink(LEVELS[level]))
    context = RunContext(events=events, mode="local", log_level=LEVELS[level])
    candidates = [Path.cwd() / WORKSPACE_FILE]
    if pipeline_folder is not None:
        candidates.append(pipeline_folder / WORKSPACE_FILE)
    for path in candidates:
        if path.is_file():
            _apply_workspace_file(context, path)
            return context
    context.files_path = str(Path.cwd() / "workspace")
    return context


def default_context() -> RunContext:
    """The context used when ``current_run`` or ``workspace`` is touched outside any run."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    folder = Path(main_file).resolve().parent if main_file else None
    return load_context(folder)


def _apply_workspace_file(context: RunContext, path: Path) -> None:
    import yaml  # local mode only: `import joliba` stays stdlib-only

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise WorkspaceFileError(f"{path}: cannot read it ({exc})") from None
    if not isinstance(data, dict):
        raise WorkspaceFileError(f"{path}: expected a mapping of settings")
    unknown = sorted(
        str(k) for k in data if k not in ("slug", "files_path", "database_url", "connections")
    )
    if unknown:
        raise WorkspaceFileError(f"{path}: unknown settings: {', '.join(unknown)}")
    try:
        context.workspace_slug = check_slug(str(data.get("slug") or "local"))
    except Invalid as exc:
        raise WorkspaceFileError(f"{path}: {exc}") from None
    files_path = data.get("files_path") or "workspace"
    if not isinstance(files_path, str):
        raise WorkspaceFileError(f"{path}: files_path must be a folder path")
    context.files_path = str((path.parent / Path(files_path).expanduser()).resolve())
    database_url = data.get("database_url")
    if database_url is not None and not isinstance(database_url, str):
        raise WorkspaceFileError(f"{path}: database_url must be text")
    # A relative SQLite file, like files_path, is beside the workspace.yaml.
    context.database_url = database_url and absolute_sqlite_url(database_url, path.parent)
    context.connections = _connections(path, data.get("connections") or {})


def _connections(path: Path, raw: Any) -> dict[str, Any]:
    """``{slug: {type, name?, field: value…}}`` → the platform's ``{type, name, fields}``."""
    if not isinstance(raw, dict):
        raise WorkspaceFileError(f"{path}: connections must map slugs to settings")
    connections: dict[str, Any] = {}
    for slug, entry in raw.items():
        where = f"{path}: connection '{slug}'"
        try:
            check_slug(str(slug))
        except Invalid as exc:
            raise WorkspaceFileError(f"{where}: {exc}") from None
        if not isinstance(entry, dict):
            raise WorkspaceFileError(f"{where}: expected a mapping of fields")
        kind = entry.get("type")
        if kind not in CONNECTION_TYPES:
            known = ", ".join(sorted(CONNECTION_TYPES))
            raise WorkspaceFileError(f"{where}: type must be one of {known}")
        fields = {
            str(k): "" if v is None else str(v)
            for k, v in entry.items()
            if k not in ("type", "name")
        }
        connections[str(slug)] = {
            "type": kind,
            "name": str(entry.get("name") or slug),
            "fields": fields,
        }
    return connections
