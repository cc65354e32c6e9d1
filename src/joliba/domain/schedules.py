"""Cron schedules in a time zone: checking expressions and finding the next slot."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from joliba.domain.errors import Invalid


class Overlap(StrEnum):
    """What a slot does while the pipeline still has a run queued or running."""

    SKIP = "skip"  # record a skipped run
    QUEUE = "queue"  # queue another run anyway


def check_cron(expression: str) -> str:
    text = " ".join(expression.split())
    if len(text.split(" ")) != 5 or not croniter.is_valid(text):
        raise Invalid(
            f"cron: '{expression}' is not a cron expression of five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 6 * * 1'",
            details={"field": "cron"},
        )
    return text


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"time_zone: unknown time zone '{name}' (use an IANA name such as Africa/Niamey)",
            details={"field": "time_zone"},
        ) from None


def next_slot(expression: str, time_zone: str, after: datetime) -> datetime:
    """The first slot strictly after ``after``, read in ``time_zone``, returned in UTC.

    Slots follow the wall clock of the time zone: "0 6 * * *" is 06:00 local every day,
    across daylight-saving changes (a slot that does not exist that day moves to the next
    valid minute).
    """
    local = after.astimezone(zone(time_zone))
    found: datetime = croniter(check_cron(expression), local).get_next(datetime)
    return found.astimezone(UTC)
