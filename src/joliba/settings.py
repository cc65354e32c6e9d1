"""Settings read from the environment (prefix ``JOLIBA_``).

Nothing here touches the disk at import time: ``Settings()`` only reads the environment, and
``prepare_home()`` is what creates the data folder and the secret key, called by the edges
(``joliba serve``, the CLI commands, tests) when they start.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from joliba.domain.local_paths import absolute, absolute_folder_url, absolute_sqlite_url
from joliba.domain.proxies import Network, parse_networks

SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name, not a secret)
#: The values JOLIBA_EXECUTOR accepts (a Celery executor comes with scale-out, later).
EXECUTORS = ("process",)


class SettingsError(ValueError):
    """A setting is not valid; the message names each bad one (``JOLIBA_MAX_RUNS: …``)."""


def load_settings(**overrides: Any) -> Settings:
    """The settings from the environment (and ``overrides``), or a :class:`SettingsError`
    that names what is wrong, one line per bad setting; values are never repeated, since
    some are secrets."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = "JOLIBA_" + ".".join(str(part) for part in error["loc"]).upper()
            message = str(error["msg"]).removeprefix("Value error, ")
            lines.append(message if message.startswith(name) else f"{name}: {message}")
        raise SettingsError("; ".join(lines)) from None


class Settings(BaseSettings):
    """Every setting Joliba reads; each is documented in docs/configuration.md."""

    model_config = SettingsConfigDict(env_prefix="JOLIBA_", extra="ignore")

    home: Path = Field(
        default=Path("~/.joliba"),
        description="Data folder: SQLite database, local file storage and the secret key.",
    )
    database_url: str | None = Field(
        default=None,
        description="Metadata database URL (sqlite:///… or postgresql://…). "
        "Default: SQLite file joliba.db in HOME.",
    )
    storage_url: str | None = Field(
        default=None,
        description="Where workspace files live: a local folder or s3://bucket/prefix. "
        "Default: the folder storage/ in HOME.",
    )
    storage_options: dict[str, object] = Field(
        default_factory=dict,
        description="JSON object passed to the fsspec file system, for example "
        '{"endpoint_url": "http://minio:9000", "key": "…", "secret": "…"} for S3.',
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="Key from which the encryption key of connection secrets is derived. "
        "Default: generated on first start into HOME/secret_key (mode 0600).",
    )
    workspace_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of a role with CREATEDB and CREATEROLE (a superuser for "
        "PostGIS): every workspace then gets its own database on that server, with an owner "
        "and a read-only role, which pipeline runs get as workspace.database_url and BI tools "
        "connect with. Default: one SQLite file per workspace in HOME/workspace-databases.",
    )
    executor: Literal["process"] = Field(
        default="process",
        description="How pipeline runs are executed: process starts each run as a child "
        "process of the server, the only executor there is so far.",
    )
    max_runs: int = Field(
        default=4, ge=0, description="Pipeline runs this server executes at once (0: none)."
    )
    max_runs_per_workspace: int = Field(
        default=2, ge=1, description="Pipeline runs of one workspace executing at once."
    )
    run_timeout_seconds: int = Field(
        default=14_400,
        ge=1,
        description="Longest a run may take when its pipeline sets no timeout (seconds).",
    )
    run_lease_seconds: int = Field(
        default=45,
        ge=2,
        description="A running run whose executor has not reported for this long is "
        "marked failed (and retried if its pipeline allows). Heartbeats come 4 times per lease.",
    )
    run_retention_days: int = Field(
        default=90,
        ge=0,
        description="Finished runs and their logs older than this are deleted (0: keep all).",
    )
    sandbox: Literal["on", "off"] = Field(
        default="on",
        description="Run pipeline code (runs, and reading parameters at push) in the bubblewrap "
        "sandbox. off runs it as plain child processes that can reach all the server can; "
        "admins then see a warning on every page.",
    )
    run_allow_hosts: str = Field(
        default="",
        description="Loopback or private hosts runs may reach besides their workspace's "
        "connections: comma-separated host, host:port, address or network (10.0.0.0/8:5432).",
    )
    run_memory_mb: int = Field(
        default=4096,
        ge=0,
        description="Memory (address space) each process of a run may use, in MiB (0: no limit).",
    )
    run_cpu_seconds: int = Field(
        default=0, ge=0, description="CPU time each process of a run may use (0: no limit)."
    )
    run_processes: int = Field(
        default=256,
        ge=0,
        description="Processes and threads a run may have at once (0: no limit).",
    )
    run_file_mb: int = Field(
        default=10_240, ge=0, description="Largest file a run may write, in MiB (0: no limit)."
    )
    run_open_files: int = Field(
        default=1024, ge=0, description="Files a run's process may hold open (0: no limit)."
    )
    workspace_quota_mb: int = Field(
        default=0,
        ge=0,
        description="Disk quota of each workspace's files in MiB, unless an instance admin "
        "sets the workspace's own (0: no quota).",
    )
    run_log_mb: int = Field(
        default=64,
        ge=0,
        description="Log lines one run may keep, in MiB; past it further lines are dropped "
        "with a warning and the run goes on (0: no limit).",
    )
    run_min_free_mb: int = Field(
        default=1024,
        ge=0,
        description="Free disk space (MiB) runs must leave where JOLIBA_HOME and the workspace "
        "files are: below it no run starts and running ones are stopped, so that the "
        "metadata database and uploads keep room (0: no check).",
    )
    max_pipeline_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1024,
        description="Largest pipeline archive accepted at push, and largest it may unpack to "
        "(4x), in bytes.",
    )
    package_index_url: str | None = Field(
        default=None,
        description="Python package index used to build pipeline environments (default: "
        "PyPI; a local mirror for offline servers; none to use only PACKAGE_FIND_LINKS).",
    )
    package_find_links: str | None = Field(
        default=None,
        description="A folder or URL of wheel files that pipeline environments may install from.",
    )
    smtp_url: str | None = Field(
        default=None, description="SMTP server for emails, smtp://user:password@host:port."
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public address of this server, used in links (invitations); https:// "
        "marks cookies Secure and sends Strict-Transport-Security.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks (10.0.0.1, 10.0.0.0/8) of reverse "
        "proxies in front of the server: X-Forwarded-For is read only from them, right-most "
        "untrusted address first. Default: none (the client is the direct peer).",
    )
    map_tile_url: str = Field(
        default="",
        description="A tile server for maps, as https://tiles.example.org/{z}/{x}/{y}.png: "
        "drawn under the shapes, and allowed by the pages' security policy. Default: none, "
        "the boundaries are the map (nothing is fetched from the internet).",
    )
    superset_url: str = Field(
        default="",
        description="Address of the Apache Superset that Joliba set up (joliba superset "
        "serve), as browsers and this server reach it, e.g. http://127.0.0.1:8088: workspace "
        "databases are registered there, people sign in to it through Joliba and workspaces "
        "embed its dashboards. Default: none (no Superset).",
    )
    superset_embed_origins: str = Field(
        default="",
        description="Other sites, besides BASE_URL's, whose pages may frame Superset "
        "(comma-separated origins such as https://portal.sante.gov.ne, a port may be *); "
        "written to Superset's Content-Security-Policy by joliba superset serve.",
    )
    superset_home: Path | None = Field(
        default=None,
        description="Superset's folder: its configuration, Joliba's sign-in module and its "
        "SQLite metadata database. Default: HOME/superset.",
    )
    superset_venv: Path | None = Field(
        default=None,
        description="Superset's own virtual environment (several homes may share one). "
        "Default: the folder venv in SUPERSET_HOME.",
    )
    session_days: int = Field(
        default=14, ge=1, description="How long a browser session lasts after sign-in (days)."
    )
    invitation_days: int = Field(
        default=7, ge=1, description="How long an invitation link stays valid (days)."
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="Failed sign-ins per email (and 4x that per client address) that go "
        "without delay; each further one doubles the wait before the next try (30 s, 1 min, "
        "…; 429 with Retry-After meanwhile). Failures older than a day are forgotten; a "
        "browser or address that signed in to the account before counts only its own.",
    )
    login_window_minutes: int = Field(
        default=15, ge=1, description="The longest wait failed sign-ins impose (minutes)."
    )
    # argon2id cost. The floor is OWASP's minimum for argon2id (19 MiB, 2 passes).
    password_memory_kib: int = Field(
        default=65536,
        ge=19456,
        description="Memory one password hash takes (KiB); passwords are rehashed at sign-in.",
    )
    password_time_cost: int = Field(
        default=3, ge=2, le=20, description="Passes over that memory per password hash."
    )
    max_upload_bytes: int = Field(
        default=0,
        ge=0,
        description="Largest file upload accepted, in bytes; 0 means no limit.",
    )
    max_json_bytes: int = Field(
        default=1_048_576, ge=1024, description="Largest JSON or form request body, in bytes."
    )
    table_memory_mb: int = Field(
        default=512,
        ge=64,
        description="Memory one DuckDB reading of a dataset table (profile, preview, query, "
        "export, diff) may use before it spills to disk, in MiB.",
    )
    profile_workers: int = Field(
        default=1,
        ge=0,
        description="Tables this server profiles at once in the background; 0: none (another "
        "server sharing the database does it).",
    )
    query_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest a dataset or workspace-database SQL query may run before it "
        "is stopped.",
    )
    query_max_rows: int = Field(
        default=10_000,
        ge=1,
        description="Most rows a dataset or workspace-database SQL query returns (the rest "
        "is cut).",
    )
    query_max_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Most bytes of JSON a dataset SQL answer (or a preview page) holds; the "
        "rows past it are cut.",
    )
    connection_allow_private: bool = Field(
        default=False,
        description="Let 'test connection' and the DHIS2 pickers reach loopback, private, "
        "link-local and other internal addresses (refused by default).",
    )
    log_level: str = Field(default="INFO", description="Server log level.")

    # Every path is made absolute here, once: runs, sandbox mounts and subprocesses start in
    # other folders, where a relative path would name another place (or none).
    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return absolute(value)

    @field_validator("database_url")
    @classmethod
    def _absolute_database(cls, value: str | None) -> str | None:
        return None if value is None else absolute_sqlite_url(value)

    @field_validator("workspace_database_url")
    @classmethod
    def _check_workspace_database(cls, value: str | None) -> str | None:
        if value and value.split("://", 1)[0].split("+", 1)[0] not in ("postgresql", "postgres"):
            raise ValueError(
                "JOLIBA_WORKSPACE_DATABASE_URL must be a postgresql:// URL (workspace "
                "databases are SQLite files when it is not set)"
            )
        return value or None

    @field_validator("storage_url", "package_find_links")
    @classmethod
    def _absolute_folder(cls, value: str | None) -> str | None:
        return None if value is None else absolute_folder_url(value)

    @field_validator("executor", mode="before")
    @classmethod
    def _check_executor(cls, value: object) -> object:
        # Refused at start: a run queued for an executor that does not exist never starts.
        if value not in EXECUTORS:
            what = "is not available yet" if value == "celery" else "is not an executor"
            raise ValueError(f"JOLIBA_EXECUTOR={value} {what} (accepted: {', '.join(EXECUTORS)})")
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _check_tiles(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return ""
        parts = urlsplit(value)
        host_ok = bool(parts.hostname) and all(
            c.isalnum() or c in ".-{}" for c in parts.hostname or ""
        )
        if parts.scheme not in ("http", "https") or not host_ok:
            raise ValueError(f"JOLIBA_MAP_TILE_URL must be an http(s) URL, not {value!r}")
        if not all(key in value for key in ("{z}", "{x}", "{y}")):
            raise ValueError("JOLIBA_MAP_TILE_URL must hold {z}, {x} and {y} (a tile's place)")
        return value

    @property
    def map_tile_origin(self) -> str:
        """The tile server's origin (for the pages' img-src), or "" without one."""
        if not self.map_tile_url:
            return ""
        parts = urlsplit(self.map_tile_url)
        host = parts.hostname or ""
        # {s} subdomains (a.tile…, b.tile…) are allowed as a wildcard.
        host = host.replace("{s}", "*")
        return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")

    @field_validator("superset_url")
    @classmethod
    def _check_superset(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"JOLIBA_SUPERSET_URL must be an http(s) URL, not {value!r}")
        return value

    @field_validator("superset_embed_origins")
    @classmethod
    def _check_embed_origins(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-]+(:(\d+|\*))?", item):
                raise ValueError(
                    f"JOLIBA_SUPERSET_EMBED_ORIGINS: {item!r} is not an origin "
                    "(http(s)://host or http(s)://host:port)"
                )
        return value

    @property
    def base_origin(self) -> str:
        """BASE_URL's origin (``https://joliba.sante.ne``), as browsers send it."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def superset_frame_origins(self) -> list[str]:
        """The origins allowed to frame Superset: this server's and the extra ones."""
        extra = [p.strip() for p in self.superset_embed_origins.split(",") if p.strip()]
        return [self.base_origin, *extra]

    @field_validator("superset_home", "superset_venv")
    @classmethod
    def _absolute_superset(cls, value: Path | None) -> Path | None:
        return None if value is None else absolute(value)

    @property
    def resolved_superset_home(self) -> Path:
        return self.superset_home or self.home / "superset"

    @property
    def resolved_superset_venv(self) -> Path:
        return self.superset_venv or self.resolved_superset_home / "venv"

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'joliba.db'}"

    @property
    def resolved_storage_url(self) -> str:
        return self.storage_url or str(self.home / "storage")

    @property
    def runtime_dir(self) -> Path:
        """Pipeline code folders and Python environments (a cache: safe to delete when idle)."""
        return self.home / "runtime"

    @property
    def workspace_databases_dir(self) -> Path:
        """The workspaces' SQLite databases, when no WORKSPACE_DATABASE_URL is set."""
        return self.home / "workspace-databases"

    @property
    def login_window(self) -> timedelta:
        return timedelta(minutes=self.login_window_minutes)

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    def secret_key_value(self) -> str:
        """The secret key; ``prepare_home`` must have run when none was given."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.home / SECRET_KEY_FILE
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            raise RuntimeError(
                f"No secret key: set JOLIBA_SECRET_KEY or run a joliba command that "
                f"prepares {self.home}"
            ) from None


def prepare_home(settings: Settings) -> None:
    """Create the data folder and, when no key is configured, the secret key file (0600)."""
    settings.home.mkdir(parents=True, exist_ok=True)
    if settings.secret_key is not None:
        return
    path = settings.home / SECRET_KEY_FILE
    if path.exists():
        return
    # O_EXCL so two processes starting together cannot write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
