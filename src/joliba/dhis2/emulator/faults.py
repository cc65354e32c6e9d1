"""Fault injection: added latency, a share of 500/502/503 answers, requests that hang past a
client's timeout, drawn from a seeded generator so that a test run can be repeated, and a share
of imported values refused with a conflict, chosen by a hash of the seed and the value's key so
that the same value is refused every time, whatever the order or chunking of the imports."""

from __future__ import annotations

import asyncio
import hashlib
import random
import threading
from dataclasses import dataclass, field

from starlette.responses import Response

from joliba.dhis2.emulator.messages import error


@dataclass
class Faults:
    latency_ms: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    timeout_seconds: float = 60.0
    seed: int = 0
    conflict_rate: float = 0.0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        for name in ("error_rate", "timeout_rate", "conflict_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        self._rng = random.Random(self.seed)  # noqa: S311 (reproducible faults)

    @property
    def active(self) -> bool:
        """Whether requests are delayed or failed (import conflicts are drawn on import)."""
        return bool(self.latency_ms or self.error_rate or self.timeout_rate)

    def refuses(self, *key: str) -> bool:
        """Whether the import of the value with this key gets an injected conflict."""
        if not self.conflict_rate:
            return False
        digest = hashlib.blake2b(repr((self.seed, *key)).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < self.conflict_rate

    async def before(self) -> Response | None:
        """Wait and maybe fail, as configured; None lets the request through."""
        with self._lock:
            draw_timeout = self._rng.random()
            draw_error = self._rng.random()
            status = self._rng.choice((500, 502, 503))
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        if draw_timeout < self.timeout_rate:
            await asyncio.sleep(self.timeout_seconds)
            return error(504, "Gateway Timeout")
        if draw_error < self.error_rate:
            return error(status, "Injected fault")
        return None
