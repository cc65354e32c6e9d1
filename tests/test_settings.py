"""Settings come from the environment; the secret key is made once, private; imports do nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from joliba.services.platform import Platform
from joliba.settings import Settings, SettingsError, load_settings, prepare_home
from tests.conftest import LiveServer, variant_server
from tests.fixtures.cli import run_joliba


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


def test_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_the_celery_executor_is_refused_until_it_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOLIBA_EXECUTOR", "celery")
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "JOLIBA_EXECUTOR=celery is not available yet (accepted: process)" in message
    monkeypatch.setenv("JOLIBA_EXECUTOR", "threads")
    with pytest.raises(ValidationError, match=r"JOLIBA_EXECUTOR=threads is not an executor"):
        Settings()
    monkeypatch.setenv("JOLIBA_EXECUTOR", "process")
    assert Settings().executor == "process"


def test_a_bad_setting_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOLIBA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JOLIBA_MAX_RUNS", "many")
    monkeypatch.setenv("JOLIBA_EXECUTOR", "celery")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value) == (
        "JOLIBA_EXECUTOR=celery is not available yet (accepted: process); "
        "JOLIBA_MAX_RUNS: Input should be a valid integer, unable to parse string as an integer"
    )
    # The server commands say it in one line on stderr and exit 2, touching nothing.
    result = run_joliba("workspaces", "list", env=dict(os.environ))
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: {refused.value}"
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "home").exists()


def test_no_broker_setting_is_advertised(monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing reads a broker URL: there is no setting (nor documentation) of one.
    monkeypatch.setenv("JOLIBA_BROKER_URL", "redis://broker:6379/0")
    assert "broker_url" not in Settings.model_fields
    assert not hasattr(Settings(), "broker_url")
    docs = Path(__file__).parents[1] / "docs"
    assert not [p.name for p in docs.glob("*.md") if "BROKER_URL" in p.read_text().upper()]


def test_relative_paths_are_made_absolute_at_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.setenv("JOLIBA_HOME", ".joliba-demo")
    monkeypatch.setenv("JOLIBA_DATABASE_URL", "sqlite:///data/joliba.db?timeout=5")
    monkeypatch.setenv("JOLIBA_STORAGE_URL", "files")
    monkeypatch.setenv("JOLIBA_PACKAGE_FIND_LINKS", "~/wheels")
    settings = Settings()
    monkeypatch.chdir("/")  # what they name must not move with the current folder
    assert settings.home == tmp_path / ".joliba-demo"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/data/joliba.db?timeout=5"
    assert settings.resolved_storage_url == str(tmp_path / "files")
    assert settings.package_find_links == str(tmp_path / "user" / "wheels")
    assert settings.workspace_databases_dir == tmp_path / ".joliba-demo" / "workspace-databases"
    assert settings.runtime_dir.is_absolute()

    monkeypatch.setenv("JOLIBA_STORAGE_URL", "file://files")
    monkeypatch.chdir(tmp_path)
    assert Settings().resolved_storage_url == f"file://{tmp_path}/files"


def test_urls_and_absolute_paths_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("postgresql://db/joliba", "sqlite:////srv/joliba.db", "sqlite://"):
        assert Settings(database_url=url).resolved_database_url == url
    for url in ("s3://bucket/prefix", "/srv/joliba/files", "file:///srv/files"):
        assert Settings(storage_url=url).resolved_storage_url == url
    links = "https://mirror.example.org/wheels/"
    assert Settings(package_find_links=links).package_find_links == links


def test_a_map_tile_server_is_checked_and_allowed_by_the_pages(
    platform: Platform, server: LiveServer, tmp_path: Path
) -> None:
    bad_urls = ("ftp://t/{z}/{x}/{y}.png", "https://t.org/tile.png", "https://a;b/{z}/{x}/{y}")
    for bad in bad_urls:
        with pytest.raises(ValidationError, match="JOLIBA_MAP_TILE_URL"):
            Settings(home=tmp_path, map_tile_url=bad)
    url = "https://{s}.tiles.sante.local:8443/{z}/{x}/{y}.png"
    assert Settings(home=tmp_path, map_tile_url=url).map_tile_origin == (
        "https://*.tiles.sante.local:8443"
    )
    with variant_server(platform, map_tile_url=url) as live, httpx.Client(base_url=live.url) as c:
        policy = c.get("/login").headers["content-security-policy"]
    assert "img-src 'self' data: https://*.tiles.sante.local:8443;" in policy
    with httpx.Client(base_url=server.url) as client:
        plain = client.get("/login").headers["content-security-policy"]
    assert "img-src 'self' data:;" in plain
