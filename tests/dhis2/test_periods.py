"""DHIS2 periods: every type parsed, formatted, generated and converted.

Property-style checks run over every day of 2018-2028 for every type; the week tables were
computed with ``java.time.WeekFields.of(startDay, 4)``, which is what DHIS2 itself uses.
"""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from joliba.dhis2.periods import (
    Period,
    PeriodType,
    convert,
    parse,
    period_of,
    periods_between,
    periods_in,
    periods_of_year,
)

ALL_TYPES = list(PeriodType)
WEEKLY_TYPES = [
    PeriodType.WEEKLY,
    PeriodType.WEEKLY_WEDNESDAY,
    PeriodType.WEEKLY_THURSDAY,
    PeriodType.WEEKLY_SATURDAY,
    PeriodType.WEEKLY_SUNDAY,
]
FIRST_DAY, LAST_DAY = date(2018, 1, 1), date(2028, 12, 31)


def every_day(first: date = FIRST_DAY, last: date = LAST_DAY) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def d(text: str) -> date:
    return date.fromisoformat(text)


# -- known identifiers -------------------------------------------------------------------------

EXAMPLES = [
    ("20240131", PeriodType.DAILY, "2024-01-31", "2024-01-31"),
    ("20240229", PeriodType.DAILY, "2024-02-29", "2024-02-29"),
    ("2024W1", PeriodType.WEEKLY, "2024-01-01", "2024-01-07"),
    ("2024W5", PeriodType.WEEKLY, "2024-01-29", "2024-02-04"),
    ("2025W1", PeriodType.WEEKLY, "2024-12-30", "2025-01-05"),
    ("2020W53", PeriodType.WEEKLY, "2020-12-28", "2021-01-03"),
    ("2026W53", PeriodType.WEEKLY, "2026-12-28", "2027-01-03"),
    ("2021W1", PeriodType.WEEKLY, "2021-01-04", "2021-01-10"),
    ("2024WedW1", PeriodType.WEEKLY_WEDNESDAY, "2024-01-03", "2024-01-09"),
    ("2024ThuW1", PeriodType.WEEKLY_THURSDAY, "2024-01-04", "2024-01-10"),
    ("2024SatW1", PeriodType.WEEKLY_SATURDAY, "2023-12-30", "2024-01-05"),
    ("2024SatW53", PeriodType.WEEKLY_SATURDAY, "2024-12-28", "2025-01-03"),
    ("2024SunW1", PeriodType.WEEKLY_SUNDAY, "2023-12-31", "2024-01-06"),
    ("2025SunW53", PeriodType.WEEKLY_SUNDAY, "2025-12-28", "2026-01-03"),
    ("2024BiW1", PeriodType.BI_WEEKLY, "2024-01-01", "2024-01-14"),
    ("2024BiW26", PeriodType.BI_WEEKLY, "2024-12-16", "2024-12-29"),
    ("2020BiW27", PeriodType.BI_WEEKLY, "2020-12-28", "2021-01-10"),
    ("2021BiW1", PeriodType.BI_WEEKLY, "2021-01-04", "2021-01-17"),
    ("202402", PeriodType.MONTHLY, "2024-02-01", "2024-02-29"),
    ("202302", PeriodType.MONTHLY, "2023-02-01", "2023-02-28"),
    ("202412", PeriodType.MONTHLY, "2024-12-01", "2024-12-31"),
    ("202401B", PeriodType.BI_MONTHLY, "2024-01-01", "2024-02-29"),
    ("202406B", PeriodType.BI_MONTHLY, "2024-11-01", "2024-12-31"),
    ("2024Q1", PeriodType.QUARTERLY, "2024-01-01", "2024-03-31"),
    ("2024Q4", PeriodType.QUARTERLY, "2024-10-01", "2024-12-31"),
    ("2024S1", PeriodType.SIX_MONTHLY, "2024-01-01", "2024-06-30"),
    ("2024S2", PeriodType.SIX_MONTHLY, "2024-07-01", "2024-12-31"),
    ("2024AprilS1", PeriodType.SIX_MONTHLY_APRIL, "2024-04-01", "2024-09-30"),
    ("2024AprilS2", PeriodType.SIX_MONTHLY_APRIL, "2024-10-01", "2025-03-31"),
    ("2024NovS1", PeriodType.SIX_MONTHLY_NOV, "2023-11-01", "2024-04-30"),
    ("2024NovS2", PeriodType.SIX_MONTHLY_NOV, "2024-05-01", "2024-10-31"),
    ("2024", PeriodType.YEARLY, "2024-01-01", "2024-12-31"),
    ("2024April", PeriodType.FINANCIAL_APRIL, "2024-04-01", "2025-03-31"),
    ("2024July", PeriodType.FINANCIAL_JULY, "2024-07-01", "2025-06-30"),
    ("2024Oct", PeriodType.FINANCIAL_OCT, "2024-10-01", "2025-09-30"),
    ("2024Nov", PeriodType.FINANCIAL_NOV, "2023-11-01", "2024-10-31"),
]


