"""Requests the server makes to addresses its users chose ("test connection", the DHIS2
pickers): a few at a time, each with one deadline, and never to an internal address.

- :func:`resolve` looks a host name up once (with a timeout) and checks every address it
  got with :func:`joliba.domain.addresses.is_internal`; one internal address refuses them all,
  unless the admin allowed them (``JOLIBA_CONNECTION_ALLOW_PRIVATE``).
- :class:`PinnedTransport` is an httpx transport that connects only to the addresses
  :func:`resolve` checked, so a DNS answer that changes afterwards (DNS rebinding) cannot
  redirect the request. The URL is unchanged: the ``Host`` header, TLS SNI and the
  certificate check all use the name that was typed. Every read and write gets what is left
  of the deadline, so a server that trickles bytes cannot hold a request past it.
- :class:`OutboundPool` runs the checks in threads of their own, at most ``size`` at once,
  so that slow or silent servers never hold the threads and the event loop that serve the
  pages; a call that finds no free thread within ``wait`` seconds is refused with 429.

Every :class:`OutboundError` message says what failed in our words, never what the far end
answered.
"""

from __future__ import annotations

import asyncio
import errno as errnos
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import httpcore
import httpx

from joliba.domain.addresses import Address, is_internal
from joliba.domain.errors import TooManyRequests

#: The setting that lets connections reach internal addresses (docs/configuration.md).
ALLOW_PRIVATE_SETTING = "JOLIBA_CONNECTION_ALLOW_PRIVATE"
#: One deadline for a whole check: name look-up, connecting, TLS, request and answer.
TIMEOUT_SECONDS = 5.0
#: Checks running at once on this server, those that may wait for a turn, and how long.
AT_ONCE = 4
QUEUE = 8
QUEUE_WAIT_SECONDS = 2.0
#: Largest answer read from a remote server.
MAX_ANSWER_BYTES = 4 * 1024 * 1024

T = TypeVar("T")
#: How the answer came over the wire: read whole here, so not passed on.
_FRAMING = frozenset({b"content-length", b"transfer-encoding"})


def _size(count: int) -> str:
    return f"{count // 2**20} MiB" if count >= 2**20 else f"{count} bytes"


class OutboundError(Exception):
    """A request to a remote system failed; ``message`` is safe to show to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Refused(OutboundError):
    """The address is internal (or otherwise not ours to reach)."""


class TimedOut(OutboundError):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds:g} s")
        self.seconds = seconds


class Unreachable(OutboundError):
    """No answer: the name does not resolve, the connection failed or broke off."""


class BadAnswer(OutboundError):
    """An answer we do not read: too large, compressed unasked, not HTTP."""


class Deadline:
    """One point in time by which a whole check must be over."""

    def __init__(self, seconds: float = TIMEOUT_SECONDS) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; raises :class:`TimedOut` when there are none."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimedOut(self.seconds)
        return left

    def cap(self, timeout: float | None) -> float:
        left = self.remaining()
        return left if timeout is None else min(timeout, left)


# -- names and addresses -------------------------------------------------------------------

_resolver_lock = threading.Lock()
_resolver_pool: ThreadPoolExecutor | None = None


def _resolver() -> ThreadPoolExecutor:
    """getaddrinfo has no timeout: it runs here, and callers wait only as long as they may."""
    global _resolver_pool
    with _resolver_lock:
        if _resolver_pool is None:
            _resolver_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="joliba-dns")
        return _resolver_pool


def literal_address(host: str) -> Address | None:
    """``host`` as an IP address when it is one (``[::1]`` and zones allowed)."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def resolve(host: str, port: int, *, allow_private: bool, deadline: Deadline) -> list[Address]:
    """The addresses of ``host``, looked up once and each checked; raises :class:`Refused`
    when one of them is internal and ``allow_private`` is false."""
    literal = literal_address(host)
    if literal is not None:
        found = [literal]
    else:
        if not host or len(host) > 253 or any(c in host for c in "/\\@, \t\r\n\x00"):
            raise Unreachable(f"'{host}' is not a host name")
        future = _resolver().submit(
            socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP
        )
        try:
            infos = future.result(timeout=deadline.remaining())
        except TimeoutError:
            future.cancel()
            raise TimedOut(deadline.seconds) from None
        except (OSError, UnicodeError):
            raise Unreachable(f"could not resolve the host name '{host}'") from None
        found = []
        for family, _type, _proto, _name, sockaddr in infos:
            if family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = literal_address(str(sockaddr[0]))
            if address is not None and address not in found:
                found.append(address)
        if not found:
            raise Unreachable(f"could not resolve the host name '{host}'")
    if not allow_private and any(is_internal(address) for address in found):
        what = "is" if literal is not None else "resolves to"
        raise Refused(
            f"'{host}' {what} a private or loopback address, which connections may not "
            f"reach unless an admin sets {ALLOW_PRIVATE_SETTING}=true"
        )
    return found


def connect_reason(exc: BaseException | None) -> str:
    """Why connecting failed, from the local error only (never the far end's words)."""
    cause = exc
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return "could not connect: the server's TLS certificate could not be verified"
    if isinstance(cause, ssl.SSLError):
        return "could not connect: the TLS handshake failed"
    if isinstance(cause, ConnectionRefusedError):
        return "could not connect: connection refused"
    if isinstance(cause, ConnectionResetError):
        return "could not connect: the connection was reset"
    if isinstance(cause, OSError) and cause.errno is not None and cause.errno in errnos.errorcode:
        return f"could not connect: {os.strerror(cause.errno).lower()}"
    return "could not connect"


