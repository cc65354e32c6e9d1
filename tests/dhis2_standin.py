"""A small real HTTP server on 127.0.0.1 that answers `GET /api/system/info` with the answer a
real DHIS2 2.39 gave (recorded in tests/data), and DHIS2's 401 otherwise.

It is enough for "test connection"; the full DHIS2 emulator is a later feature.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

RECORDING = Path(__file__).parent / "data" / "dhis2-recordings" / "2.39" / "dhis2_init.yaml"
UNAUTHORIZED = {
    "httpStatus": "Unauthorized",
    "httpStatusCode": 401,
    "status": "ERROR",
    "message": "Account not found or not active.",
}


def recorded_system_info() -> str:
    for item in yaml.safe_load(RECORDING.read_text())["responses"]:
        response = item["response"]
        if response["url"].endswith("/api/system/info"):
            return str(response["body"])
    raise LookupError("no system/info in the recording")


class DHIS2StandIn:
    def __init__(
        self, *, username: str = "admin", password: str = "district", token: str = "d2pat_standin"
    ) -> None:
        body = recorded_system_info().encode()
        basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        api_token = f"ApiToken {token}"
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                seen.append(self.path)
                auth = self.headers.get("Authorization", "")
                if auth not in (basic, api_token):
                    self._send(401, json.dumps(UNAUTHORIZED).encode())
                elif self.path == "/api/system/info":
                    self._send(200, body)
                else:
                    self._send(404, b'{"httpStatusCode": 404, "status": "ERROR"}')

            def _send(self, status: int, payload: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> DHIS2StandIn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
