"""Pipeline run states, triggers and the retry policy (pure rules, no I/O)."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"


#: States a run never leaves.
FINISHED = frozenset(
    {
        RunState.SUCCEEDED,
        RunState.FAILED,
        RunState.CANCELLED,
        RunState.TIMED_OUT,
        RunState.SKIPPED,
    }
)

#: Endings that a pipeline's retry policy may retry (a cancel or a skip is on purpose).
RETRYABLE = frozenset({RunState.FAILED, RunState.TIMED_OUT})


class Trigger(StrEnum):
    MANUAL = "manual"  # the web form, the CLI or the API, by a person or their token
    SCHEDULE = "schedule"
    WEBHOOK = "webhook"
    PIPELINE = "pipeline"  # another pipeline's run succeeded
    DATASET = "dataset"  # a dataset got a new published version
    RETRY = "retry"


class LogStream(StrEnum):
    STDOUT = "stdout"
    STDERR = "stderr"
    SDK = "sdk"  # current_run.log_* calls
    SYSTEM = "system"  # what the platform says about the run


LOG_LEVELS = ("debug", "info", "warning", "error")

#: The longest a retry waits, whatever the policy's base delay and the attempt number.
MAX_RETRY_DELAY = 3600.0


def retry_delay(base_seconds: float, attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1`` after attempt ``attempt`` failed.

    Exponential backoff from the pipeline's base delay: base, 2 x base, 4 x base and so on, capped.
    """
    if attempt < 1:
        raise ValueError("attempts count from 1")
    return float(min(MAX_RETRY_DELAY, max(0.0, base_seconds) * 2 ** (attempt - 1)))