# -- httpx, pinned to the checked addresses ----------------------------------------------------


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.cap(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.cap(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, self._deadline.cap(timeout))
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the checked addresses of the host httpcore asks for, never to a new
    look-up of its name."""

    def __init__(self, deadline: Deadline, allow_private: bool) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline
        self._allow_private = allow_private
        self._resolved: dict[tuple[str, int], list[Address]] = {}
        self._lock = threading.Lock()

    def addresses(self, host: str, port: int) -> list[Address]:
        with self._lock:
            found = self._resolved.get((host, port))
            if found is None:
                found = resolve(
                    host, port, allow_private=self._allow_private, deadline=self._deadline
                )
                self._resolved[(host, port)] = found
            return found

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: BaseException | None = None
        for address in self.addresses(host, port):
            try:
                stream = self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=self._deadline.cap(timeout),
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectTimeout:
                raise TimedOut(self._deadline.seconds) from None
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise Unreachable(connect_reason(failure))

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise Refused("connections cannot reach local sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, self._deadline.remaining()))


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport for one check: every request goes to a checked address of its
    host, ends by ``deadline``, and its answer is read whole (at most ``max_bytes``).

    Failures are :class:`OutboundError`, not httpx errors, so that callers show their
    messages and do not retry past the deadline. ``statuses`` lists the answers' statuses.
    """

    def __init__(
        self,
        deadline: Deadline,
        *,
        allow_private: bool = False,
        verify: ssl.SSLContext | bool = True,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.deadline = deadline
        self.max_bytes = max_bytes
        self.statuses: list[int] = []
        self.backend = _PinnedBackend(deadline, allow_private)
        context = verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, network_backend=self.backend, max_connections=4, retries=0
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        left = self.deadline.remaining()
        headers = [
            (name, value)
            for name, value in request.headers.raw
            if name.lower() != b"accept-encoding"
        ]
        headers.append((b"Accept-Encoding", b"identity"))  # no decompression bombs
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=headers,
            content=request.stream,
            extensions={
                **request.extensions,
                "timeout": {"connect": left, "read": left, "write": left, "pool": left},
            },
        )
        try:
            answer = self._pool.handle_request(core)
            try:
                body = self._read(answer)
            finally:
                answer.close()
        except OutboundError:
            raise
        except httpcore.TimeoutException:
            raise TimedOut(self.deadline.seconds) from None
        except httpcore.ConnectError as exc:
            raise Unreachable(connect_reason(exc)) from None
        except httpcore.UnsupportedProtocol:
            raise Refused("only http:// and https:// URLs can be reached") from None
        except httpcore.ProtocolError:
            raise BadAnswer("the server closed the connection or did not answer in HTTP") from None
        except (httpcore.NetworkError, OSError):
            raise Unreachable("the connection broke off") from None
        self.statuses.append(answer.status)
        encodings = [
            v.strip().lower() for k, v in answer.headers if k.lower() == b"content-encoding"
        ]
        if any(e not in (b"", b"identity") for e in encodings):
            raise BadAnswer("the server sent a compressed answer although none was asked for")
        return httpx.Response(
            status_code=answer.status,
            headers=[(k, v) for k, v in answer.headers if k.lower() not in _FRAMING],
            content=body,
            request=request,
        )

    def _read(self, answer: httpcore.Response) -> bytes:
        chunks: list[bytes] = []
        size = 0
        stream = answer.stream
        assert isinstance(stream, Iterable)
        for chunk in stream:
            size += len(chunk)
            if size > self.max_bytes:
                raise BadAnswer(f"the answer was larger than {_size(self.max_bytes)}")
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._pool.close()


# -- the pool the checks run in -------------------------------------------------------------------


class OutboundPool:
    """Runs blocking checks in threads of its own, ``size`` at once; up to ``queue`` more
    wait at most ``wait`` seconds for a turn, the others are refused at once (429)."""

    def __init__(
        self, size: int = AT_ONCE, *, queue: int = QUEUE, wait: float = QUEUE_WAIT_SECONDS
    ) -> None:
        self.size = max(1, size)
        self.queue = max(0, queue)
        self.wait = wait
        self._lock = threading.Lock()
        self._pending = 0
        self._executor: ThreadPoolExecutor | None = None

    @property
    def pending(self) -> int:
        """Checks running or waiting for a turn."""
        with self._lock:
            return self._pending

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in one of the pool's threads, awaited without blocking the event loop."""
        with self._lock:
            if self._pending >= self.size + self.queue:
                raise self._busy()
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.size, thread_name_prefix="joliba-outbound"
                )
            executor = self._executor
            self._pending += 1
        try:
            future: Future[T] = executor.submit(fn)
        except RuntimeError:  # shut down
            self._release()
            raise self._busy() from None
        future.add_done_callback(self._release)
        waiting = asyncio.wrap_future(future)
        waiting.add_done_callback(_retrieve)
        try:
            return await asyncio.wait_for(asyncio.shield(waiting), timeout=self.wait)
        except TimeoutError:
            if future.cancel():  # still waiting for a thread: it never started
                raise self._busy() from None
        return await waiting

    def _release(self, _future: object = None) -> None:
        with self._lock:
            self._pending -= 1

    def _busy(self) -> TooManyRequests:
        return TooManyRequests(
            f"this server is already testing {self.size} connections or searching DHIS2 for "
            "others; try again in a few seconds",
            retry_after=max(1, round(TIMEOUT_SECONDS)),
        )

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Marks an abandoned future's exception as seen (the caller may have gone away)."""
    if not future.cancelled():
        future.exception()
