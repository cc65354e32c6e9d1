"""The run network: what the per-run proxy lets through, tried from inside real runs."""

from __future__ import annotations

import http.server
import ipaddress
import threading
from collections.abc import Iterator

import pytest

from joliba.domain.addresses import parse_allow_list
from joliba.runner.run_network import NetworkPolicy, Refused, connection_patterns
from tests.conftest import World, need_service
from tests.pipeline_helpers import log_messages, push, start_run, wait_for_run


def test_the_policy_refuses_internal_addresses_unless_allowed() -> None:
    policy = NetworkPolicy.for_run("http://127.0.0.1:8000", parse_allow_list("10.1.0.0/16:5432"))
    assert policy.addresses("127.0.0.1", 8000) == [ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(Refused, match=r"127\.0\.0\.1:5432 is a loopback"):
        policy.addresses("127.0.0.1", 5432)
    with pytest.raises(Refused, match="private"):
        policy.addresses("192.168.1.10", 80)
    with pytest.raises(Refused):
        policy.addresses("::ffff:127.0.0.1", 8000)  # the API is 127.0.0.1, by that name only
    assert policy.addresses("10.1.2.3", 5432) == [ipaddress.ip_address("10.1.2.3")]
    with pytest.raises(Refused):
        policy.addresses("10.1.2.3", 5433)
    assert policy.addresses("8.8.8.8", 443) == [ipaddress.ip_address("8.8.8.8")]


def test_connections_allow_their_own_hosts_and_ports() -> None:
    patterns = connection_patterns(
        [
            {"url": "http://127.0.0.1:8001/dhis", "username": "admin"},
            {"host": "10.0.0.5", "port": "6543", "database": "hmis"},
            {"endpoint_url": "https://minio.local"},
        ]
    )
    policy = NetworkPolicy.for_run("https://joliba.example.org", patterns)
    assert policy.addresses("127.0.0.1", 8001)
    assert policy.addresses("10.0.0.5", 6543)
    with pytest.raises(Refused):
        policy.addresses("127.0.0.1", 8002)
    with pytest.raises(Refused):
        policy.addresses("10.0.0.5", 5432)


@pytest.fixture
def local_site() -> Iterator[int]:
    """An HTTP server on 127.0.0.1 answering every GET with 'hello from the host'."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"hello from the host"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


FETCH = """
import httpx
from joliba import current_run, parameter, pipeline

@pipeline(name="Fetch")
@parameter("url", type=str)
def fetch(url):
    response = httpx.get(url, timeout=10)
    current_run.log_info(f"status={response.status_code} body={response.text.strip()}")
"""


@pytest.mark.usefixtures("needs_sandbox")
def test_an_admin_allow_list_opens_a_private_host(
    world: World, local_site: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "fetch", FETCH)
    url = f"http://127.0.0.1:{local_site}/"
    refused = wait_for_run(admin.api, ws, start_run(admin.api, ws, "fetch", {"url": url})["id"])
    messages = log_messages(admin.api, ws, refused["id"])
    assert any(m.startswith("status=403 body=joliba run network:") for m in messages), messages
    monkeypatch.setattr(world.platform.settings, "run_allow_hosts", f"127.0.0.1:{local_site}")
    allowed = wait_for_run(admin.api, ws, start_run(admin.api, ws, "fetch", {"url": url})["id"])
    assert "status=200 body=hello from the host" in log_messages(admin.api, ws, allowed["id"])


QUERY = """
import psycopg, socket
from joliba import current_run, pipeline, workspace

@pipeline(name="Query")
def query():
    conn = workspace.connection("warehouse")
    with psycopg.connect(conn.url, connect_timeout=10) as db:
        current_run.log_info(f"answer={db.execute('select 40 + 2').fetchone()[0]}")
    current_run.log_info(f"seen as {conn.host}")
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=5)
        current_run.log_info("raw=connected")
    except OSError as exc:
        current_run.log_info(f"raw=refused {type(exc).__name__}")
"""


@pytest.mark.usefixtures("needs_sandbox")
def test_a_run_reaches_its_database_connection_through_a_forwarded_port(
    world: World,
) -> None:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    admin = world.person()
    ws = world.workspace(admin)
    created = admin.api.post(
        f"/workspaces/{ws}/connections",
        json={
            "name": "Warehouse",
            "slug": "warehouse",
            "type": "postgresql",
            "fields": {
                "host": "127.0.0.1",
                "port": "5432",
                "database": "postgres",
                "username": "postgres",
            },
        },
    )
    assert created.status_code == 201, created.text
    push(admin.api, ws, "query", QUERY)
    run = wait_for_run(admin.api, ws, start_run(admin.api, ws, "query")["id"])
    messages = log_messages(admin.api, ws, run["id"])
    assert run["state"] == "succeeded", (run, messages)
    assert "answer=42" in messages
    assert "seen as 127.0.0.1" in messages
    # Only the forwarded port leads out: 5432 itself is closed inside the sandbox.
    assert "raw=refused ConnectionRefusedError" in messages
