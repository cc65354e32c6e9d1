"""The periods the emulator serves: daily, weekly, monthly, quarterly and yearly ones, as a
small view over :mod:`joliba.dhis2.periods` with the names analytics shows, and analytics'
relative periods. Other period types are refused as a DHIS2 without them would."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from joliba.dhis2 import periods as dhis2_periods

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


def _view(period: dhis2_periods.Period) -> Period:
    return Period(period.id, str(period.type), period.start, period.end)


def parse(text: str) -> Period | None:
    """The period named by a DHIS2 ISO string, or None when it is not a valid period."""
    for pattern, kind in _PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        if not 1900 <= int(match.group(1)) <= 2200:
            return None
        try:
            return _view(dhis2_periods.parse(text, kind))
        except ValueError:
            return None
    return None


def month(year: int, number: int) -> Period:
    return _view(dhis2_periods.parse(f"{year}{number:02d}", "Monthly"))


def week_of(day: date) -> Period:
    return _view(dhis2_periods.period_of(day, "Weekly"))


def periods_between(period_type: str, start: date, end: date) -> list[Period]:
    """Monthly or weekly periods lying wholly inside ``start..end``."""
    if period_type not in ("Monthly", "Weekly") or end < start:
        return []
    return [
        _view(p)
        for p in dhis2_periods.periods_in(start, end, period_type)
        if p.start >= start and p.end <= end
    ]


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
