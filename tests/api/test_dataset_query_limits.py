"""Dataset SQL through the API, against what a hostile or careless reader tries: answers cut
at a size limit as well as a row limit, spill folders no query can read, and a query
stopped as soon as its client hangs up."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

from joliba.settings import Settings
from tests.api.test_dataset_tables import CASES, publish, wait_profile
from tests.conftest import World
from tests.fixtures.waiting import eventually

MIB = 1024 * 1024
LONG_QUERY = "SELECT count(*) FROM range(100000000000) a, cases"


@contextmanager
def changed(settings: Settings, **values: Any) -> Iterator[None]:
    before = {name: getattr(settings, name) for name in values}
    for name, value in values.items():
        setattr(settings, name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            setattr(settings, name, value)


def open_request(
    url: str, method: str, path: str, headers: dict[str, str], body: bytes
) -> socket.socket:
    """Send a whole request on a raw socket and leave it waiting for the answer."""
    address = urlsplit(url)
    assert address.hostname and address.port
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {address.netloc}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return sock


def test_answers_are_cut_at_the_byte_limit(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    base = publish(admin.api, ws, "cases", {"cases.csv": CASES})
    settings = world.platform.settings
    # About 50 MB of text matches; the answer holds at most 2 MiB and says why it stops.
    sql = "SELECT repeat('x', 1000) AS text, district FROM cases, range(12500)"
    with changed(settings, query_max_rows=1_000_000, query_max_bytes=2 * MIB):
        cut = admin.api.post(f"{base}/query", json={"sql": sql})
        assert cut.status_code == 200, cut.text
        assert len(cut.content) <= 2 * MIB
        body = cut.json()
        assert body["truncated"] is True and body["truncated_by"] == "bytes"
        assert 1500 < len(body["rows"]) < 2100
        assert body["rows"][0][0] == "x" * 1000
        assert body["tables"] == ["cases"]
    with changed(settings, query_max_rows=3):
        rows = admin.api.post(f"{base}/query", json={"sql": "SELECT * FROM range(10)"}).json()
        assert rows["truncated"] is True and rows["truncated_by"] == "rows"
    whole = admin.api.post(f"{base}/query", json={"sql": "SELECT count(*) AS n FROM cases"})
    assert whole.json()["rows"] == [[4]] and whole.json()["truncated_by"] is None
    # A preview page is bounded the same way, and says so.
    wide = publish(
        admin.api,
        ws,
        "wide",
        {"wide.csv": b"id,text\n" + b"".join(f"{i},{'y' * 5000}\n".encode() for i in range(300))},
    )
    with changed(settings, query_max_bytes=64 * 1024):
        page = admin.api.get(f"{wide}/files/wide.csv/preview", params={"limit": 500})
        assert page.status_code == 200 and len(page.content) <= 64 * 1024
        assert page.json()["truncated"] is True and 0 < len(page.json()["rows"]) < 300
        assert page.json()["total"] == 300


def test_no_query_reads_a_spill_folder(world: World) -> None:
    """Files planted in the spill folders (where DuckDB writes rows that do not fit in
    memory) stay out of reach, whether named, globbed or found from the settings."""
    admin = world.person()
    ws = world.workspace(admin)
    base = publish(admin.api, ws, "cases", {"cases.csv": CASES})
    root = world.platform.tables.spill_root
    root.mkdir(parents=True, exist_ok=True)
    leftover = root / "0123456789abcdef0123456789abcdef"
    leftover.mkdir(exist_ok=True)
    planted = {"csv": leftover / "patients.csv", "parquet": leftover / "patients.parquet"}
    planted["csv"].write_text("name,hiv\nA. Kamara,positive\n")
    duckdb.connect().execute(
        f"COPY (SELECT 'A. Kamara' AS name, 'positive' AS hiv) TO '{planted['parquet']}'"
    )
    try:
        for sql in (
            f"SELECT * FROM read_csv('{planted['csv']}')",
            f"SELECT * FROM read_parquet('{planted['parquet']}')",
            f"SELECT * FROM '{planted['parquet']}'",
            f"SELECT * FROM glob('{root}/*')",
            f"SELECT * FROM glob('{leftover}/*')",
            f"SELECT * FROM read_text('{planted['csv']}')",
            "SELECT * FROM read_csv(current_setting('temp_directory') || '/../*/patients.csv')",
            "SELECT * FROM glob(current_setting('temp_directory') || '/*')",
            "SELECT * FROM read_blob(current_setting('temp_directory') || '/*')",
        ):
            refused = admin.api.post(f"{base}/query", json={"sql": sql})
            assert refused.status_code == 400, (sql, refused.text)
            message = refused.json()["error"]["message"]
            assert "only this version's tables" in message, (sql, message)
            assert "Kamara" not in refused.text
        assert world.platform.tables.running("query") == []
    finally:
        for path in planted.values():
            path.unlink(missing_ok=True)
        leftover.rmdir()


def test_a_query_stops_when_its_client_hangs_up(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    base = publish(admin.api, ws, "cases", {"cases.csv": CASES})
    assert wait_profile(admin.api, f"{base}/files/cases.csv/profile")["state"] == "done"
    tables = world.platform.tables
    body = json.dumps({"sql": LONG_QUERY}).encode()
    headers = {"Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"}
    # Without the hang-up this query would run for the whole (long) time limit.
    with changed(world.platform.settings, query_timeout_seconds=600.0):
        sock = open_request(world.server.url, "POST", f"/api/v1{base}/query", headers, body)
        try:
            eventually(lambda: len(tables.running("query")) == 1, timeout=20)
            folder: Path = tables.running("query")[0]
            assert folder.is_dir()
            sock.setblocking(False)
            with suppress(BlockingIOError):  # no answer yet: the query runs
                assert sock.recv(1) == b"", "the server answered before the hang-up"
        finally:
            sock.close()
        eventually(lambda: tables.running("query") == [] and not folder.exists(), timeout=20)
        # The thread is free again and the next query runs at once.
        again = admin.api.post(f"{base}/query", json={"sql": "SELECT count(*) FROM cases"})
        assert again.status_code == 200 and again.json()["rows"] == [[4]]
    log = admin.api.get(f"/workspaces/{ws}/datasets/cases/access").json()["items"]
    assert [e["rows"] for e in log if e["action"] == "query"] == [1]  # the stopped one: none
