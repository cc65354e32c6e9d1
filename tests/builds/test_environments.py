"""Pipeline environments: built once per requirements with uv, offline from a wheel folder."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from joliba.builds.environments import Environments
from joliba.builds.packages import CodeCache
from joliba.builds.sandbox import Sandbox
from joliba.builds.versions import prepare
from joliba.domain.errors import Invalid
from joliba.domain.run_limits import Limits
from joliba.storage.objects import ObjectStore
from tests.conftest import make_settings
from tests.pipeline_helpers import zip_files
from tests.wheels import build_wheel

USES_PACKAGE = """
import jolibatestpkg
from joliba import current_run, pipeline

@pipeline(name="Uses a package")
def uses():
    current_run.log_info(f"value {jolibatestpkg.VALUE}")
"""


@pytest.fixture
def environments(tmp_path: Path) -> Environments:
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "1.0", 42)
    build_wheel(wheels, "2.0", 99)
    return Environments(tmp_path / "envs", index_url="none", find_links=str(wheels))


def _value(python: Path) -> str:
    result = subprocess.run(
        [str(python), "-c", "import jolibatestpkg, joliba; print(jolibatestpkg.VALUE)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_environment_is_built_once_and_shared_by_content(environments: Environments) -> None:
    first = environments.ensure("jolibatestpkg==1.0\n")
    assert _value(first.python) == "42"  # and the server's joliba SDK is importable in it
    marker = first.python.parent.parent / "marker"
    marker.write_text("same folder")
    again = environments.ensure("jolibatestpkg==1.0\n")
    assert again == first and marker.exists()
    other = environments.ensure("jolibatestpkg==2.0\n")
    assert other.key != first.key and _value(other.python) == "99"


def test_no_requirements_runs_on_the_server_interpreter(environments: Environments) -> None:
    assert environments.ensure("").python == environments.base.python
    assert not environments.root.exists()


def test_unresolvable_requirements_fail_with_the_resolver_message(
    environments: Environments,
) -> None:
    with pytest.raises(Invalid) as raised:
        environments.ensure("jolibatestpkg==3.0\n")
    assert "requirements.txt could not be installed" in raised.value.message
    assert "jolibatestpkg" in raised.value.message
    assert environments.get("jolibatestpkg==3.0\n") is None
    leftovers = [p.name for p in environments.root.iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def _sandbox(home: Path) -> dict[str, Any]:
    settings = make_settings(home / "home")
    return {"sandbox": Sandbox(settings), "limits": Limits.from_settings(settings)}


def test_prepare_stores_nothing_when_the_build_fails(
    environments: Environments, tmp_path: Path
) -> None:
    store = ObjectStore(str(tmp_path / "store"))
    code = CodeCache(tmp_path / "code", max_unpacked=10**7)
    archive = tmp_path / "p.zip"
    archive.write_bytes(
        zip_files({"pipeline.py": USES_PACKAGE, "requirements.txt": "jolibatestpkg==7\n"})
    )
    with pytest.raises(Invalid):
        prepare(archive, store=store, environments=environments, code=code, **_sandbox(tmp_path))
    assert not any((tmp_path / "store").rglob("*.zip"))
    assert not (tmp_path / "code").exists() or not any((tmp_path / "code").iterdir())
    archive.write_bytes(
        zip_files({"pipeline.py": USES_PACKAGE, "requirements.txt": "jolibatestpkg==2.0\n"})
    )
    source = prepare(
        archive, store=store, environments=environments, code=code, **_sandbox(tmp_path)
    )
    assert source.spec["name"] == "Uses a package"
    assert source.requirements_sha256
    assert len(list((tmp_path / "store").rglob("*.zip"))) == 1


def _sdist(folder: Path, marker: Path) -> None:
    """evilpkg 1.0 as a source distribution only: building it writes ``marker``."""
    import io
    import tarfile

    setup = f"from pathlib import Path\nPath({str(marker)!r}).write_text('built')\n"
    setup += "from setuptools import setup\nsetup(name='evilpkg', version='1.0')\n"
    files = {
        "evilpkg-1.0/setup.py": setup,
        "evilpkg-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: evilpkg\nVersion: 1.0\n",
    }
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "evilpkg-1.0.tar.gz", "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_no_package_code_runs_on_the_server_while_building(
    environments: Environments, tmp_path: Path
) -> None:
    marker = tmp_path / "built-on-the-server"
    assert environments.find_links is not None
    _sdist(Path(environments.find_links), marker)
    # From the index: only wheels are installed, a source distribution is never built.
    with pytest.raises(Invalid) as raised:
        environments.ensure("evilpkg==1.0\n")
    assert "requirements.txt could not be installed" in raised.value.message
    assert "--no-build" in raised.value.message  # the installer's own reason
    assert "never builds one from source" in raised.value.message
    # From a path or URL: refused before the installer starts.
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "setup.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('built')\n"
    )
    for line in (f"evil @ file://{folder}", f"-e {folder}", str(folder)):
        with pytest.raises(Invalid) as raised:
            environments.ensure(line + "\n")
        assert raised.value.message.startswith("requirements.txt line 1"), raised.value.message
    assert not marker.exists()
    # Wheels still install.
    assert _value(environments.ensure("jolibatestpkg==2.0\n").python) == "99"
