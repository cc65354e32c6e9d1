"""Every setting, CLI command and API endpoint is documented."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer.main

from joliba.api.router import create_api
from joliba.cli.main import app as cli_app
from joliba.settings import Settings

DOCS = Path(__file__).parents[1] / "docs"


def test_every_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [n for n in Settings.model_fields if f"`JOLIBA_{n.upper()}`" not in text]
    assert not missing, f"undocumented settings: {missing}"


def _commands(command: Any, prefix: list[str]) -> Iterator[str]:
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from _commands(sub, [*prefix, name])
    else:
        yield " ".join(prefix)


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    names = list(_commands(typer.main.get_command(cli_app), ["joliba"]))
    assert len(names) >= 10
    missing = [n for n in names if f"`{n}" not in text]
    assert not missing, f"undocumented commands: {missing}"


def test_every_endpoint_is_documented() -> None:
    text = (DOCS / "api.md").read_text()
    paths = create_api("docs").openapi()["paths"]
    endpoints = [f"{m.upper()} {p}" for p, ops in paths.items() for m in ops]
    missing = [e for e in endpoints if f"`{e}`" not in text]
    assert not missing, f"undocumented endpoints: {missing}"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    first_block = re.search(r"```\n(.*?)```", readme, re.S)
    assert first_block is not None
    assert "make demo" in first_block.group(1) and "make test" in first_block.group(1)


def test_the_architecture_page_names_modules_that_exist() -> None:
    """docs/architecture.md is where newcomers place code: every module it names is real."""
    text = (DOCS / "architecture.md").read_text()
    named = set(re.findall(r"`([a-z_]+(?:/[a-z_<>]+)*\.py)", text))
    assert len(named) >= 10
    root = Path(__file__).parents[1]
    # Test modules are named from the checkout's root, the others from src/joliba.
    missing = sorted(
        n
        for n in named
        if "<" not in n
        and not (root / n if n.startswith("tests/") else root / "src" / "joliba" / n).is_file()
    )
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"
