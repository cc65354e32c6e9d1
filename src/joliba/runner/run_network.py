"""The only way out of a run's network namespace: an HTTP proxy on a Unix socket, per run.

A sandboxed run has no network interface but loopback. Its SDK relays 127.0.0.1 ports to
this proxy's Unix socket (:mod:`joliba.sdk.relay`): ``HTTP_PROXY``/``HTTPS_PROXY`` for web
requests and one forwarded port per TCP endpoint of its connections (PostgreSQL). The proxy
serves ``CONNECT host:port`` and plain ``http://`` requests, and lets a request through when

- it goes to the Joliba API the run was given (the host and port of ``JOLIBA_BASE_URL``), or
- every address it resolves to is public (not loopback, private, link-local, …), or
- it matches a host of the run's own workspace connections or of ``JOLIBA_RUN_ALLOW_HOSTS``.

So a run cannot reach the metadata database, the broker or other services on the server's
loopback and private addresses. The proxy connects to the address it checked (no second DNS
look-up), and refusals are written to the run's log.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from joliba.domain.addresses import HostPattern, is_internal
from joliba.sdk.relay import splice

log = logging.getLogger("joliba.runner")

SOCKET_NAME = "net.sock"
#: Connections one run may hold open through the proxy at once.
MAX_CONNECTIONS = 64
_HEAD_LIMIT = 65_536
_CONNECT_TIMEOUT = 15.0
_HEAD_TIMEOUT = 30.0
_CHUNK = 65_536

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The policy does not let the run reach this destination."""