@pytest.mark.parametrize(("text", "kind", "start", "end"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_known_identifiers(text: str, kind: PeriodType, start: str, end: str) -> None:
    period = parse(text)
    assert (period.type, period.start, period.end) == (kind, d(start), d(end))
    assert period.id == str(period) == text
    assert parse(text, kind) == period
    assert period_of(d(start), kind) == period
    if not text.endswith("BiW27"):  # its last week is already the next year's BiW1
        assert period_of(d(end), kind) == period


def test_every_type_has_an_example() -> None:
    assert {e[1] for e in EXAMPLES} == set(PeriodType)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2024W05", "2024W5"),
        ("2024SunW05", "2024SunW5"),
        ("2024BiW01", "2024BiW1"),
        ("2024-01", "202401"),
        ("2024-01-31", "20240131"),
    ],
)
def test_lenient_forms_dhis2_accepts_are_read_and_written_canonically(
    text: str, canonical: str
) -> None:
    assert parse(text).id == canonical


# -- round trips and sequences over every day ---------------------------------------------------


@pytest.mark.parametrize("kind", ALL_TYPES, ids=str)
def test_every_day_round_trips(kind: PeriodType) -> None:
    for day in every_day():
        period = period_of(day, kind)
        assert period.contains(day)
        assert period.start <= day <= period.end
        assert parse(period.id) == period
        assert period.id == str(period)


@pytest.mark.parametrize("kind", ALL_TYPES, ids=str)
def test_periods_follow_one_another_without_gaps(kind: PeriodType) -> None:
    periods = periods_in(FIRST_DAY, LAST_DAY, kind)
    assert periods == sorted(periods)
    assert len(set(periods)) == len(periods)
    assert len({p.id for p in periods}) == len(periods)
    for before, after in itertools.pairwise(periods):
        assert before.next() == after
        assert after.previous() == before
        if before.id.endswith("BiW27"):  # DHIS2's 14-day BiW27 overlaps next year's BiW1
            assert after.start == before.start + timedelta(days=7)
        else:
            assert after.start == before.end + timedelta(days=1)
    assert periods[0].contains(FIRST_DAY) and periods[-1].contains(LAST_DAY)


@pytest.mark.parametrize("kind", ALL_TYPES, ids=str)
def test_shift_is_repeated_next(kind: PeriodType) -> None:
    start = period_of(date(2023, 6, 15), kind)
    walked = start
    for n in range(1, 60):
        walked = walked.next()
        assert start.shift(n) == start + n == walked
        assert walked - n == start == walked.shift(-n)


@pytest.mark.parametrize("kind", ALL_TYPES, ids=str)
def test_periods_of_year_are_numbered_from_one(kind: PeriodType) -> None:
    for year in range(2018, 2029):
        periods = periods_of_year(year, kind)
        assert periods == periods_between(periods[0], periods[-1])
        assert all(p.id.startswith(str(year)) for p in periods)
        assert periods[0].previous().id[:4] == str(year - 1)
        assert periods[-1].next().id[:4] == str(year + 1)


# -- weeks, checked against java.time.WeekFields(startDay, minimalDays=4) -----------------------

