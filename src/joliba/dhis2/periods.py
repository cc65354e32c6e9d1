"""DHIS2 periods: parse, format, generate and convert every fixed period type.

A :class:`Period` is a type, a first day and a last day (inclusive); its DHIS2 identifier
(``2024W5``, ``202401B``, ``2024AprilS2``, …) is :attr:`Period.id`. Everything here follows the
ISO 8601 (Gregorian) calendar, as DHIS2 does by default, and uses the standard library only.

Rules, taken from DHIS2's own period types (see ``docs/dhis2.md``):

- A week starting on a given weekday belongs to the year that holds at least four of its
  days; week 1 is the week that contains 4 January. This is ISO 8601 for Monday weeks and the
  same rule for Wednesday, Thursday, Saturday and Sunday weeks.
- A bi-week is a pair of ISO weeks (1-2, 3-4, ...). In a 53-week year ``BiW27`` starts on the
  Monday of week 53 and, as in DHIS2, lasts 14 days, so it overlaps ``BiW1`` of the next year.
- ``FinancialNov`` and ``SixMonthlyNov`` S1 start in November of the year *before* the one in
  their identifier; every other type is labelled with the year it starts in.
- Converting to a longer period type uses the period's start date, or for weekly types its
  start date plus three days (the period that holds most of the week), as DHIS2 analytics does.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import total_ordering

__all__ = [
    "Period",
    "PeriodType",
    "convert",
    "parse",
    "period_of",
    "periods_between",
    "periods_in",
    "periods_of_year",
]

_DAY = timedelta(days=1)


class PeriodType(StrEnum):
    """DHIS2's fixed period types; the value is DHIS2's name (``dataSets.periodType``).

    ``PeriodType("MONTHLY")`` and ``PeriodType("monthly")`` also work.
    """

    DAILY = "Daily"
    WEEKLY = "Weekly"
    WEEKLY_WEDNESDAY = "WeeklyWednesday"
    WEEKLY_THURSDAY = "WeeklyThursday"
    WEEKLY_SATURDAY = "WeeklySaturday"
    WEEKLY_SUNDAY = "WeeklySunday"
    BI_WEEKLY = "BiWeekly"
    MONTHLY = "Monthly"
    BI_MONTHLY = "BiMonthly"
    QUARTERLY = "Quarterly"
    SIX_MONTHLY = "SixMonthly"
    SIX_MONTHLY_APRIL = "SixMonthlyApril"
    SIX_MONTHLY_NOV = "SixMonthlyNov"
    YEARLY = "Yearly"
    FINANCIAL_APRIL = "FinancialApril"
    FINANCIAL_JULY = "FinancialJuly"
    FINANCIAL_OCT = "FinancialOct"
    FINANCIAL_NOV = "FinancialNov"

    @classmethod
    def _missing_(cls, value: object) -> PeriodType | None:
        if isinstance(value, str):
            key = value.replace("_", "").lower()
            for member in cls:
                if member.value.lower() == key:
                    return member
        return None

    @property
    def frequency_days(self) -> int:
        """DHIS2's frequency order: the nominal length in days (Monthly is 30)."""
        return _FREQUENCY[self]

    @property
    def iso_format(self) -> str:
        """The identifier's pattern as DHIS2 documents it, e.g. ``yyyyWedWn``."""
        return _ISO_FORMAT[self]


_FREQUENCY: dict[PeriodType, int] = {
    PeriodType.DAILY: 1,
    PeriodType.WEEKLY: 7,
    PeriodType.WEEKLY_WEDNESDAY: 7,
    PeriodType.WEEKLY_THURSDAY: 7,
    PeriodType.WEEKLY_SATURDAY: 7,
    PeriodType.WEEKLY_SUNDAY: 7,
    PeriodType.BI_WEEKLY: 14,
    PeriodType.MONTHLY: 30,
    PeriodType.BI_MONTHLY: 61,
    PeriodType.QUARTERLY: 91,
    PeriodType.SIX_MONTHLY: 182,
    PeriodType.SIX_MONTHLY_APRIL: 182,
    PeriodType.SIX_MONTHLY_NOV: 182,
    PeriodType.YEARLY: 365,
    PeriodType.FINANCIAL_APRIL: 365,
    PeriodType.FINANCIAL_JULY: 365,
    PeriodType.FINANCIAL_OCT: 365,
    PeriodType.FINANCIAL_NOV: 365,
}


