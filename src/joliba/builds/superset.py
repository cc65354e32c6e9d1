"""Apache Superset in a virtual environment of its own, set up and started by Joliba.

Superset pins SQLAlchemy 1.4, pandas 2.1 and Flask-AppBuilder, which Joliba's own
environment cannot hold, so it lives in its own venv (``JOLIBA_SUPERSET_VENV``) and is only
ever run as a child process. Its folder (``HOME/superset``) holds the generated
``superset_config.py``, Joliba's sign-in module (``superset_files/joliba_superset.py``) and
the SQLite metadata database. Every key it needs is derived from Joliba's secret key, so
nothing is typed by hand and both sides always agree.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from joliba.builds.environments import clean_env, download_env, index_args, uv_program

SUPERSET_VERSION = "6.1.0"
#: What ``pip install apache-superset`` alone lacks or gets wrong: rich (``db upgrade``
#: imports it), flask-caching before 2.5 (2.5 breaks Superset's metastore cache), cachetools
#: (``/login/`` imports it; apache/superset#40962), psycopg2 for PostgreSQL databases.
REQUIREMENTS = (
    f"apache-superset=={SUPERSET_VERSION}",
    "rich==15.0.0",
    "cachetools==8.0.2",
    "flask-caching==2.4.1",
    "psycopg2-binary==2.9.13",
)
#: The Admin account of Superset that Joliba's server calls the API as.
SERVICE_USER = "joliba-service"
_BRIDGE = Path(__file__).parent / "superset_files" / "joliba_superset.py"
_INSTALL_TIMEOUT = 1800
_STEP_TIMEOUT = 600


class SupersetError(RuntimeError):
    """Setting up or starting Superset failed; the message says which step and why."""


def _derive(secret: str, purpose: str) -> str:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"joliba superset {purpose}".encode()
    ).derive(secret.encode())
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


@dataclass(frozen=True)
class Keys:
    """Superset's keys, derived from Joliba's secret key (each for one purpose)."""

    secret_key: str  # Superset's own SECRET_KEY (sessions, encrypted database passwords)
    signin_key: str  # signs the sign-in tokens Joliba hands to Superset
    guest_key: str  # signs the guest tokens of embedded dashboards
    service_password: str  # the service account's password

    @classmethod
    def derive(cls, joliba_secret: str) -> Keys:
        return cls(
            secret_key=_derive(joliba_secret, "secret key"),
            signin_key=_derive(joliba_secret, "sign-in"),
            guest_key=_derive(joliba_secret, "guest tokens"),
            service_password=_derive(joliba_secret, "service account"),
        )


@dataclass(frozen=True)
class SupersetHome:
    """One Superset: its environment (``venv``, may be shared by several homes) and its
    folder (``home``: configuration, sign-in module, metadata database)."""

    home: Path
    venv: Path

    @property
    def config(self) -> Path:
        return self.home / "superset_config.py"

    @property
    def metadata(self) -> Path:
        return self.home / "superset.db"

    def bin(self, name: str) -> Path:
        return self.venv / "bin" / name

    @property
    def _installed_marker(self) -> Path:
        return self.venv / ".joliba-superset"

    def installed_version(self) -> str | None:
        """The Superset version Joliba installed in the venv, or None when there is none."""
        try:
            return self._installed_marker.read_text().strip() or None
        except FileNotFoundError:
            return None

    def install(
        self,
        *,
        index_url: str | None = None,
        find_links: str | None = None,
        echo: Callable[[str], None] = lambda _: None,
    ) -> None:
        """Create the venv and install Superset's pinned set into it (from the package
        index settings: a local mirror or a folder of wheels for an offline server)."""
        if self.installed_version() == SUPERSET_VERSION:
            echo(f"Superset {SUPERSET_VERSION} is already installed in {self.venv}")
            if not self.template.exists():
                self._make_template(echo)
            return
        if (self.venv / "pyvenv.cfg").exists():
            shutil.rmtree(self.venv)  # a venv an earlier, failed install left half-made
        elif self.venv.exists():
            raise SupersetError(f"{self.venv} exists and is not a virtual environment")
        echo(f"creating {self.venv}")
        try:
            _run(
                [uv_program(), "venv", "--quiet", "--python", sys.executable, str(self.venv)],
                "venv",
            )
            echo(f"installing {', '.join(REQUIREMENTS)} (about 900 MB)")
            _run(
                [
                    uv_program(),
                    "pip",
                    "install",
                    "--quiet",
                    "--compile-bytecode",  # Superset starts in seconds, not half a minute
                    "--python",
                    str(self.bin("python")),
                    *index_args(index_url, find_links),
                    *REQUIREMENTS,
                ],
                "install",
                timeout=_INSTALL_TIMEOUT,
            )
            self._installed_marker.write_text(SUPERSET_VERSION + "\n")
            self._make_template(echo)
        except SupersetError:
            shutil.rmtree(self.venv, ignore_errors=True)
            raise

    @property
    def template(self) -> Path:
        """A metadata database migrated and set up once per install, which every new home
        starts from (a home's first start then takes seconds, not the migrations' half
        minute). It holds no key and no account."""
        return self.venv / "joliba-metadata-template.db"

    def _make_template(self, echo: Callable[[str], None]) -> None:
        echo("preparing Superset's metadata database (once per install)")
        with tempfile.TemporaryDirectory(prefix="joliba-superset-") as scratch:
            blank = SupersetHome(home=Path(scratch), venv=self.venv)
            url = "http://127.0.0.1"
            blank.configure(
                Keys.derive(secrets.token_urlsafe(32)), joliba_url=url, superset_url=url
            )
            blank._migrate(echo)
            partial = self.template.with_suffix(".partial")
            shutil.copyfile(blank.metadata, partial)
            partial.replace(self.template)

    def _migrate(self, echo: Callable[[str], None]) -> None:
        """``superset db upgrade`` and ``superset init`` on this home's metadata database."""
        env = self.env()
        echo("superset db upgrade")
        _run([str(self.bin("superset")), "db", "upgrade"], "db upgrade", env=env)
        fix_sqlite_metadata(self.metadata)
        echo("superset init")
        _run([str(self.bin("superset")), "init"], "init", env=env)

    def configure(
        self,
        keys: Keys,
        *,
        joliba_url: str,
        superset_url: str,
        frame_origins: list[str] | None = None,
    ) -> None:
        """Write ``superset_config.py`` (mode 0600: it holds keys) and the sign-in module;
        ``frame_origins`` may frame Superset's pages (default: Joliba's origin)."""
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_BRIDGE, self.home / _BRIDGE.name)
        text = config_text(
            keys,
            joliba_url=joliba_url,
            superset_url=superset_url,
            metadata=self.metadata,
            frame_origins=frame_origins or [_origin(joliba_url)],
        )
        fd = os.open(self.config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        self.config.chmod(0o600)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment Superset's commands run with: nothing of Joliba's settings."""
        return clean_env(
            SUPERSET_CONFIG_PATH=str(self.config),
            PYTHONPATH=str(self.home),
            FLASK_APP="superset.app:create_app()",
            **extra,
        )

    def initialise(self, keys: Keys, *, echo: Callable[[str], None] = lambda _: None) -> None:
        """Bring the metadata database up to date and (re)set the service account; skipped
        when nothing changed since the last time (same version, same keys)."""
        if self.installed_version() is None:
            raise SupersetError(
                f"Superset is not installed in {self.venv}: run `joliba superset install`"
            )
        marker = self.home / ".initialised"
        stamp = hashlib.sha256(
            f"{self.installed_version()}\n{keys.service_password}".encode()
        ).hexdigest()
        if marker.exists() and marker.read_text().strip() == stamp:
            return
        if not self.metadata.exists() and self.template.exists():
            echo("metadata database from the install's template")
            shutil.copyfile(self.template, self.metadata)
        else:
            self._migrate(echo)  # a new version, or an install without a template
        echo(f"service account {SERVICE_USER}")
        _run(
            [str(self.bin("python")), str(self.home / _BRIDGE.name), "service-account"],
            "service account",
            env=self.env(
                JOLIBA_SUPERSET_SERVICE_USER=SERVICE_USER,
                JOLIBA_SUPERSET_SERVICE_PASSWORD=keys.service_password,
            ),
        )
        marker.write_text(stamp + "\n")

    def serve_command(self, host: str, port: int, *, threads: int = 8) -> list[str]:
        """Superset under gunicorn: one process (sign-in tokens are single-use within it),
        several threads."""
        return [
            str(self.bin("gunicorn")),
            "--workers=1",
            f"--threads={threads}",
            "--worker-class=gthread",
            "--timeout=120",
            "--keep-alive=5",
            f"--bind={host}:{port}",
            "--limit-request-line=0",
            "--limit-request-field_size=0",
            "superset.app:create_app()",
        ]


def fix_sqlite_metadata(path: Path) -> bool:
    """Drop the ``UNIQUE (table_name)`` that Superset's migrations leave on the ``tables``
    table of a SQLite metadata database (on PostgreSQL they replace it by one per database
    and schema; SQLite cannot drop an unnamed constraint). Without this, two workspaces
    could not both have a table named ``cases``. Rebuilds the table as SQLite's ALTER TABLE
    documentation prescribes; returns whether anything changed."""
    con = sqlite3.connect(path, isolation_level=None)
    try:
        row = con.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'tables'"
        ).fetchone()
        if row is None or not _TABLE_NAME_UNIQUE.search(row[0]):
            return False
        rebuilt = _TABLE_NAME_UNIQUE.sub("", row[0]).replace(
            'CREATE TABLE "tables"', 'CREATE TABLE "tables_rebuilt"', 1
        )
        indexes = [
            sql
            for (sql,) in con.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'tables' "
                "AND sql IS NOT NULL"
            )
        ]
        con.execute("PRAGMA foreign_keys = OFF")
        con.execute("BEGIN IMMEDIATE")
        con.execute(rebuilt)
        con.execute('INSERT INTO "tables_rebuilt" SELECT * FROM "tables"')
        con.execute('DROP TABLE "tables"')
        con.execute('ALTER TABLE "tables_rebuilt" RENAME TO "tables"')
        for sql in indexes:
            con.execute(sql)
        problems = con.execute("PRAGMA foreign_key_check").fetchall()
        if problems:
            con.execute("ROLLBACK")
            raise SupersetError(f"Superset's metadata database: foreign keys broken {problems}")
        con.execute("COMMIT")
        return True
    finally:
        con.close()


_TABLE_NAME_UNIQUE = re.compile(r",\s*UNIQUE \(table_name\)")


def _run(
    command: list[str],
    step: str,
    *,
    env: dict[str, str] | None = None,
    timeout: int = _STEP_TIMEOUT,
) -> None:
    try:
        result = subprocess.run(  # noqa: S603 (fixed programs, arguments we built)
            command,
            capture_output=True,
            text=True,
            env=env or download_env(),
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SupersetError(f"Superset {step}: took longer than {timeout} s") from None
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-3000:]
        raise SupersetError(f"Superset {step} failed:\n{tail}")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def config_text(
    keys: Keys, *, joliba_url: str, superset_url: str, metadata: Path, frame_origins: list[str]
) -> str:
    """The ``superset_config.py`` Joliba writes (values as Python literals)."""
    secure = superset_url.startswith("https://")
    csp = {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
        # Joliba's dashboard pages embed Superset; no other site may.
        "frame-ancestors": ["'self'", *frame_origins],
    }
    talisman = {
        "content_security_policy": csp,
        "content_security_policy_nonce_in": ["script-src"],
        "force_https": False,
        "session_cookie_secure": secure,
        "frame_options": None,  # frame-ancestors above says who may embed
    }
    values = {
        "SECRET_KEY": keys.secret_key,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{metadata}",
        "DATA_DIR": str(metadata.parent),
        "JOLIBA_URL": joliba_url.rstrip("/"),
        "JOLIBA_SIGNIN_KEY": keys.signin_key,
        "FEATURE_FLAGS": {"EMBEDDED_SUPERSET": True},
        "GUEST_ROLE_NAME": "Gamma",
        "GUEST_TOKEN_JWT_SECRET": keys.guest_key,
        # Workspace databases are SQLite files unless JOLIBA_WORKSPACE_DATABASE_URL is set;
        # only Joliba's service account (an Admin) registers databases.
        "PREVENT_UNSAFE_DB_CONNECTIONS": False,
        "TALISMAN_ENABLED": True,
        "TALISMAN_CONFIG": talisman,
        # Not the generic "session": cookies are shared by every port of a host, and
        # Joliba or another site on this host must not overwrite Superset's.
        "SESSION_COOKIE_NAME": "superset_session",
        "SESSION_COOKIE_SECURE": secure,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "MAPBOX_API_KEY": "",
        "SQLLAB_TIMEOUT": 300,
        "SUPERSET_WEBSERVER_TIMEOUT": 120,
        "LANGUAGES": {
            "en": {"flag": "us", "name": "English"},
            "fr": {"flag": "fr", "name": "French"},
        },
    }
    lines = [
        "# Written by Joliba (joliba superset install / serve): edits are overwritten.",
        "# It holds keys derived from Joliba's secret key: keep it private (mode 0600).",
        "import joliba_superset",
        "",
    ]
    lines += [f"{name} = {value!r}" for name, value in values.items()]
    lines += ["", "FLASK_APP_MUTATOR = joliba_superset.init_app", ""]
    return "\n".join(lines)