# Per type, for 2015..2030: start of week 1 as MMDD (12xx = December of the year before)
# and the number of weeks in that year.
JAVA_WEEKS = {
    PeriodType.WEEKLY: "1229/53 0104/52 0102/52 0101/52 1231/52 1230/53 0104/52 0103/52 "
    "0102/52 0101/52 1230/52 1229/53 0104/52 0103/52 0101/52 1231/52",
    PeriodType.WEEKLY_WEDNESDAY: "1231/52 1230/53 0104/52 0103/52 0102/52 0101/52 1230/52 "
    "1229/53 0104/52 0103/52 0101/52 1231/52 1230/52 1229/53 0103/52 0102/52",
    PeriodType.WEEKLY_THURSDAY: "0101/52 1231/52 1229/53 0104/52 0103/52 0102/52 1231/52 "
    "1230/52 1229/53 0104/52 0102/52 0101/52 1231/52 1230/53 0104/52 0103/52",
    PeriodType.WEEKLY_SATURDAY: "0103/52 0102/52 1231/52 1230/52 1229/53 0104/52 0102/52 "
    "0101/52 1231/52 1230/53 0104/52 0103/52 0102/52 0101/52 1230/52 1229/53",
    PeriodType.WEEKLY_SUNDAY: "0104/52 0103/52 0101/52 1231/52 1230/52 1229/53 0103/52 "
    "0102/52 0101/52 1231/52 1229/53 0104/52 0103/52 0102/52 1231/52 1230/52",
}
PREFIX = {
    PeriodType.WEEKLY: "W",
    PeriodType.WEEKLY_WEDNESDAY: "WedW",
    PeriodType.WEEKLY_THURSDAY: "ThuW",
    PeriodType.WEEKLY_SATURDAY: "SatW",
    PeriodType.WEEKLY_SUNDAY: "SunW",
}


@pytest.mark.parametrize("kind", WEEKLY_TYPES, ids=str)
def test_weeks_match_java_week_fields(kind: PeriodType) -> None:
    for year, cell in zip(range(2015, 2031), JAVA_WEEKS[kind].split(), strict=True):
        mmdd, weeks = cell.split("/")
        first_year = year - 1 if mmdd.startswith("12") else year
        week1 = date(first_year, int(mmdd[:2]), int(mmdd[2:]))
        periods = periods_of_year(year, kind)
        assert len(periods) == int(weeks)
        assert periods[0].start == week1
        assert periods[0].id == f"{year}{PREFIX[kind]}1"
        assert periods[-1].id == f"{year}{PREFIX[kind]}{weeks}"
        assert all(p.start.weekday() == week1.weekday() and p.days == 7 for p in periods)
        assert periods[0].contains(date(year, 1, 4))


@pytest.mark.parametrize("kind", WEEKLY_TYPES, ids=str)
def test_a_week_belongs_to_the_year_holding_four_of_its_days(kind: PeriodType) -> None:
    for day in every_day(date(2018, 12, 20), date(2019, 1, 12)) + every_day(
        date(2026, 12, 20), date(2027, 1, 12)
    ):
        period = period_of(day, kind)
        days_per_year: dict[int, int] = {}
        for i in range(7):
            year = (period.start + timedelta(days=i)).year
            days_per_year[year] = days_per_year.get(year, 0) + 1
        assert period.id.startswith(str(max(days_per_year, key=days_per_year.__getitem__)))


def test_iso_week_edges_at_year_boundaries() -> None:
    assert period_of(date(2024, 12, 30), PeriodType.WEEKLY).id == "2025W1"
    assert period_of(date(2021, 1, 3), PeriodType.WEEKLY).id == "2020W53"
    assert period_of(date(2027, 1, 3), PeriodType.WEEKLY).id == "2026W53"
    assert period_of(date(2023, 1, 1), PeriodType.WEEKLY).id == "2022W52"
    assert period_of(date(2023, 1, 1), PeriodType.WEEKLY_SUNDAY).id == "2023SunW1"
    assert period_of(date(2021, 1, 3), PeriodType.BI_WEEKLY).id == "2020BiW27"
    assert period_of(date(2021, 1, 4), PeriodType.BI_WEEKLY).id == "2021BiW1"
    assert period_of(date(2021, 1, 17), PeriodType.BI_WEEKLY).id == "2021BiW1"
    for year, weeks in [(2015, 53), (2020, 53), (2024, 52), (2026, 53), (2032, 53)]:
        assert len(periods_of_year(year, PeriodType.WEEKLY)) == weeks
        assert len(periods_of_year(year, PeriodType.BI_WEEKLY)) == (weeks + 1) // 2