@dataclass(frozen=True)
class _Weeks:
    """Weeks starting on ``weekday`` (Monday is 0), written ``yyyy{prefix}n``."""

    weekday: int
    prefix: str


@dataclass(frozen=True)
class _Months:
    """Periods of ``months`` months, the year's first one starting in ``base`` (1 to 12).

    The identifier's year is the year the period-year starts in, plus ``year_offset``.
    """

    months: int
    base: int
    year_offset: int
    label: str  # str.format pattern with y (year) and n (number in the year)


_WEEKS: dict[PeriodType, _Weeks] = {
    PeriodType.WEEKLY: _Weeks(0, "W"),
    PeriodType.WEEKLY_WEDNESDAY: _Weeks(2, "WedW"),
    PeriodType.WEEKLY_THURSDAY: _Weeks(3, "ThuW"),
    PeriodType.WEEKLY_SATURDAY: _Weeks(5, "SatW"),
    PeriodType.WEEKLY_SUNDAY: _Weeks(6, "SunW"),
}

_MONTHS: dict[PeriodType, _Months] = {
    PeriodType.MONTHLY: _Months(1, 1, 0, "{y:04d}{n:02d}"),
    PeriodType.BI_MONTHLY: _Months(2, 1, 0, "{y:04d}{n:02d}B"),
    PeriodType.QUARTERLY: _Months(3, 1, 0, "{y:04d}Q{n}"),
    PeriodType.SIX_MONTHLY: _Months(6, 1, 0, "{y:04d}S{n}"),
    PeriodType.SIX_MONTHLY_APRIL: _Months(6, 4, 0, "{y:04d}AprilS{n}"),
    PeriodType.SIX_MONTHLY_NOV: _Months(6, 11, 1, "{y:04d}NovS{n}"),
    PeriodType.YEARLY: _Months(12, 1, 0, "{y:04d}"),
    PeriodType.FINANCIAL_APRIL: _Months(12, 4, 0, "{y:04d}April"),
    PeriodType.FINANCIAL_JULY: _Months(12, 7, 0, "{y:04d}July"),
    PeriodType.FINANCIAL_OCT: _Months(12, 10, 0, "{y:04d}Oct"),
    PeriodType.FINANCIAL_NOV: _Months(12, 11, 1, "{y:04d}Nov"),
}

_ISO_FORMAT: dict[PeriodType, str] = {
    PeriodType.DAILY: "yyyyMMdd",
    **{t: f"yyyy{w.prefix}n" for t, w in _WEEKS.items()},
    PeriodType.BI_WEEKLY: "yyyyBiWn",
    PeriodType.MONTHLY: "yyyyMM",
    PeriodType.BI_MONTHLY: "yyyyMMB",
    PeriodType.QUARTERLY: "yyyyQn",
    PeriodType.SIX_MONTHLY: "yyyySn",
    PeriodType.SIX_MONTHLY_APRIL: "yyyyAprilSn",
    PeriodType.SIX_MONTHLY_NOV: "yyyyNovSn",
    PeriodType.YEARLY: "yyyy",
    PeriodType.FINANCIAL_APRIL: "yyyyApril",
    PeriodType.FINANCIAL_JULY: "yyyyJuly",
    PeriodType.FINANCIAL_OCT: "yyyyOct",
    PeriodType.FINANCIAL_NOV: "yyyyNov",
}

# Identifier patterns, tried in order. Besides the canonical forms, DHIS2 also accepts
# yyyy-MM-dd, yyyy-MM and a zero-padded week number; parse() accepts them too.
_Y = r"(?P<y>\d{4})"
_PATTERNS: tuple[tuple[PeriodType, re.Pattern[str]], ...] = (
    (PeriodType.DAILY, re.compile(_Y + r"(?P<m>\d{2})(?P<d>\d{2})", re.ASCII)),
    (PeriodType.DAILY, re.compile(_Y + r"-(?P<m>\d{2})-(?P<d>\d{2})", re.ASCII)),
    *((t, re.compile(_Y + w.prefix + r"(?P<n>\d{1,2})", re.ASCII)) for t, w in _WEEKS.items()),
    (PeriodType.BI_WEEKLY, re.compile(_Y + r"BiW(?P<n>\d{1,2})", re.ASCII)),
    (PeriodType.MONTHLY, re.compile(_Y + r"-?(?P<n>\d{2})", re.ASCII)),
    (PeriodType.BI_MONTHLY, re.compile(_Y + r"(?P<n>\d{2})B", re.ASCII)),
    (PeriodType.QUARTERLY, re.compile(_Y + r"Q(?P<n>\d)", re.ASCII)),
    (PeriodType.SIX_MONTHLY, re.compile(_Y + r"S(?P<n>\d)", re.ASCII)),
    (PeriodType.SIX_MONTHLY_APRIL, re.compile(_Y + r"AprilS(?P<n>\d)", re.ASCII)),
    (PeriodType.SIX_MONTHLY_NOV, re.compile(_Y + r"NovS(?P<n>\d)", re.ASCII)),
    (PeriodType.YEARLY, re.compile(_Y, re.ASCII)),
    (PeriodType.FINANCIAL_APRIL, re.compile(_Y + r"April", re.ASCII)),
    (PeriodType.FINANCIAL_JULY, re.compile(_Y + r"July", re.ASCII)),
    (PeriodType.FINANCIAL_OCT, re.compile(_Y + r"Oct", re.ASCII)),
    (PeriodType.FINANCIAL_NOV, re.compile(_Y + r"Nov", re.ASCII)),
)

