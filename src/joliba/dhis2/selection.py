"""``DataValueSelection``: which aggregate data values to read from ``GET /api/dataValueSets``.

One frozen object holds what ``DHIS2.data_value_sets``, ``iter_data_value_sets`` and
``data_value_sets_to_parquet`` are asked for, checked when it is made: a bad selection raises
``ValueError`` naming the field, before any request. The methods take the same keywords and
build it, or take one made beforehand (``dataclasses.replace`` makes variants of it).

    from joliba.dhis2 import DataValueSelection
    malaria = DataValueSelection(datasets=["BfMAe6Itzgt"], org_units=["ImspTQPwCqd"],
                                 children=True, periods=["202401", "202402"])

Only the standard library and :mod:`joliba.dhis2.periods`: cheap to import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict, Unpack

from joliba.dhis2 import periods as dhis2_periods

#: DHIS2's own rule for ``lastUpdatedDuration`` (``DateUtils.getDuration``): a whole number
#: of days, hours, minutes or seconds.
DURATION = re.compile(r"^(\d+)([dhms])$")

_LISTS = (
    "data_elements",
    "datasets",
    "data_element_groups",
    "org_units",
    "org_unit_groups",
    "periods",
    "attribute_option_combos",
)


class SelectionKeywords(TypedDict, total=False):
    """The keywords of a selection, as callers may give them (lists of ids: any iterable
    but a string, such as a list, a tuple or a Polars Series)."""

    data_elements: Iterable[str]
    datasets: Iterable[str]
    data_element_groups: Iterable[str]
    org_units: Iterable[str]
    org_unit_groups: Iterable[str]
    children: bool
    periods: Iterable[str]
    start_date: date | str | None
    end_date: date | str | None
    last_updated: date | datetime | str | None
    last_updated_duration: str | timedelta | None
    attribute_option_combos: Iterable[str]
    include_deleted: bool


@dataclass(frozen=True, init=False)
class DataValueSelection:
    """What to extract: data, where, when, and which values of those.

    - ``data_elements``, ``datasets``, ``data_element_groups``: ids, at least one of them.
    - ``org_units`` (with ``children=True`` for all their descendants) and/or
      ``org_unit_groups`` (their member units; DHIS2 refuses children with groups).
    - ``periods``, *or* ``start_date`` and ``end_date``, and/or ``last_updated`` (changed
      since then) *or* ``last_updated_duration`` (changed within the last ``"5d"``, ``"2h"``,
      ``"30m"``, ``"90s"`` or a ``timedelta``, by the server's clock).
    - ``attribute_option_combos``: only values of these attribute option combos.
    - ``include_deleted``: soft-deleted values too, with a ``deleted`` column.
    """

    data_elements: tuple[str, ...]
    datasets: tuple[str, ...]
    data_element_groups: tuple[str, ...]
    org_units: tuple[str, ...]
    org_unit_groups: tuple[str, ...]
    children: bool
    #: Canonical identifiers (``2024W05`` is kept as ``2024W5``).
    periods: tuple[str, ...]
    start_date: date | None
    end_date: date | None
    #: As DHIS2 reads it: an aware datetime is kept in UTC, without offset.
    last_updated: str | None
    #: DHIS2's form: ``5d``, ``2h``, ``30m``, ``90s``.
    last_updated_duration: str | None
    attribute_option_combos: tuple[str, ...]
    include_deleted: bool

    def __init__(self, **given: Unpack[SelectionKeywords]) -> None:
        unknown = sorted(set(given) - SelectionKeywords.__optional_keys__)
        if unknown:
            raise TypeError(f"DataValueSelection got unexpected keywords: {', '.join(unknown)}")
        raw: Mapping[str, Any] = given
        lists = {name: _ids(name, raw.get(name, ())) for name in _LISTS}
        if not (lists["data_elements"] or lists["datasets"] or lists["data_element_groups"]):
            raise ValueError("give data_elements, datasets or data_element_groups")
        children = _flag("children", raw.get("children", False))
        if not (lists["org_units"] or lists["org_unit_groups"]):
            raise ValueError(
                "give org_units (with children=True for their descendants) or org_unit_groups"
            )
        if children and lists["org_unit_groups"]:
            raise ValueError(
                "children=True applies to org_units only: DHIS2 refuses it with "
                "org_unit_groups (E2007)"
            )
        start = _day("start_date", raw.get("start_date"))
        end = _day("end_date", raw.get("end_date"))
        if (start is None) != (end is None):
            raise ValueError("give start_date and end_date together")
        if start and end and start > end:
            raise ValueError(f"start_date {start} is after end_date {end}")
        if lists["periods"] and start:
            raise ValueError("give periods or start_date/end_date, not both")
        try:  # canonical identifiers: 2024W05 is sent as 2024W5
            canonical = _unique([dhis2_periods.parse(text).id for text in lists["periods"]])
        except ValueError as exc:
            raise ValueError(f"periods: {exc}") from None
        moment = _moment(raw.get("last_updated"))
        duration = _duration(raw.get("last_updated_duration"))
        if moment and duration:
            raise ValueError("give last_updated or last_updated_duration, not both")
        if not (canonical or start or moment or duration):
            raise ValueError(
                "give periods, start_date and end_date, last_updated or last_updated_duration"
            )
        values: dict[str, Any] = {
            **lists,
            "children": children,
            "periods": canonical,
            "start_date": start,
            "end_date": end,
            "last_updated": moment,
            "last_updated_duration": duration,
            "include_deleted": _flag("include_deleted", raw.get("include_deleted", False)),
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @classmethod
    def of(
        cls, selection: DataValueSelection | None, keywords: SelectionKeywords
    ) -> DataValueSelection:
        """``selection`` itself, or the one ``keywords`` describe (not both)."""
        if selection is None:
            return cls(**keywords)
        if not isinstance(selection, DataValueSelection):
            raise TypeError(
                f"selection must be a DataValueSelection, not {type(selection).__name__}"
            )
        if keywords:
            raise TypeError(
                "give a DataValueSelection or selection keywords, not both "
                f"(also given: {', '.join(sorted(keywords))}); "
                "dataclasses.replace(selection, …) makes a variant"
            )
        return selection


def _ids(name: str, given: object) -> tuple[str, ...]:
    if isinstance(given, str | bytes):
        raise ValueError(f"{name} must be a list of ids, not the string {given!r}")
    if not isinstance(given, Iterable):  # lists, tuples, sets, Polars Series…
        raise ValueError(f"{name} must be a list of ids, not {type(given).__name__}")
    return _unique([str(item) for item in given])


def _unique(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i.strip() for i in items if i.strip()))


def _flag(name: str, given: object) -> bool:
    if isinstance(given, str):  # "false" would count as true
        raise ValueError(f"{name} must be True or False, not the string {given!r}")
    return bool(given)


def _day(name: str, value: object) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name} must be a date like 2024-01-31, not {value!r}") from None


def _moment(value: object) -> str | None:
    """``lastUpdated`` as DHIS2 reads it: aware datetimes are sent in UTC, without offset."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds")
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise ValueError(
            f"last_updated must be a date, a datetime or ISO text, not {type(value).__name__}"
        )
    return value


def _duration(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
        if seconds < 0 or seconds != int(seconds):
            raise ValueError(
                f"last_updated_duration must be a whole, positive number of seconds, not {value}"
            )
        return f"{int(seconds)}s"
    if isinstance(value, str) and DURATION.match(value):
        return value
    raise ValueError(
        "last_updated_duration must be a number and a unit, d, h, m or s (such as '5d' or "
        f"'2h'), or a timedelta, not {value!r}"
    )
