"""`joliba superset …` and the demo's Superset: what they refuse, said plainly."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import typer

from joliba.cli.superset import start_beside
from tests.conftest import make_settings


def test_superset_beside_the_demo_refuses_a_port_another_server_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(tmp_path / "home")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(typer.Exit) as ended:
            start_beside(settings, "127.0.0.1", port)
    assert ended.value.exit_code == 1
    said = " ".join(capsys.readouterr().err.split())
    assert f"127.0.0.1:{port} is taken (another Superset?)" in said
    assert "--superset-port" in said
    assert not (tmp_path / "home" / "superset").exists()  # nothing was set up
