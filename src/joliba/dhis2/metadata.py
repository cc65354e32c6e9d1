"""DHIS2 metadata collections as tables: which fields to ask for, and how each becomes a
column (nested references become ``…_id`` columns, lists of references lists of ids,
geometry GeoJSON text)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class Column:
    name: str
    #: Where the value is: a top-level key, ``key.id`` for a reference, ``key[].sub.id`` for a
    #: list of references, ``geometry`` for GeoJSON.
    source: str
    dtype: Any = pl.String


@dataclass(frozen=True)
class Collection:
    endpoint: str  # also the key of the items in the answer
    fields: str
    columns: tuple[Column, ...]


def _col(name: str, source: str | None = None, dtype: Any = pl.String) -> Column:
    return Column(name, source or name, dtype)


ORGANISATION_UNITS = Collection(
    "organisationUnits",
    "id,name,shortName,code,level,path,parent[id],openingDate,closedDate,geometry",
    (
        _col("id"),
        _col("name"),
        _col("short_name", "shortName"),
        _col("code"),
        _col("level", dtype=pl.Int64),
        _col("path"),
        _col("parent_id", "parent.id"),
        _col("opening_date", "openingDate"),
        _col("closed_date", "closedDate"),
        _col("geometry"),
    ),
)
ORGANISATION_UNIT_GROUPS = Collection(
    "organisationUnitGroups",
    "id,name,code,organisationUnits[id]",
    (
        _col("id"),
        _col("name"),
        _col("code"),
        _col("organisation_units", "organisationUnits[].id", pl.List(pl.String)),
    ),
)
ORGANISATION_UNIT_LEVELS = Collection(
    "organisationUnitLevels",
    "id,name,level",
    (_col("id"), _col("name"), _col("level", dtype=pl.Int64)),
)
DATA_ELEMENTS = Collection(
    "dataElements",
    "id,name,shortName,code,valueType,aggregationType,domainType,zeroIsSignificant,"
    "categoryCombo[id],optionSet[id]",
    (
        _col("id"),
        _col("name"),
        _col("short_name", "shortName"),
        _col("code"),
        _col("value_type", "valueType"),
        _col("aggregation_type", "aggregationType"),
        _col("domain_type", "domainType"),
        _col("zero_is_significant", "zeroIsSignificant", pl.Boolean),
        _col("category_combo_id", "categoryCombo.id"),
        _col("option_set_id", "optionSet.id"),
    ),
)
DATA_ELEMENT_GROUPS = Collection(
    "dataElementGroups",
    "id,name,code,dataElements[id]",
    (
        _col("id"),
        _col("name"),
        _col("code"),
        _col("data_elements", "dataElements[].id", pl.List(pl.String)),
    ),
)
CATEGORY_OPTION_COMBOS = Collection(
    "categoryOptionCombos",
    "id,name,code,categoryCombo[id]",
    (_col("id"), _col("name"), _col("code"), _col("category_combo_id", "categoryCombo.id")),
)
DATASETS = Collection(
    "dataSets",
    "id,name,code,periodType,dataSetElements[dataElement[id]],organisationUnits[id]",
    (
        _col("id"),
        _col("name"),
        _col("code"),
        _col("period_type", "periodType"),
        _col("data_elements", "dataSetElements[].dataElement.id", pl.List(pl.String)),
        _col("organisation_units", "organisationUnits[].id", pl.List(pl.String)),
    ),
)
INDICATORS = Collection(
    "indicators",
    "id,name,code,numerator,denominator,indicatorType[id]",
    (
        _col("id"),
        _col("name"),
        _col("code"),
        _col("numerator"),
        _col("denominator"),
        _col("indicator_type_id", "indicatorType.id"),
    ),
)
PROGRAMS = Collection(
    "programs",
    "id,name,code,programType,trackedEntityType[id]",
    (
        _col("id"),
        _col("name"),
        _col("code"),
        _col("program_type", "programType"),
        _col("tracked_entity_type_id", "trackedEntityType.id"),
    ),
)


def _value(item: dict[str, Any], source: str) -> Any:
    if source == "geometry":
        shape = item.get("geometry")
        return json.dumps(shape, separators=(",", ":")) if shape else None
    if "[]." in source:
        key, _, rest = source.partition("[].")
        return [_value(sub, rest) for sub in item.get(key) or [] if isinstance(sub, dict)]
    head, _, rest = source.partition(".")
    value = item.get(head)
    if rest:
        return _value(value, rest) if isinstance(value, dict) else None
    return value


def frame(collection: Collection, items: Iterable[dict[str, Any]]) -> pl.DataFrame:
    """The items as a table with the collection's columns (missing values are null)."""
    rows = [[_value(item, c.source) for c in collection.columns] for item in items]
    schema = {c.name: c.dtype for c in collection.columns}
    return pl.DataFrame(rows, schema=schema, orient="row")


def raw_frame(items: list[dict[str, Any]]) -> pl.DataFrame:
    """Items fetched with caller-chosen ``fields``: nested values kept as JSON text."""
    keys: list[str] = []
    for item in items:
        keys.extend(k for k in item if k not in keys)
    rows = [
        [
            json.dumps(item[k], separators=(",", ":"))
            if isinstance(item.get(k), dict | list)
            else item.get(k)
            for k in keys
        ]
        for item in items
    ]
    return pl.DataFrame(rows, schema=keys, orient="row", infer_schema_length=None)
