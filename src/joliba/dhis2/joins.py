"""Names and the org unit hierarchy joined onto tables of DHIS2 ids (data values, analytics,
org units): only the ids present are looked up, each once per :class:`Lookup`.

- :func:`add_names` puts ``<column>_name`` after each id column it knows (``data_element``,
  ``category_option_combo``, ``attribute_option_combo``, ``org_unit``, or those given).
- :func:`add_hierarchy` adds ``level_1_id``, ``level_1_name``, … for every level of the
  server's hierarchy (``filledOrganisationUnitLevels``): the unit's ancestor at that level, the
  unit itself at its own level, null below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from joliba.dhis2.data_values import by_id

if TYPE_CHECKING:
    from joliba.dhis2.client import DHIS2

#: Id columns that get a name, and the collection their ids are in.
NAMED: dict[str, str] = {
    "data_element": "dataElements",
    "category_option_combo": "categoryOptionCombos",
    "attribute_option_combo": "categoryOptionCombos",
    "org_unit": "organisationUnits",
}
#: More missing ids than this: read the whole collection (paged, in parallel) instead.
WHOLE_COLLECTION = 1000
UNITS = "organisationUnits"


class Lookup:
    """Names, org unit paths and the number of levels, fetched when first needed."""

    def __init__(self, dhis2: DHIS2, *, whole_collection: int = WHOLE_COLLECTION) -> None:
        self.dhis2 = dhis2
        self.whole_collection = whole_collection
        self._names: dict[str, dict[str, str | None]] = {}
        self._paths: dict[str, str | None] = {}
        self._levels: int | None = None

    def _fetch(self, endpoint: str, ids: list[str], fields: str) -> list[dict[str, Any]]:
        if len(ids) > self.whole_collection:
            pages = self.dhis2.pages(endpoint, fields=fields)
            return [item for page in pages for item in page]
        return list(by_id(self.dhis2, endpoint, ids, fields).values())

    def names(self, endpoint: str, ids: Iterable[str]) -> dict[str, str | None]:
        known = self._names.setdefault(endpoint, {})
        wanted = list(dict.fromkeys(ids))
        missing = [i for i in wanted if i not in known]
        if missing:
            units = endpoint == UNITS
            for item in self._fetch(endpoint, missing, "id,name,path" if units else "id,name"):
                known[str(item["id"])] = item.get("name")
                if units:
                    self._paths[str(item["id"])] = item.get("path")
            for identifier in missing:
                known.setdefault(identifier, None)
        return {i: known[i] for i in wanted}

    def paths(self, ids: Iterable[str]) -> dict[str, str | None]:
        wanted = list(dict.fromkeys(ids))
        self.names(UNITS, [i for i in wanted if i not in self._paths])
        return {i: self._paths.get(i) for i in wanted}

    def levels(self) -> int:
        """How many levels the hierarchy has."""
        if self._levels is None:
            filled = self.dhis2.http.get("filledOrganisationUnitLevels")
            levels = [int(x["level"]) for x in filled or [] if isinstance(x, dict) and "level" in x]
            if not levels:  # older servers: the deepest unit says it
                first = next(
                    self.dhis2.pages(
                        UNITS, fields="level", params={"order": "level:desc"}, page_size=1
                    )
                )
                levels = [int(x["level"]) for x in first if "level" in x]
            self._levels = max(levels, default=0)
        return self._levels


def _mapped(column: str, mapping: Mapping[str, str | None]) -> pl.Expr:
    known = {k: v for k, v in mapping.items() if v is not None}
    return pl.col(column).replace_strict(
        list(known), list(known.values()), default=None, return_dtype=pl.String
    )


def _ids(df: pl.DataFrame, column: str) -> list[str]:
    return [str(i) for i in df.get_column(column).drop_nulls().unique().to_list()]


def add_names(df: pl.DataFrame, lookup: Lookup, columns: Mapping[str, str] = NAMED) -> pl.DataFrame:
    """``<column>_name`` after each of ``columns`` (id column -> collection) present."""
    order: list[str] = []
    named: list[pl.Expr] = []
    for column in df.columns:
        source = column.removesuffix("_name")
        if column != source and source in columns and source in df.columns:
            continue  # replaced below
        order.append(column)
        if column in columns and df.schema[column] == pl.String:
            names = lookup.names(columns[column], _ids(df, column))
            named.append(_mapped(column, names).alias(f"{column}_name"))
            order.append(f"{column}_name")
    return df.with_columns(named).select(order)


def add_hierarchy(df: pl.DataFrame, lookup: Lookup, column: str = "org_unit") -> pl.DataFrame:
    """``level_N_id`` and ``level_N_name`` for each level, from ``column``'s org units."""
    if column not in df.columns:
        raise ValueError(f"no column {column!r} to read org units from (columns: {df.columns})")
    paths = lookup.paths(_ids(df, column))
    ancestors = {a for p in paths.values() if p for a in p.split("/") if a}
    names = lookup.names(UNITS, sorted(ancestors))
    path = _mapped(column, paths).str.split("/")
    added: list[pl.Expr] = []
    for level in range(1, lookup.levels() + 1):
        unit = path.list.get(level, null_on_oob=True)  # "/a/b" splits to "", "a", "b"
        added.append(unit.alias(f"level_{level}_id"))
        named = {k: v for k, v in names.items() if v is not None}
        name = unit.replace_strict(
            list(named), list(named.values()), default=None, return_dtype=pl.String
        )
        added.append(name.alias(f"level_{level}_name"))
    return df.with_columns(added)


def joined(df: pl.DataFrame, lookup: Lookup, *, names: bool, hierarchy: bool) -> pl.DataFrame:
    """The hierarchy (of ``org_unit``) and the names, as asked."""
    if hierarchy:
        df = add_hierarchy(df, lookup)
    if names:
        df = add_names(df, lookup)
    return df
