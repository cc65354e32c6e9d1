"""Archive checks: what a pushed zip may not do, and that refusals leave nothing behind."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from joliba.builds.packages import MAX_MEMBERS, CodeCache, extract, requirements_text
from joliba.domain.errors import Invalid
from tests.pipeline_helpers import zip_files


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "a.zip"
    path.write_bytes(data)
    return path


def test_extracts_a_good_archive(tmp_path: Path) -> None:
    archive = _write(tmp_path, zip_files({"pipeline.py": "x = 1\n", "lib/util.py": "y = 2\n"}))
    extract(archive, tmp_path / "out", max_unpacked=10_000)
    assert (tmp_path / "out" / "lib" / "util.py").read_text() == "y = 2\n"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.py", "escapes"),
        ("/etc/evil.py", "not a relative path"),
        ("a\\..\\evil.py", "not a relative path"),
        ("C:/evil.py", "not a relative path"),
    ],
)
def test_paths_escaping_the_archive_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    archive = _write(tmp_path, zip_files({"pipeline.py": "x = 1", name: "boom"}))
    with pytest.raises(Invalid, match=reason):
        extract(archive, tmp_path / "out", max_unpacked=10_000)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil.py").exists()


def test_symbolic_links_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pipeline.py", "x = 1")
        link = zipfile.ZipInfo("secrets")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    with pytest.raises(Invalid, match="symbolic link"):
        extract(_write(tmp_path, buffer.getvalue()), tmp_path / "out", max_unpacked=10_000)
    assert not (tmp_path / "out").exists()


def test_a_zip_bomb_is_stopped_by_the_declared_and_the_real_size(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pipeline.py", "x = 1")
        archive.writestr("zeros.bin", b"\0" * 50_000_000)
    data = buffer.getvalue()
    assert len(data) < 200_000  # it really is a bomb: tiny packed, huge unpacked
    with pytest.raises(Invalid, match="unpacks to more than"):
        extract(_write(tmp_path, data), tmp_path / "out", max_unpacked=1_000_000)
    assert not (tmp_path / "out").exists()
    # Headers can lie: patch the declared size down, and the count while unpacking stops it.
    lying = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("zeros.bin")
    real = info.file_size.to_bytes(4, "little")
    fake = (1000).to_bytes(4, "little")
    lying = bytearray(bytes(lying).replace(real, fake))
    with pytest.raises(Invalid):
        extract(_write(tmp_path, bytes(lying)), tmp_path / "out", max_unpacked=1_000_000)
    assert not (tmp_path / "out").exists()


def test_too_many_entries_and_duplicates_and_missing_entry_file(tmp_path: Path) -> None:
    many = {f"f{i}.txt": "" for i in range(MAX_MEMBERS + 1)}
    with pytest.raises(Invalid, match="entries"):
        extract(
            _write(tmp_path, zip_files({"pipeline.py": "", **many})),
            tmp_path / "o",
            max_unpacked=10**9,
        )
    with pytest.raises(Invalid, match=r"no pipeline\.py"):
        extract(_write(tmp_path, zip_files({"main.py": ""})), tmp_path / "o", max_unpacked=10**6)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate"):
        archive.writestr("pipeline.py", "a")
        archive.writestr("pipeline.py", "b")
    with pytest.raises(Invalid, match="twice"):
        extract(_write(tmp_path, buffer.getvalue()), tmp_path / "o", max_unpacked=10**6)
    with pytest.raises(Invalid, match="not a zip"):
        extract(_write(tmp_path, b"nope"), tmp_path / "o", max_unpacked=10**6)
    assert not (tmp_path / "o").exists()


def test_code_cache_unpacks_once(tmp_path: Path) -> None:
    cache = CodeCache(tmp_path / "code", max_unpacked=10_000)
    archive = _write(tmp_path, zip_files({"pipeline.py": "x = 1\n"}))
    first = cache.add(archive, "abc")
    (first / "marker").write_text("kept")
    assert cache.add(archive, "abc") == first
    assert (first / "marker").read_text() == "kept"
    assert [p.name for p in (tmp_path / "code").iterdir()] == ["abc"]


def test_requirements_are_normalised(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("# pins\npolars>=1.0  # fast\n\n  httpx\n")
    assert requirements_text(tmp_path) == "polars>=1.0\nhttpx\n"
    assert requirements_text(tmp_path / "missing") == ""
