"""How long a sign-in waits after failed ones: not at all at first, then ever longer.

A client gets ``allowed`` failures without delay; after that each failure doubles the wait
before the next try (30 s, 1 min, 2 min, …), never past ``longest``. Nothing is locked: once
the wait is over, the right password works again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: The wait after the last allowed failure; each further failure doubles it.
FIRST_WAIT = timedelta(seconds=30)


def wait_after(
    failures: int, *, allowed: int, longest: timedelta, first: timedelta = FIRST_WAIT
) -> timedelta:
    """The wait imposed by ``failures`` recent failures."""
    beyond = failures - allowed
    if beyond < 0:
        return timedelta(0)
    wait: timedelta = first * 2 ** min(beyond, 32)
    return min(wait, longest)


def retry_after(
    failures: int, last: datetime | None, now: datetime, *, allowed: int, longest: timedelta
) -> float:
    """Seconds until the next try may come (0 when it may come now)."""
    if last is None:
        return 0.0
    wait = wait_after(failures, allowed=allowed, longest=longest)
    return max(0.0, (last + wait - now).total_seconds())
