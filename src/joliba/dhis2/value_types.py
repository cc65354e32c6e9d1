"""How data values are typed: DHIS2 sends every ``value`` as text, and the data elements'
``valueType`` says what the text means.

The selection's value types are known before any value is read, so the table's schema is too
(a stream of batches, or a Parquet file, needs it up front):

- only integer types: ``value`` is Int64; only numeric types: Float64; only BOOLEAN and
  TRUE_ONLY: Boolean; only DATE: Date; only other types (text, coordinates, …): String;
- a mix of these: ``value`` stays String and ``value_number`` (Float64) holds the numbers of
  the numeric elements.

Text that does not read as its element's type (``abc`` for a NUMBER) is not an error: the typed
column gets null and ``invalid_value`` keeps the text, so bad data stays visible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum

import polars as pl

INTEGER_TYPES = frozenset(
    {"INTEGER", "INTEGER_POSITIVE", "INTEGER_NEGATIVE", "INTEGER_ZERO_OR_POSITIVE"}
)
NUMBER_TYPES = INTEGER_TYPES | {"NUMBER", "PERCENTAGE", "UNIT_INTERVAL"}
BOOLEAN_TYPES = frozenset({"BOOLEAN", "TRUE_ONLY"})
DATE_TYPES = frozenset({"DATE"})


class Family(StrEnum):
    """What a value type's text is read as."""

    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    TEXT = "text"


class Kind(StrEnum):
    """How the ``value`` column of a whole selection is typed."""

    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    TEXT = "text"
    MIXED = "mixed"


DTYPES: dict[Kind, pl.DataType] = {
    Kind.INTEGER: pl.Int64(),
    Kind.NUMBER: pl.Float64(),
    Kind.BOOLEAN: pl.Boolean(),
    Kind.DATE: pl.Date(),
    Kind.TEXT: pl.String(),
    Kind.MIXED: pl.String(),
}
TIMESTAMP = pl.Datetime("ms", "UTC")


def family(value_type: str | None) -> Family:
    """The family of a DHIS2 ``valueType``; unknown types (and elements) are text."""
    name = (value_type or "").upper()
    if name in INTEGER_TYPES:
        return Family.INTEGER
    if name in NUMBER_TYPES:
        return Family.NUMBER
    if name in BOOLEAN_TYPES:
        return Family.BOOLEAN
    if name in DATE_TYPES:
        return Family.DATE
    return Family.TEXT


def kind(families: Iterable[Family]) -> Kind:
    found = set(families)
    if not found:
        return Kind.TEXT
    if found <= {Family.INTEGER}:
        return Kind.INTEGER
    if found <= {Family.INTEGER, Family.NUMBER}:
        return Kind.NUMBER
    if len(found) == 1:
        return Kind(found.pop().value)
    return Kind.MIXED


def value_columns(of: Kind) -> dict[str, pl.DataType]:
    """The value columns of a selection: ``value`` and, when typed, the helpers."""
    columns: dict[str, pl.DataType] = {"value": DTYPES[of]}
    if of is Kind.MIXED:
        columns["value_number"] = pl.Float64()
    if of is not Kind.TEXT:
        columns["invalid_value"] = pl.String()
    return columns


def _number(text: pl.Expr) -> pl.Expr:
    parsed = text.str.strip_chars().cast(pl.Float64, strict=False)
    return pl.when(parsed.is_finite()).then(parsed)  # "nan" and "inf" are not DHIS2 numbers


def _integer(text: pl.Expr) -> pl.Expr:
    direct = text.str.strip_chars().cast(pl.Int64, strict=False)
    number = _number(text)  # "10.0" is an integer written by an older client
    integral = pl.when(number == number.floor()).then(number.cast(pl.Int64, strict=False))
    return pl.coalesce(direct, integral)


def _boolean(text: pl.Expr) -> pl.Expr:
    word = text.str.strip_chars().str.to_lowercase()
    return (
        pl.when(word.is_in(["true", "1"]))
        .then(pl.lit(True))
        .when(word.is_in(["false", "0"]))
        .then(pl.lit(False))
        .otherwise(pl.lit(None, pl.Boolean))
    )


def _date(text: pl.Expr) -> pl.Expr:
    day = text.str.strip_chars()
    return pl.coalesce(
        day.str.to_date("%Y-%m-%d", strict=False),
        day.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False).dt.date(),
    )


READERS = {
    Family.INTEGER: _integer,
    Family.NUMBER: _number,
    Family.BOOLEAN: _boolean,
    Family.DATE: _date,
}


def _blank(text: pl.Expr) -> pl.Expr:
    return text.is_null() | (text.str.strip_chars() == "")


def typed_values(of: Kind, families: Mapping[str, Family]) -> list[pl.Expr]:
    """Expressions over the raw ``value`` (and ``data_element``) giving the value columns."""
    raw = pl.col("value")
    if of is Kind.TEXT:
        return [raw]
    if of is not Kind.MIXED:
        parsed = READERS[Family(of.value)](raw)
        invalid = pl.when(parsed.is_null() & ~_blank(raw)).then(raw)
        return [parsed.alias("value"), invalid.alias("invalid_value")]
    row_family = pl.col("data_element").replace_strict(
        {k: str(v) for k, v in families.items()}, default=str(Family.TEXT), return_dtype=pl.String
    )
    numeric = row_family.is_in([str(Family.INTEGER), str(Family.NUMBER)])
    # In a mix, integers are read as numbers (value_number is Float64), like in a NUMBER kind.
    bad = (numeric & _number(raw).is_null()) | pl.lit(False)
    for name in (Family.BOOLEAN, Family.DATE):
        bad = bad | ((row_family == str(name)) & READERS[name](raw).is_null())
    return [
        raw,
        pl.when(numeric).then(_number(raw)).alias("value_number"),
        pl.when(bad & ~_blank(raw)).then(raw).alias("invalid_value"),
    ]
