"""A table profile as the dataset page draws it: one row per column, with small charts.

The profiler stores plain JSON (see :mod:`joliba.storage.profiling`); this turns it into
numbers a template can print and rectangles an inline SVG can draw, so the templates hold
no arithmetic. Charts are drawn in a fixed viewBox and stretched by CSS.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: The histogram's drawing area (SVG user units): one slot per bin.
HIST_WIDTH = 100
HIST_HEIGHT = 32
#: Top-value bars are as long as their share of the most frequent value.
BAR_WIDTH = 100


@dataclass(frozen=True)
class HistBar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class TopValue:
    value: str
    count: int
    width: float
    #: The value's share of all rows, as text ("25%").
    share: str


@dataclass
class ColumnView:
    name: str
    type: str
    nulls: int | None
    nulls_pct: str
    distinct: int | None
    distinct_exact: bool
    min: str
    max: str
    mean: str
    histogram: list[HistBar] = field(default_factory=list)
    top: list[TopValue] = field(default_factory=list)
    bbox: list[Any] | None = None
    encoding: str = ""


def shown(value: Any) -> str:
    """A statistic as text: numbers without needless decimals, nothing as an empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` as people read it: 25%, 2.5%, <0.1% (never 0% for some)."""
    if not whole:
        return ""
    value = 100 * part / whole
    if 0 < value < 0.1:
        return "<0.1%"
    return f"{shown(round(value, 1))}%"


def _histogram(bins: list[dict[str, Any]]) -> list[HistBar]:
    if not bins:
        return []
    highest = max(int(b.get("count") or 0) for b in bins) or 1
    slot = HIST_WIDTH / len(bins)
    bars = []
    for index, item in enumerate(bins):
        count = int(item.get("count") or 0)
        height = round(count / highest * (HIST_HEIGHT - 1), 2) if count else 0.0
        bars.append(
            HistBar(
                x=round(index * slot + slot * 0.08, 2),
                y=round(HIST_HEIGHT - height, 2),
                width=round(slot * 0.84, 2),
                height=height,
                label=f"{shown(item.get('start'))} to {shown(item.get('end'))}: {count}",
            )
        )
    return bars


def _top(values: list[dict[str, Any]], rows: int) -> list[TopValue]:
    if not values:
        return []
    highest = max(int(v.get("count") or 0) for v in values) or 1
    return [
        TopValue(
            value=shown(v.get("value")) if v.get("value") is not None else "null",
            count=int(v.get("count") or 0),
            width=round(int(v.get("count") or 0) / highest * BAR_WIDTH, 2),
            share=percent(int(v.get("count") or 0), rows),
        )
        for v in values
    ]


def columns_of(profile: dict[str, Any] | None) -> list[ColumnView]:
    """The profile's columns, ready to print; an empty list for no profile."""
    if not profile:
        return []
    rows = int(profile.get("rows") or 0)
    views = []
    for column in profile.get("columns") or []:
        nulls = column.get("nulls")
        geometry = column.get("geometry") or {}
        views.append(
            ColumnView(
                name=str(column.get("name", "")),
                type=str(column.get("type", "")),
                nulls=nulls,
                nulls_pct=percent(nulls, rows) if nulls is not None else "",
                distinct=column.get("distinct"),
                distinct_exact=bool(column.get("distinct_exact", True)),
                min=shown(column.get("min")),
                max=shown(column.get("max")),
                mean=shown(column.get("mean")),
                histogram=_histogram(column.get("histogram") or []),
                top=_top(column.get("top") or [], rows),
                bbox=geometry.get("bbox"),
                encoding=str(geometry.get("encoding", "")),
            )
        )
    return views


def cell(value: Any) -> str:
    """A value of a previewed or queried row as text (lists and records as JSON)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
