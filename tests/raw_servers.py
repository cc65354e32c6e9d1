"""TCP servers on 127.0.0.1 that misbehave on purpose (silent, trickling, foreign), for the
tests of outbound requests: each connection is served by a function in a thread of its own."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any


class RawServer:
    """A TCP server on 127.0.0.1 whose every connection is handled by ``serve`` in a
    thread of its own; ``accepted`` counts connections, ``stop`` releases them all."""

    def __init__(
        self,
        serve: Callable[[socket.socket, RawServer], None],
        *,
        wrap: ssl.SSLContext | None = None,
    ) -> None:
        self.serve = serve
        self.wrap = wrap
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.port = int(self.sock.getsockname()[1])
        self.stopped = threading.Event()
        self.accepted = 0
        self.requests: list[bytes] = []
        self.changed = threading.Condition()
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RawServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopped.set()
        # shutdown first: a close alone leaves a blocked accept() listening.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(10)
        with self.changed:
            for conn in self.connections:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
                conn.close()

    def wait_for(self, count: int, timeout: float = 30) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.accepted >= count, timeout=timeout), (
                f"{self.accepted} connections, expected {count}"
            )

    def header_values(self, name: str) -> list[str]:
        """The values of header ``name`` in the requests read so far."""
        wanted = name.lower().encode() + b":"
        with self.changed:
            requests = list(self.requests)
        return [
            line.split(b":", 1)[1].strip().decode()
            for request in requests
            for line in request.split(b"\r\n")[1:]
            if line.lower().startswith(wanted)
        ]

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.changed:
                self.connections.append(conn)
                self.accepted += 1
                self.changed.notify_all()
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.wrap is not None:
                conn = self.wrap.wrap_socket(conn, server_side=True)
            self.serve(conn, self)
        except OSError:
            pass

    def read_request(self, conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        with self.changed:
            self.requests.append(data)
        return data


def silent(conn: socket.socket, server: RawServer) -> None:
    """Accepts and never answers."""
    server.stopped.wait()


def answer(status: int = 200, body: bytes = b"{}", headers: str = "") -> Callable[..., None]:
    def serve(conn: socket.socket, server: RawServer) -> None:
        request = server.read_request(conn)
        host = next(
            (
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")[1:]
                if line.lower().startswith(b"host:")
            ),
            b"",
        )
        text = body.replace(b"{host}", host)
        conn.sendall(
            f"HTTP/1.1 {status} X\r\nContent-Length: {len(text)}\r\n{headers}"
            "Connection: close\r\n\r\n".encode()
            + text
        )
        conn.close()

    return serve


def trickle(conn: socket.socket, server: RawServer) -> None:
    """Answers one byte of header at a time, forever (each read sees data in time)."""
    server.read_request(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while not server.stopped.wait(0.05):
        conn.sendall(b"X")


def in_thread(fn: Callable[[], Any], timeout: float = 30) -> Any:
    """``fn()`` in a thread, so a test fails (rather than hangs) if a deadline does not hold."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "the call outlived its deadline"
    if "error" in box:
        raise box["error"]
    return box.get("value")