ACCEPTED_FORMATS = ", ".join(f"{t.iso_format} ({t.value})" for t in PeriodType)


# -- calendar arithmetic -----------------------------------------------------------------------


def _first_week_start(weeks: _Weeks, year: int) -> date:
    """The first day of week 1: the week (starting on ``weeks.weekday``) holding 4 January."""
    jan4 = date(year, 1, 4)
    return jan4 - timedelta(days=(jan4.weekday() - weeks.weekday) % 7)


def _weeks_in_year(weeks: _Weeks, year: int) -> int:
    return (_first_week_start(weeks, year + 1) - _first_week_start(weeks, year)).days // 7


def _iso_weeks_in_year(year: int) -> int:
    return _weeks_in_year(_WEEKS[PeriodType.WEEKLY], year)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def _months_bounds(months: int, first_index: int) -> tuple[date, date]:
    last = _month_start(first_index + months - 1)
    return _month_start(first_index), last.replace(day=monthrange(last.year, last.month)[1])


def _bounds(period_type: PeriodType, day: date) -> tuple[date, date]:
    """First and last day of the period of ``period_type`` that contains ``day``."""
    if period_type is PeriodType.DAILY:
        return day, day
    if period_type in _WEEKS:
        start = day - timedelta(days=(day.weekday() - _WEEKS[period_type].weekday) % 7)
        return start, start + timedelta(days=6)
    if period_type is PeriodType.BI_WEEKLY:
        start = day - timedelta(days=day.weekday())
        if start.isocalendar().week % 2 == 0:
            start -= timedelta(days=7)
        return start, start + timedelta(days=13)
    spec = _MONTHS[period_type]
    index = _month_index(day)
    first = index - (index - (spec.base - 1)) % spec.months
    return _months_bounds(spec.months, first)


def _key(period_type: PeriodType, start: date) -> tuple[int, int]:
    """(year, number in that year) of the period starting on ``start``, as in its identifier."""
    if period_type in _WEEKS:
        spec = _WEEKS[period_type]
        year = (start + timedelta(days=3)).year
        return year, (start - _first_week_start(spec, year)).days // 7 + 1
    if period_type is PeriodType.BI_WEEKLY:
        iso = start.isocalendar()
        return iso.year, (iso.week + 1) // 2
    spec_m = _MONTHS[period_type]
    index = _month_index(start)
    year_start = index - (index - (spec_m.base - 1)) % 12
    return year_start // 12 + spec_m.year_offset, (index - year_start) // spec_m.months + 1


def _periods_in_year(period_type: PeriodType, year: int) -> int:
    if period_type is PeriodType.DAILY:
        return (date(year + 1, 1, 1) - date(year, 1, 1)).days
    if period_type in _WEEKS:
        return _weeks_in_year(_WEEKS[period_type], year)
    if period_type is PeriodType.BI_WEEKLY:
        return (_iso_weeks_in_year(year) + 1) // 2
    return 12 // _MONTHS[period_type].months


