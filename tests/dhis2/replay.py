"""A real HTTP server on 127.0.0.1 that answers with recorded DHIS2 responses, and with
faults on demand, to test the client against what real DHIS2 servers said.

Requests match a recording by path and ``page`` only (the client may ask for other fields
than the recording did; the answer's shape is what matters). ``faults`` are served first,
one per request: a status code with DHIS2's error body, or "drop" to close the connection.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

RECORDINGS = Path(__file__).parents[1] / "data" / "dhis2-recordings"
Handler = Callable[[str, dict[str, list[str]]], tuple[int, Any]]


def recorded(version: str, *names: str) -> dict[tuple[str, str], tuple[int, str]]:
    answers: dict[tuple[str, str], tuple[int, str]] = {}
    for name in names:
        for item in yaml.safe_load((RECORDINGS / version / f"{name}.yaml").read_text())[
            "responses"
        ]:
            response = item["response"]
            url = urlsplit(response["url"])
            page = parse_qs(url.query).get("page", ["1"])[0]
            answers[(url.path, page)] = (int(response["status"]), str(response["body"]))
    return answers


class Replay:
    def __init__(self, answers: dict[tuple[str, str], tuple[int, str]]) -> None:
        self.answers = answers
        self.faults: list[int | str] = []
        self.handler: Handler | None = None
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = 0.0
        self.lock = threading.Lock()
        self.url = ""

    def answer(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        with self.lock:
            self.requests.append((method, path, query))
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            return (0, None) if fault == "drop" else (int(fault), _web_message(int(fault)))
        if self.handler is not None:
            return self.handler(path, query)
        found = self.answers.get((path, query.get("page", ["1"])[0]))
        if found is None:
            return 404, _web_message(404)
        return found[0], found[1]


def _web_message(status: int) -> dict[str, Any]:
    reasons = {401: "Unauthorized", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests"}
    reason = reasons.get(status, "Service Unavailable" if status == 503 else "Server Error")
    return {"httpStatus": reason, "httpStatusCode": status, "status": "ERROR", "message": reason}


@contextmanager
def replay(answers: dict[tuple[str, str], tuple[int, str]] | None = None) -> Iterator[Replay]:
    state = Replay(answers or {})

    class Handle(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            with state.lock:
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                time.sleep(state.delay)
                status, body = state.answer(method, url.path, parse_qs(url.query))
            finally:
                # Counted out before the answer leaves: once the client has it, it may send
                # its next request, which must not find this one still counted.
                with state.lock:
                    state.in_flight -= 1
            if status == 0:  # drop the connection without an answer
                self.close_connection = True
                self.connection.shutdown(2)
                return
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if status == 429:
                self.send_header("Retry-After", "0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
