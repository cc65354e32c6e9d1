"""What a run's output becomes before it is written: batches of log lines, progress and
outputs, filled from the SDK's events (``domain/wire``) and the child's plain lines."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, assert_never

from joliba.db.tables import utcnow
from joliba.domain import wire
from joliba.domain.runs import LOG_LEVELS, LogStream

#: Longest log line kept; the rest of a longer one is cut.
MAX_LINE = 16_384
#: Lines kept in memory while the database is unreachable.
MAX_PENDING = 100_000


@dataclass
class Batch:
    lines: list[dict[str, Any]] = field(default_factory=list)
    progress: tuple[int, str | None] | None = None
    outputs: list[dict[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.lines or self.progress or self.outputs)


def take_event(
    batch: Batch,
    event: wire.Event,
    at: datetime,
    keep: Callable[[Batch, dict[str, Any]], None],
) -> None:
    """Add what an SDK event says to ``batch``; ``keep`` takes the log lines that count
    towards the run's log budget. The fields are the pipeline's: each is checked."""
    stream = LogStream.SDK
    if event["event"] == wire.LOG:
        level = event.get("level") if event.get("level") in LOG_LEVELS else "info"
        message = str(event.get("message", ""))[:MAX_LINE]
        keep(batch, {"at": at, "stream": stream, "level": level, "message": message})
    elif event["event"] == wire.PROGRESS:
        with contextlib.suppress(TypeError, ValueError):
            batch.progress = (int(event.get("percent", 0)), event.get("message"))
    elif event["event"] == wire.OUTPUT:
        batch.outputs.append(
            {
                "kind": str(event.get("kind", "")),
                "uri": str(event.get("uri", "")),
                "name": str(event.get("name", "")),
            }
        )
    elif event["event"] == wire.TASK:
        state = str(event.get("state", ""))
        level = "error" if state == "failed" else "debug"
        message = f"task {event.get('name')}: {state} (attempt {event.get('attempt', 1)})"
        batch.lines.append({"at": at, "stream": stream, "level": level, "message": message})
    else:
        assert_never(event)


def log_line(stream: LogStream, level: str, message: str) -> dict[str, Any]:
    return {"at": utcnow(), "stream": stream, "level": level, "message": message}


def trim(batch: Batch) -> None:
    """Bound what waits in memory while the database is away: keep the newest lines."""
    extra = len(batch.lines) - MAX_PENDING
    if extra > 0:
        del batch.lines[:extra]
        notice = f"{extra} log lines were dropped while the database was unreachable"
        batch.lines.insert(0, log_line(LogStream.SYSTEM, "warning", notice))


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