def _from_key(period_type: PeriodType, year: int, number: int) -> tuple[date, date]:
    """Bounds of period ``number`` (1-based) of ``year``; ``ValueError`` when out of range."""
    count = _periods_in_year(period_type, year)
    if not 1 <= number <= count:
        raise ValueError(
            f"{period_type.value} periods of {year:04d} are numbered 1 to {count}, not {number}"
        )
    if period_type is PeriodType.DAILY:
        day = date(year, 1, 1) + timedelta(days=number - 1)
        return day, day
    if period_type in _WEEKS:
        start = _first_week_start(_WEEKS[period_type], year) + timedelta(weeks=number - 1)
        return start, start + timedelta(days=6)
    if period_type is PeriodType.BI_WEEKLY:
        start = date.fromisocalendar(year, 2 * number - 1, 1)
        return start, start + timedelta(days=13)
    spec = _MONTHS[period_type]
    year_start = (year - spec.year_offset) * 12 + spec.base - 1
    return _months_bounds(spec.months, year_start + (number - 1) * spec.months)


def _identifier(period_type: PeriodType, start: date) -> str:
    if period_type is PeriodType.DAILY:
        return f"{start.year:04d}{start.month:02d}{start.day:02d}"
    year, number = _key(period_type, start)
    if period_type in _WEEKS:
        return f"{year:04d}{_WEEKS[period_type].prefix}{number}"
    if period_type is PeriodType.BI_WEEKLY:
        return f"{year:04d}BiW{number}"
    return _MONTHS[period_type].label.format(y=year, n=number)


def _as_date(day: date) -> date:
    return day.date() if isinstance(day, datetime) else day


# -- the period ----------------------------------------------------------------------------------


@total_ordering
@dataclass(frozen=True, eq=True)
class Period:
    """One DHIS2 period: its type and its first and last day (both inclusive).

    Build one with :func:`parse` or :func:`period_of`; the constructor checks that
    ``start``/``end`` really are the bounds of a period of ``type``. Periods sort by start,
    then end, then type name; ``period + n`` is the n-th next period of the same type.
    """

    type: PeriodType
    start: date
    end: date

    def __post_init__(self) -> None:
        if not isinstance(self.type, PeriodType):
            raise TypeError(f"type must be a PeriodType, not {self.type!r}")
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, date) or isinstance(value, datetime):
                raise TypeError(f"{name} must be a date, not {value!r}")
        try:
            bounds = _bounds(self.type, self.start)
        except (OverflowError, ValueError):
            bounds = None
        if bounds != (self.start, self.end):
            raise ValueError(
                f"{self.start.isoformat()}..{self.end.isoformat()} is not a "
                f"{self.type.value} period"
            )

    @property
    def id(self) -> str:
        """The DHIS2 identifier, e.g. ``2024W5`` or ``2024AprilS2``."""
        return _identifier(self.type, self.start)

    @property
    def days(self) -> int:
        """How many days the period covers."""
        return (self.end - self.start).days + 1

    def __str__(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"Period({self.id!r}, {self.start.isoformat()}..{self.end.isoformat()})"

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Period):
            return NotImplemented
        return (self.start, self.end, self.type.value) < (other.start, other.end, other.type.value)

    def contains(self, day: date) -> bool:
        """Whether ``day`` is one of the period's days."""
        return self.start <= _as_date(day) <= self.end

    def overlaps(self, other: Period) -> bool:
        """Whether the two periods share at least one day."""
        return self.start <= other.end and other.start <= self.end

    def next(self) -> Period:
        """The period of the same type that follows this one."""
        return self.shift(1)

    def previous(self) -> Period:
        """The period of the same type that precedes this one."""
        return self.shift(-1)

    def shift(self, n: int) -> Period:
        """The period ``n`` periods later (earlier when ``n`` is negative)."""
        try:
            if self.type is PeriodType.DAILY:
                return period_of(self.start + timedelta(days=n), self.type)
            if self.type in _WEEKS:
                return period_of(self.start + timedelta(weeks=n), self.type)
            if self.type in _MONTHS:
                months = _MONTHS[self.type].months
                return period_of(_month_start(_month_index(self.start) + n * months), self.type)
            period = self  # bi-weeks: step one at a time, BiW27 makes the step uneven
            for _ in range(abs(n)):
                day = period.end + _DAY if n > 0 else period.start - _DAY
                period = period_of(day, self.type)
            return period
        except (OverflowError, ValueError) as error:
            raise ValueError(f"{self.id} shifted by {n} is outside the supported dates") from error

    def __add__(self, n: int) -> Period:
        if not isinstance(n, int):
            return NotImplemented
        return self.shift(n)

    def __sub__(self, n: int) -> Period:
        if not isinstance(n, int):
            return NotImplemented
        return self.shift(-n)


# -- functions -----------------------------------------------------------------------------------


