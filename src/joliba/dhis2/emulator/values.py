"""Data values: computed from the seed when asked for, never stored, plus the values imported
through ``POST /api/dataValueSets``, which override them.

A facility reports a data element for a period with a probability of about 90 %; the value
depends on the element's magnitude, the facility's size and, for malaria, the rainy season.
Only periods of the five years up to the current one that have started carry values.

Every random draw is a splitmix64 hash of the seed, a salt and the integer keys of the data
element, period, organisation unit and category option combo. The same arithmetic runs on one
value in Python (``Values.generated``) and on blocks of many thousand values as Polars
expressions (``Values.blocks``), so both give exactly the same values, and serving a million
values costs a few Polars passes instead of a million Python objects.
"""

from __future__ import annotations

import math
import threading
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property

import polars as pl

from joliba.dhis2.emulator import _periods
from joliba.dhis2.emulator.country import Country
from joliba.dhis2.emulator.ids import DEFAULT_COC

Key = tuple[str, str, str, str, str]  # dataElement, period, orgUnit, categoryOptionCombo, aoc

GAP_SHARE = 0.1  # share of (data element, period, facility) left empty
ENTRY_DAYS = 20  # values are entered within this many days after the period ends
WEEKS_PER_MONTH = 4.3
BLOCK_ROWS = 50_000  # generated values per block: small enough for the CPU caches
TEMPLATE_CACHE = 16  # templates kept for requests repeating the same elements and periods

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB
SALT = 1
DAY_BITS = (1 << 11) - 1
PERIOD_TYPES = {"Daily": 1, "Weekly": 2, "Monthly": 3, "Quarterly": 4, "Yearly": 5}
U64 = pl.UInt64


@dataclass
class DataValue:
    data_element: str
    period: str
    org_unit: str
    coc: str
    aoc: str
    value: str
    comment: str = ""
    followup: bool = False
    stored_by: str = "admin"
    created: str = ""
    last_updated: str = ""
    deleted: bool = False

    @property
    def key(self) -> Key:
        return (self.data_element, self.period, self.org_unit, self.coc, self.aoc)

    def as_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "dataElement": self.data_element,
            "period": self.period,
            "orgUnit": self.org_unit,
            "categoryOptionCombo": self.coc,
            "attributeOptionCombo": self.aoc,
            "value": self.value,
            "storedBy": self.stored_by,
            "created": self.created,
            "lastUpdated": self.last_updated,
            "comment": self.comment,
            "followup": self.followup,
        }
        if self.deleted:
            body["deleted"] = True
        return body


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


# --- the hash, in Python and as Polars expressions (the same arithmetic) -----------------------


def _mix(x: int) -> int:
    x = ((x ^ (x >> 30)) * MIX1) & MASK
    x = ((x ^ (x >> 27)) * MIX2) & MASK
    return x ^ (x >> 31)


def _fold(state: int, part: int) -> int:
    return _mix(((state ^ part) + GOLDEN) & MASK)


def _unit(state: int) -> float:
    """A float in [0, 1) from the top 53 bits."""
    return (state >> 11) * 2.0**-53


def _u64(number: int) -> pl.Expr:
    return pl.lit(number, dtype=U64)