def test_daily_counts_leap_years() -> None:
    assert len(periods_of_year(2024, PeriodType.DAILY)) == 366
    assert len(periods_of_year(2023, PeriodType.DAILY)) == 365
    assert len(periods_of_year(2000, PeriodType.DAILY)) == 366
    assert len(periods_of_year(1900, PeriodType.DAILY)) == 365
    assert parse("202402").days == 29 and parse("190002").days == 28


# -- invalid input ------------------------------------------------------------------------------

OUT_OF_RANGE = [
    "2024W54",
    "2024W53",
    "2026SunW53",
    "2024W0",
    "202413",
    "202400",
    "2024Q5",
    "2024Q0",
    "2024S3",
    "2024S0",
    "2024AprilS3",
    "2024NovS0",
    "202407B",
    "202400B",
    "2024BiW27",
    "2024BiW0",
    "20240230",
    "20230229",
    "2023-02-29",
    "20241301",
    "20240100",
]
UNRECOGNISED = [
    "",
    "garbage",
    "2024w5",
    " 2024W5",
    "2024W5 ",
    "2024W123",
    "24W5",
    "2024-1",
    "2024-0131",
    "2024Sep",
    "2024NovQ1",
    "2024Q",
    "2024AprilS",
    "2024S12",
    "\uff12\uff10\uff12\uff14",  # full-width digits
    "2024\n",
]


@pytest.mark.parametrize("text", OUT_OF_RANGE)
def test_out_of_range_identifiers_are_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match="invalid DHIS2 period") as error:
        parse(text)
    assert repr(text) in str(error.value)


@pytest.mark.parametrize("text", UNRECOGNISED)
def test_unrecognised_identifiers_list_the_accepted_formats(text: str) -> None:
    with pytest.raises(ValueError, match="unrecognised DHIS2 period") as error:
        parse(text)
    message = str(error.value)
    assert repr(text) in message
    for form in ("yyyyMMdd", "yyyyWn", "yyyySunWn", "yyyyBiWn", "yyyyNovSn", "yyyyNov"):
        assert form in message


def test_out_of_range_message_says_what_is_allowed() -> None:
    with pytest.raises(ValueError, match="numbered 1 to 52, not 54"):
        parse("2024W54")
    with pytest.raises(ValueError, match="numbered 1 to 4, not 5"):
        parse("2024Q5")


def test_parse_with_an_expected_type() -> None:
    assert parse("202401", "Monthly") == parse("202401")
    with pytest.raises(ValueError, match=r"'2024W5' is Weekly, not Monthly \(yyyyMM\)"):
        parse("2024W5", PeriodType.MONTHLY)
    with pytest.raises(ValueError, match="unknown DHIS2 period type 'Fortnightly'"):
        parse("2024W5", "Fortnightly")


def test_non_text_is_refused() -> None:
    with pytest.raises(ValueError, match="unrecognised"):
        parse(202401)  # type: ignore[arg-type]


# -- types and the Period value -----------------------------------------------------------------


def test_period_type_names_are_dhis2_names_and_lookups_are_forgiving() -> None:
    assert PeriodType("SixMonthlyApril") is PeriodType.SIX_MONTHLY_APRIL
    assert PeriodType("FinancialOct") is PeriodType.FINANCIAL_OCT
    assert PeriodType("MONTHLY") is PeriodType.MONTHLY
    assert PeriodType("weekly_wednesday") is PeriodType.WEEKLY_WEDNESDAY
    assert PeriodType("biweekly") is PeriodType.BI_WEEKLY
    assert PeriodType.WEEKLY_SUNDAY.iso_format == "yyyySunWn"
    assert PeriodType.QUARTERLY.frequency_days == 91
    with pytest.raises(ValueError, match="unknown DHIS2 period type"):
        period_of(date(2024, 1, 1), "Fortnightly")


