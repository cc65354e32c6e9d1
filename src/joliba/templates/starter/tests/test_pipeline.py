"""Run the pipeline locally, as `python pipeline.py` would, and check what it wrote."""

import json
import subprocess
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[1]


def run(config, tmp_path):
    (tmp_path / "workspace.yaml").write_text(f"slug: test\nfiles_path: {tmp_path / 'files'}\n")
    return subprocess.run(
        [sys.executable, str(FOLDER / "pipeline.py"), "-c", json.dumps(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_writes_the_report(tmp_path):
    result = run({"years": [2023, 2024]}, tmp_path)
    assert result.returncode == 0, result.stderr
    report = (tmp_path / "files" / "reports" / "__CODE__.csv").read_text()
    assert report.splitlines() == ["year,cases", "2023,230", "2024,240"]


def test_refuses_a_bad_value(tmp_path):
    result = run({"years": ["soon"]}, tmp_path)
    assert result.returncode != 0
    assert "years" in result.stderr
