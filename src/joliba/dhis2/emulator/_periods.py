"""The few DHIS2 periods the emulator needs: parse an ISO period string to its dates, list the
monthly and weekly periods of a range, and resolve analytics' relative periods.

Kept private to the emulator so that it does not depend on the work in progress of
``joliba.dhis2.periods``; the formats are DHIS2's (see docs/dhis2.md).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

MONTH_NAMES = list(calendar.month_name)


@dataclass(frozen=True)
class Period:
    id: str
    type: str
    start: date
    end: date

    @property
    def name(self) -> str:
        if self.type == "Monthly":
            return f"{MONTH_NAMES[self.start.month]} {self.start.year}"
        if self.type == "Weekly":
            week = self.id.split("W")[1]
            return f"Week {week} {self.start.isoformat()} - {self.end.isoformat()}"
        if self.type == "Quarterly":
            return (
                f"{MONTH_NAMES[self.start.month]} - {MONTH_NAMES[self.end.month]} {self.end.year}"
            )
        return self.id


_PATTERNS = [
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "Daily"),
    (re.compile(r"^(\d{4})W(\d{1,2})$"), "Weekly"),
    (re.compile(r"^(\d{4})(\d{2})$"), "Monthly"),
    (re.compile(r"^(\d{4})Q([1-4])$"), "Quarterly"),
    (re.compile(r"^(\d{4})$"), "Yearly"),
]


def iso_weeks_in(year: int) -> int:
    return date(year, 12, 28).isocalendar()[1]


def parse(text: str) -> Period | None:
    """The period named by a DHIS2 ISO string, or None when it is not a valid period."""
    for pattern, kind in _PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        year = int(match.group(1))
        if year < 1900 or year > 2200:
            return None
        try:
            if kind == "Daily":
                day = date(year, int(match.group(2)), int(match.group(3)))
                return Period(text, kind, day, day)
            if kind == "Weekly":
                week = int(match.group(2))
                if week < 1 or week > iso_weeks_in(year):
                    return None
                start = date.fromisocalendar(year, week, 1)
                return Period(f"{year}W{week}", kind, start, start + timedelta(days=6))
            if kind == "Monthly":
                month = int(match.group(2))
                last = calendar.monthrange(year, month)[1]
                return Period(text, kind, date(year, month, 1), date(year, month, last))
            if kind == "Quarterly":
                quarter = int(match.group(2))
                first = 3 * quarter - 2
                last_day = calendar.monthrange(year, first + 2)[1]
                return Period(text, kind, date(year, first, 1), date(year, first + 2, last_day))
            return Period(text, kind, date(year, 1, 1), date(year, 12, 31))
        except ValueError:
            return None
    return None


def month(year: int, number: int) -> Period:
    period = parse(f"{year}{number:02d}")
    assert period is not None
    return period


def week_of(day: date) -> Period:
    year, week, _ = day.isocalendar()
    period = parse(f"{year}W{week}")
    assert period is not None
    return period


def periods_between(period_type: str, start: date, end: date) -> list[Period]:
    """Periods of a type lying wholly inside ``start..end``."""
    found: list[Period] = []
    if period_type == "Monthly":
        year, number = start.year, start.month
        while date(year, number, 1) <= end:
            candidate = month(year, number)
            if candidate.start >= start and candidate.end <= end:
                found.append(candidate)
            year, number = (year + 1, 1) if number == 12 else (year, number + 1)
    elif period_type == "Weekly":
        candidate = week_of(start)
        while candidate.start <= end:
            if candidate.start >= start and candidate.end <= end:
                found.append(candidate)
            candidate = week_of(candidate.start + timedelta(days=7))
    return found


def base_periods(period_type: str, within: Period) -> list[Period]:
    """The periods of ``period_type`` whose data counts in ``within`` (weeks by their Thursday,
    as ISO weeks belong to the year and month of their Thursday)."""
    if within.type == period_type:
        return [within]
    if period_type == "Weekly":
        found = []
        candidate = week_of(within.start)
        while candidate.start <= within.end:
            thursday = candidate.start + timedelta(days=3)
            if within.start <= thursday <= within.end:
                found.append(candidate)
            candidate = week_of(candidate.start + timedelta(days=7))
        return found
    return periods_between(period_type, within.start, within.end)


def relative(name: str, today: date) -> list[Period] | None:
    """Fixed periods of an analytics relative period such as LAST_12_MONTHS, or None."""
    this_month = month(today.year, today.month)
    if name == "THIS_MONTH":
        return [this_month]
    if name in ("LAST_MONTH", "LAST_3_MONTHS", "LAST_6_MONTHS", "LAST_12_MONTHS"):
        months_back = {
            "LAST_MONTH": 1,
            "LAST_3_MONTHS": 3,
            "LAST_6_MONTHS": 6,
            "LAST_12_MONTHS": 12,
        }
        months: list[Period] = []
        year, number = today.year, today.month
        for _ in range(months_back[name]):
            year, number = (year - 1, 12) if number == 1 else (year, number - 1)
            months.insert(0, month(year, number))
        return months
    if name in ("THIS_WEEK", "LAST_WEEK", "LAST_4_WEEKS", "LAST_12_WEEKS", "LAST_52_WEEKS"):
        if name == "THIS_WEEK":
            return [week_of(today)]
        weeks = {"LAST_WEEK": 1, "LAST_4_WEEKS": 4, "LAST_12_WEEKS": 12, "LAST_52_WEEKS": 52}
        start = week_of(today).start
        return [week_of(start - timedelta(days=7 * i)) for i in range(weeks[name], 0, -1)]
    years = {
        "THIS_YEAR": (0, 1),
        "LAST_YEAR": (1, 1),
        "LAST_5_YEARS": (5, 5),
        "LAST_10_YEARS": (10, 10),
    }
    if name in years:
        back, length = years[name]
        first = today.year - back
        return [p for p in (parse(str(first + i)) for i in range(length)) if p is not None]
    return None