def test_constructor_checks_the_bounds() -> None:
    assert Period(PeriodType.MONTHLY, d("2024-01-01"), d("2024-01-31")) == parse("202401")
    with pytest.raises(ValueError, match="is not a Monthly period"):
        Period(PeriodType.MONTHLY, d("2024-01-02"), d("2024-01-31"))
    with pytest.raises(ValueError, match="is not a Weekly period"):
        Period(PeriodType.WEEKLY, d("2024-01-02"), d("2024-01-08"))
    with pytest.raises(TypeError, match="start must be a date"):
        Period(PeriodType.DAILY, datetime(2024, 1, 1), d("2024-01-01"))
    with pytest.raises(TypeError, match="type must be a PeriodType"):
        Period("Daily", d("2024-01-01"), d("2024-01-01"))  # type: ignore[arg-type]


def test_periods_are_values() -> None:
    a, b = parse("2024Q1"), parse("2024Q1")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert parse("2024Q1") != parse("2024S1")
    mixed = [parse(t) for t in ["2024Q2", "202401", "2023", "2024S1", "2024Q1", "2024W1"]]
    assert [p.id for p in sorted(mixed)] == [
        "2023",
        "2024W1",
        "202401",
        "2024Q1",
        "2024S1",
        "2024Q2",
    ]
    assert parse("202401") < parse("202402") <= parse("202402")
    assert max(parse("2024W1"), parse("2024W2")).id == "2024W2"
    assert repr(parse("2024W1")) == "Period('2024W1', 2024-01-01..2024-01-07)"
    with pytest.raises(TypeError):
        _ = parse("2024") < "2025"
    with pytest.raises(TypeError):
        _ = parse("2024") + "1"  # type: ignore[operator]


def test_contains_overlaps_and_days() -> None:
    quarter = parse("2024Q1")
    assert quarter.contains(date(2024, 3, 31)) and not quarter.contains(date(2024, 4, 1))
    assert quarter.contains(datetime(2024, 2, 29, 23, 59))
    assert quarter.days == 91
    assert quarter.overlaps(parse("2024W13")) and not quarter.overlaps(parse("2024W14"))
    assert quarter.overlaps(parse("2024W1")) and parse("2024W1").overlaps(quarter)
    assert parse("2020BiW27").overlaps(parse("2021BiW1"))
    assert parse("2020BiW27").days == 14 and parse("2024AprilS2").days == 182


def test_period_of_accepts_datetimes_and_strings_for_the_type() -> None:
    assert period_of(datetime(2024, 1, 31, 22, 0), "Monthly") == parse("202401")
    assert period_of(datetime(2024, 1, 31, 22, 0), "Daily").start == date(2024, 1, 31)


def test_shift_examples_and_limits() -> None:
    assert (parse("202412") + 1).id == "202501"
    assert (parse("2024Q1") - 1).id == "2023Q4"
    assert (parse("20240228") + 1).id == "20240229"
    assert (parse("2020BiW26") + 1).id == "2020BiW27"
    assert (parse("2020BiW26") + 2).id == "2021BiW1"
    assert (parse("2021BiW1") - 1).id == "2020BiW27"
    assert (parse("2024Nov") + 1).id == "2025Nov"
    assert (parse("2024NovS1") + 1).id == "2024NovS2"
    assert (parse("2024NovS2") + 1).id == "2025NovS1"
    assert (parse("2024AprilS2") + 1).id == "2025AprilS1"
    assert parse("2024").shift(-2).id == "2022"
    assert parse("2024W52").shift(0) == parse("2024W52")
    with pytest.raises(ValueError, match="outside the supported dates"):
        parse("9999").next()
    with pytest.raises(ValueError, match="outside the supported dates"):
        parse("00010101").previous()


