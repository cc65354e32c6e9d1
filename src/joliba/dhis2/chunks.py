"""Splitting one data value selection into ``GET /api/dataValueSets`` requests that together
return every value exactly once.

Requests are the product of batches of org units, of data elements and of periods. Each
dimension is *partitioned*: every org unit, data element and period is in exactly one batch,
so no value can be lost or fetched twice. A date range is never cut into smaller date ranges:
DHIS2 returns the values whose period lies wholly within ``startDate..endDate``, so a week
straddling the edge of two windows would be in neither (the OpenHEXA toolbox's fault). A long
range becomes the list of periods of each period type involved that lie within it, and that
list is split. With ``children=true``, an org unit below another requested one is dropped,
since its values come with its ancestor's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from joliba.dhis2 import periods as dhis2_periods
from joliba.dhis2.selection import DataValueSelection

Params = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Chunks:
    """How many of each dimension one request may carry."""

    org_units: int = 50
    #: With ``children=True``: org units per request, counting each requested unit's whole
    #: subtree. A unit with a bigger subtree is asked alone (without children) and its
    #: children are asked with theirs, so no request grows with the size of the country.
    subtree_units: int = 250
    #: With ``children=True``: about how many values one request may return (units x
    #: elements x periods, disaggregations not counted); it can lower ``subtree_units``, so
    #: that the memory an extraction needs does not grow with the selection.
    values: int = 20_000
    data_elements: int = 50
    #: Periods per request. A date range is sent whole when the periods within it (of the
    #: elements' period types together) are no more than this, else as lists of periods.
    periods: int = 6

    def __post_init__(self) -> None:
        for name in ("org_units", "subtree_units", "values", "data_elements", "periods"):
            if getattr(self, name) < 1:
                raise ValueError(f"Chunks.{name} must be at least 1, not {getattr(self, name)}")


@dataclass(frozen=True)
class Resolved:
    """What metadata said about a selection."""

    #: Every data element of the selection, in order (datasets and groups expanded).
    elements: tuple[str, ...]
    #: Period types of each element's data sets (empty: unknown).
    period_types: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: The org units to request: the selection's and its groups' members, once each (with
    #: children, none below another).
    org_units: tuple[str, ...] = ()
    #: With children: the size of each requested unit's subtree (itself included).
    weights: Mapping[str, int] = field(default_factory=dict)
    #: With children: units whose subtree was too big, asked without children (their
    #: children are in ``org_units``).
    alone: tuple[str, ...] = ()
    #: With children: the subtree units one request may carry (``subtree_limit``).
    unit_limit: int = 0


def roots(paths: Mapping[str, str], org_units: Sequence[str]) -> tuple[str, ...]:
    """The units not below another of them (``paths`` as DHIS2 gives them: ``/a/b/c``);
    units without a known path are kept."""
    wanted = set(org_units)
    kept = []
    for unit in org_units:
        ancestors = [a for a in (paths.get(unit) or "").split("/")[:-1] if a]
        if not any(a in wanted and a != unit for a in ancestors):
            kept.append(unit)
    return tuple(kept)


def subtree_limit(selection: DataValueSelection, resolved_elements: int, chunks: Chunks) -> int:
    """Units per request with children, so that units x elements x periods stays within
    ``chunks.values`` (and ``chunks.subtree_units``)."""
    elements = max(1, min(resolved_elements, chunks.data_elements))
    periods = chunks.periods
    if selection.periods:
        periods = min(len(selection.periods), chunks.periods)
    elif selection.start_date and selection.end_date:
        months = (selection.end_date - selection.start_date).days // 28 + 1
        periods = max(1, min(months, chunks.periods))  # monthly data as the yardstick
    return max(1, min(chunks.subtree_units, chunks.values // (elements * periods)))


def split_subtrees(
    units: Sequence[str], paths: Mapping[str, str], limit: int
) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, int]]:
    """Units to ask with children, each with a subtree of at most ``limit`` units (or a
    single unit), the units to ask alone, and each subtree's size, from every unit's path.

    A unit with a bigger subtree is asked alone and its children are split the same way:
    together they cover the subtree once, values at every level included."""
    size: dict[str, int] = {}
    children: dict[str, list[str]] = {}
    for unit, path in sorted(paths.items()):
        chain = [a for a in path.split("/") if a]
        for ancestor in chain:
            size[ancestor] = size.get(ancestor, 0) + 1
        if len(chain) > 1 and chain[-1] == unit:
            children.setdefault(chain[-2], []).append(unit)
    whole: list[str] = []
    alone: list[str] = []
    weights: dict[str, int] = {}

    def visit(unit: str) -> None:
        weight = size.get(unit, 1)
        if weight <= limit or not children.get(unit):
            whole.append(unit)
            weights[unit] = weight
            return
        alone.append(unit)
        for child in children[unit]:
            visit(child)

    for unit in units:
        visit(unit)
    return tuple(whole), tuple(alone), weights


def weighted_batches(
    items: Sequence[str], weights: Mapping[str, int], limit: int
) -> list[tuple[str, ...]]:
    """Consecutive batches whose weights add up to at most ``limit`` (an item heavier than
    that is a batch of its own)."""
    batches: list[tuple[str, ...]] = []
    current: list[str] = []
    total = 0
    for item in items:
        weight = weights.get(item, 1)
        if current and total + weight > limit:
            batches.append(tuple(current))
            current, total = [], 0
        current.append(item)
        total += weight
    if current:
        batches.append(tuple(current))
    return batches or [()]


def periods_within(start: date, end: date, period_type: str) -> list[str]:
    """Identifiers of the periods of a type lying wholly within ``start..end``, which is what
    DHIS2 returns for that date range."""
    return [
        p.id
        for p in dhis2_periods.periods_in(start, end, period_type)
        if p.start >= start and p.end <= end
    ]


def _batches(items: Sequence[str], size: int) -> list[tuple[str, ...]]:
    return [tuple(items[i : i + size]) for i in range(0, len(items), size)] or [()]


def _period_specs(
    selection: DataValueSelection, types: frozenset[str], chunks: Chunks
) -> list[Params]:
    """The period parameters of the requests for elements of these period types."""
    if selection.periods:
        return [
            tuple(("period", p) for p in b) for b in _batches(selection.periods, chunks.periods)
        ]
    if selection.start_date is None or selection.end_date is None:
        return [()]  # lastUpdated or its duration alone: DHIS2 cannot be asked by period
    whole: Params = (
        ("startDate", selection.start_date.isoformat()),
        ("endDate", selection.end_date.isoformat()),
    )
    if not types:
        return [whole]  # period types unknown: only the date range finds every value
    listed: list[str] = []
    for period_type in sorted(types):
        try:
            listed += periods_within(selection.start_date, selection.end_date, period_type)
        except ValueError:  # a period type we cannot list
            return [whole]
    if len(listed) <= chunks.periods:
        return [whole]  # one request either way; the range also finds other period types
    return [tuple(("period", p) for p in b) for b in _batches(listed, chunks.periods)]


def plan(
    selection: DataValueSelection, resolved: Resolved, chunks: Chunks, *, by_element: bool
) -> list[Params]:
    """The requests' parameters, in a fixed order: period-type group, periods, elements, units.

    ``by_element`` asks by ``dataElement`` (DHIS2 2.39 and later); before, the selection's
    data sets and groups go whole into every request."""
    common: list[tuple[str, str]] = []
    if selection.last_updated:
        common.append(("lastUpdated", selection.last_updated))
    if selection.last_updated_duration:  # DHIS2 counts it back from its own clock
        common.append(("lastUpdatedDuration", selection.last_updated_duration))
    common += [("attributeOptionCombo", a) for a in selection.attribute_option_combos]
    if selection.include_deleted:
        common.append(("includeDeleted", "true"))
    # Each batch of units with the parameters it needs: subtrees with children=true, and
    # the units too big to be asked with theirs on their own.
    unit_batches: list[Params] = []
    if not resolved.org_units and not resolved.alone:
        return []  # org unit groups without members: nothing to ask
    if selection.children:
        units = resolved.org_units
        limit = resolved.unit_limit or chunks.subtree_units
        for batch in weighted_batches(units, resolved.weights, limit):
            unit_batches.append((*_units(batch), ("children", "true")))
        if resolved.alone:
            unit_batches += [_units(b) for b in _batches(resolved.alone, chunks.org_units)]
    else:
        unit_batches = [_units(b) for b in _batches(resolved.org_units, chunks.org_units)]

    groups: dict[frozenset[str], list[str]] = {}
    for element in resolved.elements:
        groups.setdefault(frozenset(resolved.period_types.get(element, ())), []).append(element)
    requests: list[Params] = []
    if not by_element:
        types = frozenset().union(*groups) if groups and frozenset() not in groups else frozenset()
        what: Params = tuple(("dataSet", d) for d in selection.datasets) + tuple(
            ("dataElementGroup", g) for g in selection.data_element_groups
        )
        for period_spec in _period_specs(selection, types, chunks):
            for where in unit_batches:
                requests.append(what + period_spec + where + tuple(common))
        return requests
    for types, elements in groups.items():
        for period_spec in _period_specs(selection, types, chunks):
            for batch in _batches(elements, chunks.data_elements):
                what = tuple(("dataElement", e) for e in batch)
                for where in unit_batches:
                    requests.append(what + period_spec + where + tuple(common))
    return requests


def _units(units: tuple[str, ...]) -> Params:
    return tuple(("orgUnit", u) for u in units)


def batched(items: Sequence[str], size: int) -> Iterator[tuple[str, ...]]:
    """Non-empty batches of ``size`` (for metadata look-ups by id)."""
    for i in range(0, len(items), size):
        yield tuple(items[i : i + size])
