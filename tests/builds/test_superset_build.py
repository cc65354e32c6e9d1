"""Setting Superset up: its keys, the configuration Joliba writes, the SQLite metadata fix, and
a failed install that leaves no environment marked as installed."""

from __future__ import annotations

import ast
import sqlite3
import stat
from pathlib import Path

import pytest

from joliba.builds.superset import (
    REQUIREMENTS,
    Keys,
    SupersetError,
    SupersetHome,
    fix_sqlite_metadata,
)


def test_keys_are_derived_per_purpose_and_the_same_on_both_sides() -> None:
    keys = Keys.derive("one secret")
    assert Keys.derive("one secret") == keys
    values = [keys.secret_key, keys.signin_key, keys.guest_key, keys.service_password]
    assert len(set(values)) == 4 and all(len(v) >= 40 for v in values)
    assert Keys.derive("another secret").signin_key != keys.signin_key


def test_configuration_is_private_and_allows_only_joliba_to_frame_superset(
    tmp_path: Path,
) -> None:
    home = SupersetHome(home=tmp_path / "superset", venv=tmp_path / "venv")
    keys = Keys.derive("s")
    home.configure(
        keys,
        joliba_url="https://joliba.sante.ne/",
        superset_url="https://bi.sante.ne",
        frame_origins=["https://joliba.sante.ne", "https://portail.sante.ne"],
    )
    assert stat.S_IMODE(home.config.stat().st_mode) == 0o600
    assert (home.home / "joliba_superset.py").exists()
    values = {
        node.targets[0].id: ast.literal_eval(node.value)  # type: ignore[attr-defined]
        for node in ast.parse(home.config.read_text()).body
        if isinstance(node, ast.Assign) and not isinstance(node.value, ast.Attribute)
    }
    assert values["SECRET_KEY"] == keys.secret_key
    assert values["JOLIBA_SIGNIN_KEY"] == keys.signin_key
    assert values["GUEST_TOKEN_JWT_SECRET"] == keys.guest_key
    assert values["JOLIBA_URL"] == "https://joliba.sante.ne"
    assert values["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{home.metadata}"
    assert values["FEATURE_FLAGS"]["EMBEDDED_SUPERSET"] is True
    csp = values["TALISMAN_CONFIG"]["content_security_policy"]
    assert csp["frame-ancestors"] == [
        "'self'",
        "https://joliba.sante.ne",
        "https://portail.sante.ne",
    ]
    assert values["SESSION_COOKIE_SECURE"] is True  # an https Superset
    # Its environment carries none of Joliba's settings.
    env = home.env()
    assert env["SUPERSET_CONFIG_PATH"] == str(home.config)
    assert not [k for k in env if k.startswith("JOLIBA_")]


def test_the_sqlite_metadata_loses_its_unique_table_name_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    path = tmp_path / "superset.db"
    with sqlite3.connect(path) as con:
        con.executescript(
            """
            CREATE TABLE dbs (id INTEGER PRIMARY KEY, database_name TEXT, UNIQUE (database_name));
            CREATE TABLE "tables" (
                id INTEGER NOT NULL, table_name VARCHAR(250) NOT NULL, database_id INTEGER,
                PRIMARY KEY (id), CONSTRAINT uq_tables_uuid UNIQUE (id, table_name),
                UNIQUE (table_name), FOREIGN KEY(database_id) REFERENCES dbs (id));
            CREATE INDEX ix_tables_db ON "tables" (database_id);
            CREATE TABLE table_columns (id INTEGER PRIMARY KEY, table_id INTEGER,
                FOREIGN KEY(table_id) REFERENCES "tables" (id));
            INSERT INTO dbs VALUES (1, 'a'), (2, 'b');
            INSERT INTO "tables" VALUES (1, 'cases', 1);
            INSERT INTO table_columns VALUES (1, 1);
            """
        )
    con.close()
    assert fix_sqlite_metadata(path) is True
    assert fix_sqlite_metadata(path) is False  # done once
    with sqlite3.connect(path) as con:
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("INSERT INTO \"tables\" VALUES (2, 'cases', 2)")  # a second workspace's
        assert con.execute('SELECT count(*) FROM "tables"').fetchone() == (2,)
        indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "ix_tables_db" in indexes
        with pytest.raises(sqlite3.IntegrityError):  # the named constraint is kept
            con.execute("INSERT INTO \"tables\" VALUES (2, 'cases', 1)")
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        sql = con.execute("SELECT sql FROM sqlite_master WHERE name = 'table_columns'").fetchone()
        assert '"tables"' in sql[0]
    con.close()


def test_an_install_that_cannot_find_superset_says_so_and_marks_nothing(tmp_path: Path) -> None:
    home = SupersetHome(home=tmp_path / "superset", venv=tmp_path / "venv")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with pytest.raises(SupersetError, match=r"Superset install failed:[\s\S]*apache-superset"):
        home.install(index_url="none", find_links=str(wheels))
    assert home.installed_version() is None
    assert not home.venv.exists()  # nothing half-made is left
    assert REQUIREMENTS[0].startswith("apache-superset==")
