"""Where the CLI finds its server and token: the environment, else ``joliba login``'s file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

URL_VARIABLE = "JOLIBA_URL"
TOKEN_VARIABLE = "JOLIBA_TOKEN"  # noqa: S105 (the variable's name)


class NotLoggedIn(Exception):
    pass


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "joliba"


def credentials_file() -> Path:
    return config_dir() / "credentials.json"


def load() -> Credentials:
    url = os.environ.get(URL_VARIABLE, "").strip()
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if not (url and token):
        try:
            saved = json.loads(credentials_file().read_text())
            url = url or str(saved["url"])
            token = token or str(saved["token"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if not (url and token):
        raise NotLoggedIn(
            f"no server to talk to: run 'joliba login --url URL --token TOKEN' or set "
            f"{URL_VARIABLE} and {TOKEN_VARIABLE}"
        )
    return Credentials(url=url.rstrip("/"), token=token)


def save(credentials: Credentials) -> Path:
    """Write the file readable by its owner only (it holds a token)."""
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": credentials.url, "token": credentials.token}, handle)
    os.replace(scratch, path)
    return path