@dataclass(frozen=True)
class NetworkPolicy:
    """Where one run may connect."""

    api: tuple[str, int]
    allowed: tuple[HostPattern, ...] = ()

    @classmethod
    def for_run(cls, base_url: str, allowed: list[HostPattern]) -> NetworkPolicy:
        parts = urlsplit(base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(api=((parts.hostname or "").lower(), port), allowed=tuple(allowed))

    def addresses(self, host: str, port: int) -> list[Address]:
        """The checked addresses to connect to; raises Refused with the reason."""
        name = host.strip("[]").lower()
        try:
            found = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Refused(f"cannot resolve {name}: {exc}") from None
        resolved: list[Address] = []
        for *_, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in resolved:
                resolved.append(address)
        if (name, port) == self.api:
            return resolved
        kept = [
            a
            for a in resolved
            if not is_internal(a) or any(p.matches(name, a, port) for p in self.allowed)
        ]
        if not kept:
            shown = resolved[0] if resolved else name
            raise Refused(
                f"{name}:{port} is a loopback, private or link-local address ({shown}); runs "
                "reach only the Joliba API, public addresses, their workspace's connections "
                "and the hosts an admin lists in JOLIBA_RUN_ALLOW_HOSTS"
            )
        return kept


def connection_patterns(fields_by_connection: list[dict[str, object]]) -> list[HostPattern]:
    """The hosts a workspace's connections point at (URL fields, and host with port)."""
    patterns: list[HostPattern] = []
    for fields in fields_by_connection:
        for name, value in fields.items():
            if not isinstance(value, str) or not value:
                continue
            host: str | None = None
            port: int | None = None
            if "://" in value:
                try:
                    parts = urlsplit(value)
                    host, port = parts.hostname, parts.port
                except ValueError:
                    continue
                if port is None:
                    port = {"https": 443, "http": 80}.get(parts.scheme)
            elif name == "host":
                host = value
                raw_port = fields.get("port")
                port = int(str(raw_port)) if str(raw_port or "").isdigit() else 5432
            if host:
                patterns.append(_pattern(host.lower(), port))
    return patterns


def _pattern(host: str, port: int | None) -> HostPattern:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return HostPattern(host=host, network=None, port=port)
    return HostPattern(host=None, network=ipaddress.ip_network(address), port=port)


@dataclass
class RunNetwork:
    """Serves one run's proxy socket, from ``start`` until ``close``."""

    policy: NetworkPolicy
    on_refused: Callable[[str], None]
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="joliba-net-")))

    def __post_init__(self) -> None:
        self._listener: socket.socket | None = None
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()

    @property
    def socket_path(self) -> Path:
        return self.folder / SOCKET_NAME

    def start(self) -> None:
        # The folder stays 0700: the sandbox's user is the server's own user outside its
        # user namespace, so it reaches the socket and nobody else on the machine does.
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.socket_path))
        listener.listen(MAX_CONNECTIONS)
        self._listener = listener
        threading.Thread(target=self._accept, name="run-network", daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if not self._slots.acquire(blocking=False):
                _answer(client, 503, f"more than {MAX_CONNECTIONS} connections at once")
                client.close()
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        self._track(client)
        try:
            client.settimeout(_HEAD_TIMEOUT)
            head, rest = _read_head(client)
            method, target, version, headers = _parse_head(head)
            if method == "CONNECT":
                host, port = _split_host_port(target, default=443)
            else:
                url = urlsplit(target)
                if url.scheme != "http" or not url.hostname:
                    raise Refused(f"only http:// URLs and CONNECT go through the proxy: {target}")
                host, port = url.hostname, url.port or 80
            try:
                upstream = self._connect(host, port)
            except Refused as exc:
                self.on_refused(str(exc))
                _answer(client, 403, str(exc))
                return
            except OSError as exc:
                _answer(client, 502, f"cannot connect to {host}:{port}: {exc.strerror or exc}")
                return
            self._track(upstream)
            if method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                url = urlsplit(target)
                path = url.path or "/"
                if url.query:
                    path += "?" + url.query
                kept = [
                    h
                    for h in headers
                    if h.split(":", 1)[0].strip().lower()
                    not in ("proxy-connection", "proxy-authorization", "connection", "keep-alive")
                ]
                request = "\r\n".join([f"{method} {path} {version}", *kept, "Connection: close"])
                upstream.sendall(request.encode("latin-1") + b"\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            client.settimeout(None)
            upstream.settimeout(None)
            splice(client, upstream)
        except Refused as exc:
            self.on_refused(str(exc))
            _answer(client, 400, str(exc))
        except (OSError, ValueError) as exc:
            log.debug("run network: connection ended: %s", exc)
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    self._untrack(sock)
                    sock.close()
            self._slots.release()

    def _connect(self, host: str, port: int) -> socket.socket:
        last: OSError | None = None
        for address in self.policy.addresses(host, port):
            family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(_CONNECT_TIMEOUT)
            try:
                sock.connect((str(address), port))
                return sock
            except OSError as exc:
                sock.close()
                last = exc
        raise last or OSError(f"no address for {host}")

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)


def _read_head(sock: socket.socket) -> tuple[str, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ValueError("the connection closed before a request arrived")
        data += chunk
        if len(data) > _HEAD_LIMIT:
            raise ValueError("request head too large")
    head, rest = data.split(b"\r\n\r\n", 1)
    return head.decode("latin-1"), rest


def _parse_head(head: str) -> tuple[str, str, str, list[str]]:
    lines = head.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise Refused(f"not an HTTP proxy request: {lines[0][:200]!r}")
    method, target, version = parts
    return method.upper(), target, version, [line for line in lines[1:] if line]


def _split_host_port(target: str, *, default: int) -> tuple[str, int]:
    if target.startswith("["):
        host, _, tail = target[1:].partition("]")
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = target.rpartition(":") if ":" in target else (target, "", "")
    if port_text and not port_text.isdigit():
        raise Refused(f"bad port in {target!r}")
    return host, int(port_text) if port_text else default


def _answer(sock: socket.socket, status: int, message: str) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway", 503: "Busy"}[status]
    body = f"joliba run network: {message}\n".encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):
        sock.sendall(head.encode() + body)
