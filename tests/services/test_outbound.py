"""Outbound requests: checked and pinned addresses, one deadline, bounded answers, a bounded
pool; and the checks built on them. Real sockets and servers on 127.0.0.1 throughout."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from joliba.domain.connections import ConnectionType
from joliba.domain.errors import TooManyRequests
from joliba.services.connection_checks import ConnectionChecker, s3_auth_headers
from joliba.services.outbound import (
    ALLOW_PRIVATE_SETTING,
    BadAnswer,
    Deadline,
    OutboundError,
    OutboundPool,
    PinnedTransport,
    Refused,
    TimedOut,
    Unreachable,
    resolve,
)
from tests.conftest import PG_ADMIN_URL, need_service
from tests.raw_servers import RawServer, answer, in_thread, silent, trickle


def get(url: str, **options: Any) -> httpx.Response:
    deadline = options.pop("deadline", None) or Deadline(5)
    options.setdefault("allow_private", True)
    with httpx.Client(transport=PinnedTransport(deadline, **options)) as client:
        return client.get(url)


# -- addresses ---------------------------------------------------------------------------------


def test_internal_addresses_are_refused_unless_allowed() -> None:
    for host in ("127.0.0.1", "[::1]", "::ffff:127.0.0.1", "10.1.2.3", "169.254.169.254"):
        with pytest.raises(Refused) as refused:
            resolve(host, 80, allow_private=False, deadline=Deadline(5))
        assert "is a private or loopback address" in refused.value.message
        assert f"{ALLOW_PRIVATE_SETTING}=true" in refused.value.message
    assert resolve("10.1.2.3", 80, allow_private=True, deadline=Deadline(5)) == [
        ipaddress.ip_address("10.1.2.3")
    ]
    assert resolve("8.8.8.8", 53, allow_private=False, deadline=Deadline(5)) == [
        ipaddress.ip_address("8.8.8.8")
    ]


def test_names_are_resolved_and_every_address_checked() -> None:
    with pytest.raises(Refused, match="'localhost' resolves to a private or loopback address"):
        resolve("localhost", 80, allow_private=False, deadline=Deadline(5))
    found = resolve("localhost", 80, allow_private=True, deadline=Deadline(5))
    assert ipaddress.ip_address("127.0.0.1") in found
    for bad in ("a/b", "a b", "user@host", "a,b", ""):
        with pytest.raises(Unreachable, match="is not a host name"):
            resolve(bad, 80, allow_private=True, deadline=Deadline(5))


def test_a_refused_address_is_never_contacted() -> None:
    with RawServer(answer()) as server:
        with pytest.raises(Refused):
            get(f"http://localhost:{server.port}/", allow_private=False)
        with pytest.raises(Refused):
            get(f"http://127.0.0.1:{server.port}/", allow_private=False)
        assert server.accepted == 0


# -- the pinned transport ----------------------------------------------------------------------


def test_the_host_header_keeps_the_name_typed() -> None:
    with RawServer(answer(body=b"{host}")) as server:
        # localhost may resolve to ::1 first: refused there, the next checked address answers.
        response = get(f"http://localhost:{server.port}/path?x=1")
    assert response.status_code == 200
    assert response.text == f"localhost:{server.port}"
    assert server.requests[0].startswith(b"GET /path?x=1 HTTP/1.1\r\n")
    assert b"accept-encoding: identity" in server.requests[0].lower()


def test_tls_checks_the_name_typed_not_the_address(tmp_path: Path) -> None:
    context, trusted = tls_for_localhost(tmp_path)
    seen: list[str | None] = []

    def remember(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _ctx: Any) -> None:
        seen.append(name)

    context.sni_callback = remember
    with RawServer(answer(body=b"secure"), wrap=context) as server:
        response = get(f"https://localhost:{server.port}/", verify=trusted)
        assert response.text == "secure"
        assert seen == ["localhost"]  # SNI: the name, though the connection went to an address
        # The certificate names localhost only: asked for by address, it does not verify.
        with pytest.raises(Unreachable, match="TLS certificate could not be verified"):
            get(f"https://127.0.0.1:{server.port}/", verify=trusted)


def tls_for_localhost(folder: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for DNS:localhost, and a client
    context that trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_one_deadline_for_the_whole_request() -> None:
    with RawServer(silent) as server, pytest.raises(TimedOut, match=r"^timed out after 1 s$"):
        in_thread(lambda: get(f"http://127.0.0.1:{server.port}/", deadline=Deadline(1)))
    # A server that sends a byte just in time for every read still ends at the deadline.
    with RawServer(trickle) as server, pytest.raises(TimedOut):
        in_thread(lambda: get(f"http://127.0.0.1:{server.port}/", deadline=Deadline(1)))


def test_answers_are_bounded() -> None:
    with RawServer(answer(body=b"x" * 4096)) as server:
        with pytest.raises(BadAnswer, match="larger than"):
            get(f"http://127.0.0.1:{server.port}/", max_bytes=1024)
        assert len(get(f"http://127.0.0.1:{server.port}/").content) == 4096
    gzip = answer(body=b"\x1f\x8b", headers="Content-Encoding: gzip\r\n")
    with RawServer(gzip) as server, pytest.raises(BadAnswer, match="compressed"):
        get(f"http://127.0.0.1:{server.port}/")


def test_connection_failures_in_our_words() -> None:
    with RawServer(silent) as server:
        port = server.port
    with pytest.raises(Unreachable) as failed:
        get(f"http://127.0.0.1:{port}/")
    assert failed.value.message == "could not connect: connection refused"

    def nonsense(conn: socket.socket, server: RawServer) -> None:
        server.read_request(conn)
        conn.sendall(b"SSH-2.0-OpenSSH_9.6 banner of the far end\r\n")
        conn.close()

    with RawServer(nonsense) as server, pytest.raises(BadAnswer) as bad:
        get(f"http://127.0.0.1:{server.port}/")
    assert "OpenSSH" not in bad.value.message


# -- the pool ----------------------------------------------------------------------------------


def test_the_pool_runs_a_few_at_once_and_refuses_the_rest() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)

    def hold() -> str:
        started.release()
        release.wait(30)
        return "done"

    async def scenario() -> list[Any]:
        pool = OutboundPool(2, queue=1, wait=0.2)
        running = [asyncio.ensure_future(pool.run(hold)) for _ in range(2)]
        for _ in range(2):
            await asyncio.to_thread(started.acquire)
        queued = asyncio.ensure_future(pool.run(hold))
        await asyncio.sleep(0)
        # Over size + queue: refused at once.
        with pytest.raises(TooManyRequests) as busy:
            await pool.run(hold)
        assert busy.value.retry_after >= 1
        # The queued one found no free thread within its wait: refused, never run.
        with pytest.raises(TooManyRequests):
            await queued
        release.set()
        results = await asyncio.gather(*running)
        # Free again: the next call runs.
        results.append(await pool.run(lambda: "again"))
        assert pool.pending == 0
        pool.close()
        return results

    assert asyncio.run(scenario()) == ["done", "done", "again"]


def test_the_pool_never_blocks_the_event_loop() -> None:
    release = threading.Event()

    async def scenario() -> int:
        pool = OutboundPool(1)
        job = asyncio.ensure_future(pool.run(lambda: release.wait(30)))
        ticks = 0
        while not job.done() and ticks < 5:
            await asyncio.sleep(0)  # the loop goes on while the job blocks its thread
            ticks += 1
        assert not job.done()
        release.set()
        assert await job is True
        pool.close()
        return ticks

    assert asyncio.run(scenario()) == 5


# -- checks --------------------------------------------------------------------------------------


def test_checks_refuse_internal_addresses_unless_allowed() -> None:
    strict = ConnectionChecker(allow_private=False)
    with RawServer(answer()) as server:
        for kind, values in (
            (ConnectionType.DHIS2, {"url": f"http://127.0.0.1:{server.port}", "token": "t"}),
            (ConnectionType.DHIS2, {"url": f"http://localhost:{server.port}", "token": "t"}),
            (
                ConnectionType.POSTGRESQL,
                {"host": "127.0.0.1", "port": str(server.port), "database": "d", "username": "u"},
            ),
            (
                ConnectionType.S3,
                {"bucket": "b", "endpoint_url": f"http://[::ffff:127.0.0.1]:{server.port}"},
            ),
        ):
            result = strict.check(kind, values, set())
            assert result.ok is False
            assert "private or loopback address" in result.message, result
            assert ALLOW_PRIVATE_SETTING in result.message
        assert server.accepted == 0


def test_checks_never_repeat_the_far_end() -> None:
    checker = ConnectionChecker(allow_private=True)
    banner = b'{"message": "FATAL role postgres on port 5432 is not allowed", "version": "x"}'
    with RawServer(answer(500, banner)) as server:
        url = f"http://127.0.0.1:{server.port}"
        result = checker.check(ConnectionType.DHIS2, {"url": url, "token": "t"}, set())
        assert result.message == "the server answered HTTP 500"
    with RawServer(answer(200, banner)) as server:
        url = f"http://127.0.0.1:{server.port}"
        result = checker.check(ConnectionType.DHIS2, {"url": url, "token": "t"}, set())
        assert result.message == "not a DHIS2 server (no system/info)"

    def intranet_page(conn: socket.socket, server: RawServer) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n<html>an intranet page</html>")
        conn.close()

    with RawServer(intranet_page) as server:
        values = {
            "host": "127.0.0.1",
            "port": str(server.port),
            "database": "d",
            "username": "u",
            "sslmode": "disable",
        }
        not_postgresql = "not a PostgreSQL server (its answer was not the PostgreSQL protocol)"
        assert checker.check(ConnectionType.POSTGRESQL, values, set()).message == not_postgresql
        values["sslmode"] = "prefer"
        assert checker.check(ConnectionType.POSTGRESQL, values, set()).message == not_postgresql
    with RawServer(silent) as server:
        values = {"host": "127.0.0.1", "port": str(server.port), "database": "d", "username": "u"}
        fast = ConnectionChecker(allow_private=True, timeout=2)
        result = in_thread(lambda: fast.check(ConnectionType.POSTGRESQL, values, set()))
        assert result.message == "timed out after 2 s"


def test_postgresql_by_name_connects_to_a_checked_address() -> None:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    from sqlalchemy.engine import make_url

    pg = make_url(PG_ADMIN_URL)
    values = {"host": "localhost", "port": str(pg.port or 5432), "database": str(pg.database)}
    values["username"] = str(pg.username)
    assert ConnectionChecker(allow_private=True).check(ConnectionType.POSTGRESQL, values, set()).ok
    refused = ConnectionChecker(allow_private=False).check(ConnectionType.POSTGRESQL, values, set())
    assert "'localhost' resolves to a private or loopback address" in refused.message


def test_s3_signature_is_aws_sigv4() -> None:
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials

    for endpoint in ("https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000/prefix"):
        url = httpx.URL(f"{endpoint}/my-bucket?list-type=2&max-keys=1")
        request = botocore.awsrequest.AWSRequest(method="GET", url=str(url))
        signer = botocore.auth.S3SigV4Auth(
            botocore.credentials.Credentials("AKIDEXAMPLE", "s3cr3t"), "s3", "eu-west-1"
        )
        signer.add_auth(request)  # signs "now": ours signs the same moment
        moment = dt.datetime.strptime(request.context["timestamp"], "%Y%m%dT%H%M%SZ")
        moment = moment.replace(tzinfo=dt.UTC)
        ours = s3_auth_headers(
            url, key="AKIDEXAMPLE", secret="s3cr3t", region="eu-west-1", now=moment
        )
        assert request.headers["X-Amz-Date"] == ours["x-amz-date"]
        assert ours["Authorization"] == request.headers["Authorization"], endpoint


def test_deadline_cap() -> None:
    deadline = Deadline(5)
    assert deadline.cap(1) == 1
    assert 4 < deadline.cap(None) <= 5
    with pytest.raises(TimedOut):
        Deadline(0).remaining()
    assert isinstance(TimedOut(5), OutboundError)