def _period_type(value: PeriodType | str) -> PeriodType:
    try:
        return PeriodType(value)
    except ValueError:
        names = ", ".join(t.value for t in PeriodType)
        raise ValueError(f"unknown DHIS2 period type {value!r}; known types: {names}") from None


def parse(text: str, period_type: PeriodType | str | None = None) -> Period:
    """The period a DHIS2 identifier names, e.g. ``parse("2024W5")``.

    With ``period_type``, the identifier must be of that type. Raises ``ValueError`` naming
    the text and, when it matches no format, listing the accepted ones.
    """
    expected = None if period_type is None else _period_type(period_type)
    for candidate, pattern in _PATTERNS:
        match = pattern.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            continue
        groups = match.groupdict()
        year = int(groups["y"])
        try:
            if candidate is PeriodType.DAILY:
                start = date(year, int(groups["m"]), int(groups["d"]))
                end = start
            else:
                start, end = _from_key(candidate, year, int(groups.get("n") or 1))
        except (OverflowError, ValueError) as error:
            raise ValueError(f"invalid DHIS2 period {text!r}: {error}") from None
        if expected is not None and candidate is not expected:
            raise ValueError(
                f"DHIS2 period {text!r} is {candidate.value}, not {expected.value} "
                f"({expected.iso_format})"
            )
        return Period(candidate, start, end)
    raise ValueError(f"unrecognised DHIS2 period {text!r}; accepted formats: {ACCEPTED_FORMATS}")


def period_of(day: date, period_type: PeriodType | str) -> Period:
    """The period of ``period_type`` that contains ``day`` (a datetime counts as its date)."""
    kind = _period_type(period_type)
    try:
        start, end = _bounds(kind, _as_date(day))
    except (OverflowError, ValueError) as error:
        raise ValueError(f"no {kind.value} period for {day!r}: {error}") from None
    return Period(kind, start, end)


def periods_between(first: Period, last: Period) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive; both must be of the same type."""
    if first.type is not last.type:
        raise ValueError(
            f"cannot list periods between {first.id} ({first.type.value}) "
            f"and {last.id} ({last.type.value}): types differ"
        )
    if last < first:
        raise ValueError(
            f"cannot list periods between {first.id} and {last.id}: first is after last"
        )
    periods = [first]
    while periods[-1] != last:
        periods.append(periods[-1].next())
    return periods


def periods_in(start: date, end: date, period_type: PeriodType | str) -> list[Period]:
    """The periods of ``period_type`` that the days from ``start`` to ``end`` fall in."""
    start, end = _as_date(start), _as_date(end)
    if end < start:
        raise ValueError(f"start {start.isoformat()} is after end {end.isoformat()}")
    return periods_between(period_of(start, period_type), period_of(end, period_type))


def periods_of_year(year: int, period_type: PeriodType | str) -> list[Period]:
    """The periods whose identifier carries ``year``, e.g. 2020W1 to 2020W53.

    Unlike DHIS2's own generator, bi-weeks include ``BiW27`` in 53-week years.
    """
    kind = _period_type(period_type)
    first = Period(kind, *_from_key(kind, year, 1))
    last = Period(kind, *_from_key(kind, year, _periods_in_year(kind, year)))
    return periods_between(first, last)


def _anchor(period: Period) -> date:
    """The day DHIS2 uses to place a period in a longer one."""
    return period.start + timedelta(days=3) if period.type in _WEEKS else period.start


def convert(period: Period, period_type: PeriodType | str) -> list[Period]:
    """The periods of ``period_type`` that correspond to ``period``.

    - Longer type (e.g. month to quarter): the one period containing the month's start date,
      or for weekly types the start date plus three days (the period holding most of the
      week). This is how DHIS2 analytics aggregates.
    - Shorter type (e.g. quarter to months, month to weeks): the periods that the rule above
      places in ``period``, so a week is in exactly one month: the one holding its Thursday
      (for ISO weeks).
    - Same length but another type (e.g. Weekly to WeeklySunday, Yearly to FinancialApril):
      every period that overlaps; DHIS2 defines no aggregation between these.
    """
    kind = _period_type(period_type)
    if kind is period.type:
        return [period]
    if kind.frequency_days > period.type.frequency_days:
        return [period_of(_anchor(period), kind)]
    if kind.frequency_days == period.type.frequency_days:
        return [p for p in periods_in(period.start, period.end, kind) if p.overlaps(period)]
    candidates = periods_in(period.start - timedelta(days=3), period.end, kind)
    return [p for p in candidates if period_of(_anchor(p), period.type) == period]