# -- ranges -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "ids"),
    [
        ("2024W51", "2025W2", ["2024W51", "2024W52", "2025W1", "2025W2"]),
        ("2020W52", "2021W1", ["2020W52", "2020W53", "2021W1"]),
        ("2026SunW52", "2027SunW1", ["2026SunW52", "2027SunW1"]),
        ("2025SunW52", "2026SunW1", ["2025SunW52", "2025SunW53", "2026SunW1"]),
        ("2020BiW26", "2021BiW1", ["2020BiW26", "2020BiW27", "2021BiW1"]),
        ("20231230", "20240102", ["20231230", "20231231", "20240101", "20240102"]),
        ("202311", "202402", ["202311", "202312", "202401", "202402"]),
        ("202305B", "202401B", ["202305B", "202306B", "202401B"]),
        ("2023Q4", "2024Q1", ["2023Q4", "2024Q1"]),
        ("2023S2", "2024S1", ["2023S2", "2024S1"]),
        (
            "2023AprilS2",
            "2025AprilS1",
            ["2023AprilS2", "2024AprilS1", "2024AprilS2", "2025AprilS1"],
        ),
        ("2024NovS1", "2025NovS1", ["2024NovS1", "2024NovS2", "2025NovS1"]),
        ("2022", "2024", ["2022", "2023", "2024"]),
        ("2023Nov", "2025Nov", ["2023Nov", "2024Nov", "2025Nov"]),
        ("2023July", "2024July", ["2023July", "2024July"]),
        ("2024Oct", "2024Oct", ["2024Oct"]),
    ],
)
def test_periods_between(first: str, last: str, ids: list[str]) -> None:
    assert [p.id for p in periods_between(parse(first), parse(last))] == ids


def test_periods_between_refuses_mixed_types_and_reversed_ranges() -> None:
    with pytest.raises(ValueError, match="types differ"):
        periods_between(parse("202401"), parse("2024Q1"))
    with pytest.raises(ValueError, match="first is after last"):
        periods_between(parse("202402"), parse("202401"))


def test_periods_in_a_date_range() -> None:
    ids = [p.id for p in periods_in(date(2024, 12, 25), date(2025, 1, 10), PeriodType.WEEKLY)]
    assert ids == ["2024W52", "2025W1", "2025W2"]
    ids = [p.id for p in periods_in(date(2024, 2, 15), date(2024, 11, 1), "FinancialNov")]
    assert ids == ["2024Nov", "2025Nov"]
    ids = [p.id for p in periods_in(date(2024, 3, 31), date(2024, 4, 1), "Quarterly")]
    assert ids == ["2024Q1", "2024Q2"]
    assert len(periods_in(date(2024, 1, 1), date(2024, 12, 31), "Daily")) == 366
    with pytest.raises(ValueError, match="is after end"):
        periods_in(date(2024, 2, 1), date(2024, 1, 1), PeriodType.MONTHLY)


# -- conversion ---------------------------------------------------------------------------------


def ids_of(periods: list[Period]) -> list[str]:
    return [p.id for p in periods]