def _fold_columns(frame: pl.LazyFrame, name: str, part: pl.Expr) -> pl.LazyFrame:
    """``name = _fold(name, part)`` on every row, one step per pass so that no expression
    repeats another (``x ^ (x >> 30)`` as a single expression would compute x twice)."""
    col = pl.col(name)
    frame = frame.with_columns(((col ^ part) + _u64(GOLDEN)).alias(name))
    # unsigned floor division by 2**n is the right shift; UInt64 products wrap like & MASK
    frame = frame.with_columns(((col ^ (col // _u64(1 << 30))) * _u64(MIX1)).alias(name))
    frame = frame.with_columns(((col ^ (col // _u64(1 << 27))) * _u64(MIX2)).alias(name))
    return frame.with_columns((col ^ (col // _u64(1 << 31))).alias(name))


def _unit_expr(state: pl.Expr) -> pl.Expr:
    return (state // _u64(1 << 11)).cast(pl.Float64) * 2.0**-53


def _day(state: int) -> int:
    """The day of entry after the period's end, from the low bits (the gap uses the high)."""
    return ((state & DAY_BITS) * ENTRY_DAYS) >> 11


def _day_expr(state: pl.Expr) -> pl.Expr:
    return ((state & _u64(DAY_BITS)) * ENTRY_DAYS // (1 << 11)).cast(pl.UInt32)


def _period_key(period: _periods.Period) -> int:
    return period.start.toordinal() * 8 + PERIOD_TYPES.get(period.type, 0)


def _season(period: _periods.Period) -> float:
    """Malaria's rainy season: up to 80 % more cases in July, 80 % fewer in January."""
    month = (period.start + timedelta(days=3)).month
    return 1.0 + 0.8 * math.sin((month - 4) / 12 * 2 * math.pi)


def _stamp(period: _periods.Period, day: int) -> str:
    entered = period.end + timedelta(days=1 + day)
    return timestamp(datetime(entered.year, entered.month, entered.day, 9, 30))


# --- blocks -----------------------------------------------------------------------------------


@dataclass
class Template:
    """The slots of one org unit for a list of data elements and periods, in DHIS2's order
    (periods, then elements of the period's type, then their category option combos)."""

    periods: list[_periods.Period]
    slot_period: list[int]  # index into periods
    slot_de: list[str]
    slot_coc: list[str]
    live: pl.DataFrame  # slots of periods in the data window, with their hash prefixes

    @property
    def width(self) -> int:
        return len(self.slot_de)

    @cached_property
    def stamps(self) -> list[str]:
        """created/lastUpdated of a generated value, at index period * ENTRY_DAYS + day."""
        return [_stamp(p, day) for p in self.periods for day in range(ENTRY_DAYS)]

    @cached_property
    def where(self) -> dict[tuple[str, str, str], int]:
        """(period id, data element, coc) → slot."""
        ids = [p.id for p in self.periods]
        return {
            (ids[p], de, coc): slot
            for slot, (p, de, coc) in enumerate(
                zip(self.slot_period, self.slot_de, self.slot_coc, strict=True)
            )
        }


@dataclass
class Block:
    """The values of consecutive org units of a request, in order.

    ``generated`` has one row per generated value (overridden ones removed) with columns
    ``unit`` (index into the request's org units), ``slot`` (into the template), ``amount``
    (the value) and ``day`` (into ``template.stamps``); its order, ``unit * width + slot``,
    is the answer's. ``imported`` are the overriding values as (position, value), sorted;
    values of another attribute option combo come in a last block of their own."""

    template: Template
    org_units: Sequence[str]
    generated: pl.DataFrame
    imported: list[tuple[int, DataValue]] = field(default_factory=list)

    def __len__(self) -> int:
        return self.generated.height + len(self.imported)

    def data_values(self) -> Iterator[DataValue]:
        """The block as DataValue objects, in order (for small answers and tests)."""
        t = self.template
        width = t.width
        ids = [p.id for p in t.periods]
        rows = self.generated.select("unit", "slot", "amount", "day").iter_rows()
        made = [
            (
                unit * width + slot,
                DataValue(
                    t.slot_de[slot],
                    ids[t.slot_period[slot]],
                    self.org_units[unit],
                    t.slot_coc[slot],
                    DEFAULT_COC,
                    str(amount),
                    created=t.stamps[day],
                    last_updated=t.stamps[day],
                ),
            )
            for unit, slot, amount, day in rows
        ]
        merged = sorted(made + self.imported, key=lambda item: item[0])
        for _, value in merged:
            yield value


class Values:
    """Generated values and the imported overrides of one emulator."""

    def __init__(self, country: Country, *, today: date | None = None) -> None:
        self.country = country
        self.today = today or date.today()
        self.first_year = self.today.year - 4
        self.overrides: dict[Key, DataValue] = {}
        self.lock = threading.Lock()
        # stable integer keys for the hash: positions in the seed's metadata
        self._de_key = {o["id"]: i for i, o in enumerate(country.collections["dataElements"])}
        units = country.collections["organisationUnits"]
        self._unit_key = {o["id"]: i for i, o in enumerate(units)}
        cocs = country.collections["categoryOptionCombos"]
        self._coc_key = {o["id"]: i for i, o in enumerate(cocs)}
        self._malaria = {
            o["id"]
            for o in country.collections["dataElements"]
            if o["code"].startswith("DE_MALARIA")
        }
        self._seed = country.seed & MASK
        self._templates: dict[tuple[tuple[str, ...], tuple[str, ...]], Template] = {}

    def in_range(self, period: _periods.Period) -> bool:
        return period.start.year >= self.first_year and period.start <= self.today

    def _prefix(self, de_key: int, period_key: int) -> int:
        """The hash state of (seed, data element, period), before the org unit."""
        return _fold(_fold(_fold(self._seed, SALT), de_key), period_key)

    def generated(self, de: str, pe: _periods.Period, ou: str, coc: str) -> DataValue | None:
        """The value the seed gives, or None for a gap (about one in ten)."""
        size = self.country.facility_size.get(ou)
        if size is None or not self.in_range(pe) or de not in self._de_key:
            return None
        if coc not in self._coc_key:
            return None
        state = _fold(self._prefix(self._de_key[de], _period_key(pe)), self._unit_key[ou])
        if _unit(state) < GAP_SHARE:
            return None
        noise = _unit(_fold(state, self._coc_key[coc]))
        level = self.country.magnitude.get(de, 0.0) * size
        if pe.type == "Weekly":
            level = level / WEEKS_PER_MONTH
        if de in self._malaria:
            level = level * _season(pe)
        amount = math.floor(level * (0.5 + noise) + 0.5)
        stamp = _stamp(pe, _day(state))
        return DataValue(
            de, pe.id, ou, coc, DEFAULT_COC, str(amount), created=stamp, last_updated=stamp
        )

    def value(
        self,
        de: str,
        pe: _periods.Period,
        ou: str,
        coc: str,
        aoc: str = DEFAULT_COC,
        *,
        include_deleted: bool = False,
    ) -> DataValue | None:
        stored = self.overrides.get((de, pe.id, ou, coc, aoc))
        if stored is not None:
            if stored.deleted and not include_deleted:
                return None
            return stored
        return self.generated(de, pe, ou, coc) if aoc == DEFAULT_COC else None

    def number(self, de: str, pe: _periods.Period, ou: str, coc: str) -> float | None:
        found = self.value(de, pe, ou, coc)
        if found is None:
            return None
        try:
            return float(found.value)
        except ValueError:
            return None

    # --- many values at once ------------------------------------------------------------------

    def template(
        self, data_elements: Sequence[str], periods: Sequence[_periods.Period]
    ) -> Template:
        cache_key = (tuple(data_elements), tuple(p.id for p in periods))
        found = self._templates.get(cache_key)
        if found is None:
            found = self._build_template(list(data_elements), list(periods))
            if len(self._templates) >= TEMPLATE_CACHE:
                self._templates.pop(next(iter(self._templates)), None)
            self._templates[cache_key] = found
        return found

    def _build_template(self, des: list[str], periods: list[_periods.Period]) -> Template:
        country = self.country
        slot_period: list[int] = []
        slot_de: list[str] = []
        slot_coc: list[str] = []
        live: dict[str, list[object]] = {
            k: [] for k in ("slot", "period", "de", "pe", "coc", "mag", "weekly", "season")
        }
        for p_index, period in enumerate(periods):
            in_range, season = self.in_range(period), _season(period)
            for de in des:
                if country.period_type.get(de) != period.type:
                    continue
                for coc in country.cocs_of(de):
                    if in_range:
                        live["slot"].append(len(slot_de))
                        live["period"].append(p_index)
                        live["de"].append(self._de_key[de])
                        live["pe"].append(_period_key(period))
                        live["coc"].append(self._coc_key[coc])
                        live["mag"].append(country.magnitude.get(de, 0.0))
                        live["weekly"].append(period.type == "Weekly")
                        live["season"].append(season if de in self._malaria else None)
                    slot_period.append(p_index)
                    slot_de.append(de)
                    slot_coc.append(coc)
        table = pl.DataFrame(
            live,
            schema={
                "slot": pl.UInt32,
                "period": pl.UInt32,
                "de": U64,
                "pe": U64,
                "coc": U64,
                "mag": pl.Float64,
                "weekly": pl.Boolean,
                "season": pl.Float64,
            },
        )
        start = _fold(self._seed, SALT)
        prefixed = _fold_columns(
            table.lazy().with_columns(state=_u64(start)), "state", pl.col("de")
        )
        prefixed = _fold_columns(prefixed, "state", pl.col("pe"))
        frame = prefixed.select(
            "slot", "period", "coc", "mag", "weekly", "season", "state"
        ).collect()
        return Template(periods, slot_period, slot_de, slot_coc, frame)

    def blocks(
        self,
        data_elements: Sequence[str],
        periods: Sequence[_periods.Period],
        org_units: Sequence[str],
        *,
        include_deleted: bool = False,
        other_attribute_combos: bool = True,
        attribute_combos: frozenset[str] | None = None,
        rows: int = BLOCK_ROWS,
    ) -> Iterator[Block]:
        """Every value of the combinations, in blocks of about ``rows`` values: org units,
        then periods, then elements, then category option combos; imported values of another
        attribute option combo last (unless ``other_attribute_combos`` is false).
        ``attribute_combos`` keeps only the values of those attribute option combos."""
        template = self.template(data_elements, periods)
        hidden, imported, others = self._imported(template, org_units, include_deleted)
        if attribute_combos is not None:
            others = [value for value in others if value.aoc in attribute_combos]
        starts = [position for position, _ in imported]
        width = max(1, template.width)
        per_block = max(1, rows // width)
        # generated values all have the default attribute option combo
        defaults = attribute_combos is None or DEFAULT_COC in attribute_combos
        for first in range(0, len(org_units) if defaults else 0, per_block):
            last = min(first + per_block, len(org_units))
            generated = self._generate(template, org_units, first, last)
            low, high = first * width, last * width
            gone = hidden[bisect_left(hidden, low) : bisect_left(hidden, high)]
            if gone:
                position = pl.col("unit").cast(U64) * width + pl.col("slot")
                generated = generated.filter(~position.is_in(gone))
            mine = imported[bisect_left(starts, low) : bisect_left(starts, high)]
            yield Block(template, org_units, generated, mine)
        if others and other_attribute_combos:
            end = len(org_units) * width
            yield Block(
                template,
                org_units,
                self._generate(template, org_units, 0, 0),
                [(end + i, value) for i, value in enumerate(others)],
            )

    def select(
        self,
        data_elements: list[str],
        periods: list[_periods.Period],
        org_units: list[str],
        *,
        include_deleted: bool = False,
    ) -> Iterator[DataValue]:
        """Values for every combination, lazily: facilities, then periods, then elements."""
        for block in self.blocks(
            data_elements, periods, org_units, include_deleted=include_deleted
        ):
            yield from block.data_values()

    def numbers(
        self, de: str, periods: Sequence[_periods.Period], org_units: Sequence[str]
    ) -> dict[tuple[str, str, str], float]:
        """(org unit, period id, coc) → the numeric value of ``de`` (default attribute combo),
        as ``number`` gives them one by one, for analytics."""
        found: dict[tuple[str, str, str], float] = {}
        for block in self.blocks([de], periods, org_units, other_attribute_combos=False):
            t = block.template
            ids = [p.id for p in t.periods]
            frame = block.generated
            for unit, slot, amount in zip(
                frame["unit"].to_list(),
                frame["slot"].to_list(),
                frame["amount"].to_list(),
                strict=True,
            ):
                found[(org_units[unit], ids[t.slot_period[slot]], t.slot_coc[slot])] = float(amount)
            for _, value in block.imported:
                try:
                    found[(value.org_unit, value.period, value.coc)] = float(value.value)
                except ValueError:
                    continue
        return found

    def _imported(
        self, template: Template, org_units: Sequence[str], include_deleted: bool
    ) -> tuple[list[int], list[tuple[int, DataValue]], list[DataValue]]:
        """Positions of overridden slots, the overriding values in their positions, and the
        values of other attribute option combos."""
        if not self.overrides:
            return [], [], []
        wanted_des = set(template.slot_de)
        wanted_pes = {p.id for p in template.periods}
        unit_index: dict[str, int] = {}
        for index, unit in enumerate(org_units):
            unit_index.setdefault(unit, index)
        hidden: list[int] = []
        imported: list[tuple[int, DataValue]] = []
        others: list[DataValue] = []
        for key, stored in list(self.overrides.items()):
            de, pe, ou, coc, aoc = key
            if de not in wanted_des or pe not in wanted_pes or ou not in unit_index:
                continue
            shown = include_deleted or not stored.deleted
            if aoc != DEFAULT_COC:
                if shown:
                    others.append(stored)
                continue
            slot = template.where.get((pe, de, coc))
            if slot is None:
                continue
            position = unit_index[ou] * template.width + slot
            hidden.append(position)
            if shown:
                imported.append((position, stored))
        imported.sort(key=lambda item: item[0])
        return sorted(hidden), imported, others

    def _generate(
        self, template: Template, org_units: Sequence[str], first: int, last: int
    ) -> pl.DataFrame:
        """The generated values of org units ``first..last`` (facilities only)."""
        sizes = self.country.facility_size
        units = [i for i in range(first, last) if org_units[i] in sizes]
        facilities = pl.DataFrame(
            {
                "unit": units,
                "ukey": [self._unit_key[org_units[i]] for i in units],
                "size": [sizes[org_units[i]] for i in units],
            },
            schema={"unit": pl.UInt32, "ukey": U64, "size": pl.Float64},
        )
        # left then right: org units, then slots, the answer's order
        joined = facilities.lazy().join(
            template.live.lazy(), how="cross", maintain_order="left_right"
        )
        return _amounts(joined).collect()


def _amounts(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Gaps dropped, then each value's amount and day: the operations of
    ``Values.generated``, in the same order, so the same floats."""
    base = pl.col("mag") * pl.col("size")
    weekly = pl.when(pl.col("weekly")).then(base / WEEKS_PER_MONTH).otherwise(base)
    level = pl.when(pl.col("season").is_null()).then(weekly).otherwise(weekly * pl.col("season"))
    frame = _fold_columns(frame, "state", pl.col("ukey"))
    frame = frame.filter(_unit_expr(pl.col("state")) >= GAP_SHARE).with_columns(
        day=pl.col("period") * ENTRY_DAYS + _day_expr(pl.col("state"))
    )
    frame = _fold_columns(frame, "state", pl.col("coc"))
    return frame.select(
        "unit",
        "slot",
        amount=(level * (_unit_expr(pl.col("state")) + 0.5) + 0.5).floor().cast(pl.Int64),
        day="day",
    )
