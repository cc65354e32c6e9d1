"""Data values: computed from the seed when asked for, never stored, plus the values imported
through ``POST /api/dataValueSets``, which override them.

A facility reports a data element for a period with a probability of about 90 %; the value
depends on the element's magnitude, the facility's size and, for malaria, the rainy season.
Only periods of the five years up to the current one that have started carry values.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from joliba.dhis2.emulator import _periods
from joliba.dhis2.emulator.country import DEFAULT_COC, Country

Key = tuple[str, str, str, str, str]  # dataElement, period, orgUnit, categoryOptionCombo, aoc


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


def _unit(seed: int, *parts: str) -> float:
    digest = hashlib.blake2b(f"{seed}|{'|'.join(parts)}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


class Values:
    """Generated values and the imported overrides of one emulator."""

    def __init__(self, country: Country, *, today: date | None = None) -> None:
        self.country = country
        self.today = today or date.today()
        self.first_year = self.today.year - 4
        self.overrides: dict[Key, DataValue] = {}
        self.lock = threading.Lock()

    def in_range(self, period: _periods.Period) -> bool:
        return period.start.year >= self.first_year and period.start <= self.today

    def generated(self, de: str, pe: _periods.Period, ou: str, coc: str) -> DataValue | None:
        """The value the seed gives, or None for a gap (about one in ten)."""
        if not self.in_range(pe) or ou not in self.country.facility_size:
            return None
        seed = self.country.seed
        if _unit(seed, "gap", de, pe.id, ou) < 0.1:
            return None
        noise = _unit(seed, "v", de, pe.id, ou, coc)
        level = self.country.magnitude.get(de, 0.0) * self.country.facility_size[ou]
        if pe.type == "Weekly":
            level /= 4.3
        if self.country.by_id[de]["code"].startswith("DE_MALARIA"):
            month = (pe.start + timedelta(days=3)).month
            level *= 1.0 + 0.8 * math.sin((month - 4) / 12 * 2 * math.pi)
        amount = max(0, round(level * (0.5 + noise)))
        entered = pe.end + timedelta(days=1 + int(_unit(seed, "d", de, pe.id, ou) * 20))
        stamp = timestamp(datetime(entered.year, entered.month, entered.day, 9, 30))
        return DataValue(
            de,
            pe.id,
            ou,
            coc,
            DEFAULT_COC,
            str(amount),
            stored_by="admin",
            created=stamp,
            last_updated=stamp,
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

    def select(
        self,
        data_elements: list[str],
        periods: list[_periods.Period],
        org_units: list[str],
        *,
        include_deleted: bool = False,
    ) -> Iterator[DataValue]:
        """Values for every combination, lazily: facilities, then periods, then elements."""
        wanted_des = set(data_elements)
        wanted_pes = {p.id for p in periods}
        wanted_ous = set(org_units)
        for ou in org_units:
            for pe in periods:
                for de in data_elements:
                    if self.country.period_type.get(de) != pe.type:
                        continue
                    for coc in self.country.cocs_of(de):
                        found = self.value(de, pe, ou, coc, include_deleted=include_deleted)
                        if found is not None:
                            yield found
        # values imported for another attribute option combo than the default
        for key, stored in list(self.overrides.items()):
            if key[4] == DEFAULT_COC or (stored.deleted and not include_deleted):
                continue
            if key[0] in wanted_des and key[1] in wanted_pes and key[2] in wanted_ous:
                yield stored

    def number(self, de: str, pe: _periods.Period, ou: str, coc: str) -> float | None:
        found = self.value(de, pe, ou, coc)
        if found is None:
            return None
        try:
            return float(found.value)
        except ValueError:
            return None