@pytest.mark.parametrize(
    ("source", "target", "ids"),
    [
        ("2024Q1", PeriodType.MONTHLY, ["202401", "202402", "202403"]),
        ("2024S2", PeriodType.QUARTERLY, ["2024Q3", "2024Q4"]),
        ("2024", PeriodType.BI_MONTHLY, [f"2024{n:02d}B" for n in range(1, 7)]),
        ("2024April", PeriodType.QUARTERLY, ["2024Q2", "2024Q3", "2024Q4", "2025Q1"]),
        (
            "2024AprilS2",
            PeriodType.MONTHLY,
            ["202410", "202411", "202412", "202501", "202502", "202503"],
        ),
        ("2024NovS1", PeriodType.QUARTERLY, ["2024Q1", "2024Q2"]),
        ("202404", PeriodType.QUARTERLY, ["2024Q2"]),
        ("202404", PeriodType.YEARLY, ["2024"]),
        ("202404", PeriodType.FINANCIAL_APRIL, ["2024April"]),
        ("202403", PeriodType.FINANCIAL_APRIL, ["2023April"]),
        ("202411", PeriodType.FINANCIAL_NOV, ["2025Nov"]),
        ("202410", PeriodType.FINANCIAL_NOV, ["2024Nov"]),
        ("202411", PeriodType.SIX_MONTHLY_NOV, ["2025NovS1"]),
        ("202401", PeriodType.WEEKLY, ["2024W1", "2024W2", "2024W3", "2024W4"]),
        ("202412", PeriodType.WEEKLY, ["2024W49", "2024W50", "2024W51", "2024W52"]),
        ("202012", PeriodType.WEEKLY, ["2020W49", "2020W50", "2020W51", "2020W52", "2020W53"]),
        ("2024W5", PeriodType.MONTHLY, ["202402"]),
        ("2025W1", PeriodType.MONTHLY, ["202501"]),
        ("2025W1", PeriodType.YEARLY, ["2025"]),
        ("2020W53", PeriodType.MONTHLY, ["202012"]),
        ("2026W53", PeriodType.YEARLY, ["2026"]),
        ("2024SatW53", PeriodType.MONTHLY, ["202412"]),
        ("2025SunW1", PeriodType.YEARLY, ["2025"]),
        ("2024W1", PeriodType.BI_WEEKLY, ["2024BiW1"]),
        ("2024BiW1", PeriodType.WEEKLY, ["2024W1", "2024W2"]),
        ("2020BiW27", PeriodType.WEEKLY, ["2020W53"]),  # 2021W1 goes to 2021BiW1
        ("2024BiW3", PeriodType.MONTHLY, ["202401"]),
        ("2024W1", PeriodType.WEEKLY_SUNDAY, ["2024SunW1", "2024SunW2"]),
        ("2024", PeriodType.FINANCIAL_APRIL, ["2023April", "2024April"]),
        ("2024S1", PeriodType.SIX_MONTHLY_APRIL, ["2023AprilS2", "2024AprilS1"]),
        ("20241230", PeriodType.WEEKLY, ["2025W1"]),
        ("20241230", PeriodType.YEARLY, ["2024"]),
        ("202402", PeriodType.MONTHLY, ["202402"]),
    ],
)
def test_convert_examples(source: str, target: PeriodType, ids: list[str]) -> None:
    assert ids_of(convert(parse(source), target)) == ids


def test_convert_to_days_lists_every_day() -> None:
    days = convert(parse("202402"), PeriodType.DAILY)
    assert len(days) == 29 and days[0].id == "20240201" and days[-1].id == "20240229"
    assert len(convert(parse("2025W1"), "Daily")) == 7


LONGER_PAIRS = [
    (short, long)
    for short in ALL_TYPES
    for long in ALL_TYPES
    if short.frequency_days < long.frequency_days
]


@pytest.mark.parametrize(("short", "long"), LONGER_PAIRS, ids=lambda t: str(t))
def test_up_and_down_conversions_agree(short: PeriodType, long: PeriodType) -> None:
    first, last = date(2019, 1, 1), date(2026, 12, 31)
    seen: dict[Period, Period] = {}
    for container in periods_in(first, last, long):
        for part in convert(container, short):
            assert convert(part, long) == [container]
            assert part not in seen, f"{part} is in both {seen.get(part)} and {container}"
            seen[part] = container
    # every short period well inside the range is placed in exactly one long period
    inner = periods_in(date(2020, 1, 1), date(2025, 12, 31), short)
    assert all(p in seen for p in inner)


# -- documentation ------------------------------------------------------------------------------


def test_the_documented_example_runs() -> None:
    text = (Path(__file__).parents[2] / "docs" / "dhis2.md").read_text()
    section = text.split("\n## Periods\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/dhis2.md", "exec"), {})  # noqa: S102


def test_every_type_is_documented() -> None:
    text = (Path(__file__).parents[2] / "docs" / "dhis2.md").read_text()
    for kind in PeriodType:
        assert f"| `{kind.name}` | {kind.value} | `{kind.iso_format}` |" in text
