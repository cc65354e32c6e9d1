"""Helpers for the emulator tests: a live emulator on 127.0.0.1 and an authenticated client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import httpx

from joliba.dhis2.emulator import create_app
from tests.conftest import LiveServer

# The recordings were made on 2024-07-26; the emulator's data window ends on its "today".
TODAY = date(2024, 7, 26)
TOKEN = "d2pat_abcdefghijklmnopqrstuvwxyz0123452470661164"


@contextmanager
def live_emulator(**options: Any) -> Iterator[httpx.Client]:
    options.setdefault("today", TODAY)
    options.setdefault("tokens", [TOKEN])
    app = create_app(**options)
    with (
        LiveServer(app) as live,
        httpx.Client(base_url=live.url, auth=("admin", "district"), timeout=60) as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client
