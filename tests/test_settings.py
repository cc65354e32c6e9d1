"""Settings come from the environment; the secret key is made once, private; imports do nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from joliba.settings import Settings, prepare_home


def test_secret_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    prepare_home(settings)
    key_file = tmp_path / "home" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = settings.secret_key_value()
    assert len(first) >= 40
    prepare_home(settings)
    assert Settings(home=tmp_path / "home").secret_key_value() == first


def test_given_secret_key_writes_no_file(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, secret_key="from-the-environment")
    prepare_home(settings)
    assert not (tmp_path / "secret_key").exists()
    assert settings.secret_key_value() == "from-the-environment"


def test_environment_variables(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JOLIBA_HOME", str(tmp_path))
    monkeypatch.setenv("JOLIBA_STORAGE_URL", "s3://bucket/prefix")
    monkeypatch.setenv("JOLIBA_STORAGE_OPTIONS", '{"endpoint_url": "http://minio:9000"}')
    monkeypatch.setenv("JOLIBA_DATABASE_URL", "postgresql://db/joliba")
    settings = Settings()
    assert settings.home == tmp_path
    assert settings.storage_options == {"endpoint_url": "http://minio:9000"}
    assert settings.resolved_database_url == "postgresql://db/joliba"
    monkeypatch.delenv("JOLIBA_DATABASE_URL")
    assert Settings().resolved_database_url == f"sqlite:///{tmp_path / 'joliba.db'}"


def test_importing_joliba_touches_nothing(tmp_path: Path) -> None:
    home = tmp_path / "never-created"
    code = (
        "import joliba, joliba.app, joliba.cli.main, joliba.api.router, joliba.web.pages, "
        "joliba.services.platform, joliba.db.tables"
    )
    env = {**os.environ, "JOLIBA_HOME": str(home)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=tmp_path)
    assert not home.exists()
    assert not any(tmp_path.iterdir())
