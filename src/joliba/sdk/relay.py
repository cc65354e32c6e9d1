"""Inside the run sandbox: 127.0.0.1 ports that lead to the run proxy's Unix socket.

The sandbox has no network but loopback. :func:`start` opens one port that relays bytes
unchanged to the proxy (set as ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``, so httpx, requests
and urllib go through it, in this process and in the processes it starts), and one port per
TCP endpoint (a PostgreSQL connection's host and port) that asks the proxy for
``CONNECT host:port`` first. The proxy decides what may be reached.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket

from joliba.sdk.threads import start_daemon

_CHUNK = 65_536
_PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


def start(socket_path: str, endpoints: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """Start the relays; set the proxy variables; the local port of each TCP endpoint."""
    proxy_port = _listen(socket_path, None)
    url = f"http://127.0.0.1:{proxy_port}"
    for name in _PROXY_VARIABLES:
        os.environ[name] = url
        os.environ[name.lower()] = url
    os.environ.pop("NO_PROXY", None)
    os.environ.pop("no_proxy", None)
    return {endpoint: _listen(socket_path, endpoint) for endpoint in endpoints}


def _listen(socket_path: str, endpoint: tuple[str, int] | None) -> int:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = int(listener.getsockname()[1])

    def accept() -> None:
        while True:
            client, _ = listener.accept()
            start_daemon(_relay, name=f"joliba-relay-{port}", args=(client, socket_path, endpoint))

    start_daemon(accept, name=f"joliba-relay-{port}")
    return port


def _relay(client: socket.socket, socket_path: str, endpoint: tuple[str, int] | None) -> None:
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(socket_path)
        if endpoint is not None and not _tunnel(upstream, endpoint):
            return
        splice(client, upstream)
    except OSError:
        pass
    finally:
        client.close()
        upstream.close()


def _tunnel(upstream: socket.socket, endpoint: tuple[str, int]) -> bool:
    host, port = endpoint
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    upstream.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = upstream.recv(4096)
        if not chunk:
            return False
        answer += chunk
    head, _, _ = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split(b" ")
    if len(status) > 1 and status[1] == b"200":
        return True
    message = answer.partition(b"\r\n\r\n")[2].decode("utf-8", "replace").strip()
    with contextlib.suppress(OSError):
        os.write(2, f"joliba: cannot reach {target}: {message}\n".encode())
    return False


def splice(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until both sides have finished sending (also the run proxy's)."""
    peers = {a: b, b: a}
    open_ends = {a, b}
    while open_ends:
        readable, _, _ = select.select(list(open_ends), [], [])
        for sock in readable:
            try:
                chunk = sock.recv(_CHUNK)
            except OSError:
                chunk = b""
            if chunk:
                peers[sock].sendall(chunk)
                continue
            open_ends.discard(sock)
            with contextlib.suppress(OSError):
                peers[sock].shutdown(socket.SHUT_WR)
