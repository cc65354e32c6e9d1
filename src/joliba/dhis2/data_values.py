"""Aggregate data values from ``GET /api/dataValueSets``: what to ask (metadata first, then
the requests of :mod:`joliba.dhis2.chunks`), asking it in parallel, and reading the answers
into typed Polars tables, in memory, as a stream of batches or into a Parquet file.

Before any value is read, the selection's data elements are looked up (data sets and groups
expanded to their elements) for their ``valueType``, which fixes the table's schema (see
:mod:`joliba.dhis2.value_types`), and for their data sets' period types, which say how to
split a long date range. Answers are parsed by Polars from the bytes received, never value
by value in Python, and at most ``max_parallel`` answers are held at once.
"""

from __future__ import annotations

import io
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow.parquet as pq

from joliba.dhis2.chunks import (
    Chunks,
    Params,
    Resolved,
    batched,
    plan,
    roots,
    split_subtrees,
    subtree_limit,
)
from joliba.dhis2.http import DHIS2Error
from joliba.dhis2.selection import DataValueSelection
from joliba.dhis2.value_types import TIMESTAMP, Family, Kind, family, kind, typed_values
from joliba.dhis2.value_types import value_columns as _value_columns

if TYPE_CHECKING:
    from joliba.dhis2.client import DHIS2

#: Where each answer format is asked for. CSV is the default: DHIS2 writes and we read it
#: about three times faster than JSON, at a third of the bytes; it has no ``created``.
ENDPOINTS = {"csv": "dataValueSets.csv", "json": "dataValueSets.json"}
Format = Literal["csv", "json"]
#: DHIS2's JSON keys and the column each becomes.
FIELDS = {
    "dataElement": "data_element",
    "period": "period",
    "orgUnit": "org_unit",
    "categoryOptionCombo": "category_option_combo",
    "attributeOptionCombo": "attribute_option_combo",
    "value": "value",
    "storedBy": "stored_by",
    "created": "created",
    "lastUpdated": "last_updated",
    "comment": "comment",
    "followup": "followup",
    "deleted": "deleted",
}
#: DHIS2's CSV header names (lower case; the short forms are those of its import docs).
CSV_FIELDS = {
    "dataelement": "data_element",
    "period": "period",
    "orgunit": "org_unit",
    "categoryoptioncombo": "category_option_combo",
    "catoptcombo": "category_option_combo",
    "attributeoptioncombo": "attribute_option_combo",
    "attroptcombo": "attribute_option_combo",
    "value": "value",
    "storedby": "stored_by",
    "created": "created",
    "lastupdated": "last_updated",
    "comment": "comment",
    "followup": "followup",
    "deleted": "deleted",
}
#: The columns of a CSV answer without a header line, in DHIS2's order.
CSV_ORDER: tuple[str, ...] = (
    *("data_element", "period", "org_unit", "category_option_combo", "attribute_option_combo"),
    *("value", "stored_by", "last_updated", "comment", "followup", "deleted"),
)
# Everything read as text first (a boolean or a number read as text is kept, not refused).
_RAW = pl.Struct({key: pl.String for key in FIELDS})
ID_BATCH = 100  # ids per metadata request (id:in:[…] filters stay well under URL limits)
SUBTREE_BATCH = 20  # roots per request for the paths of their subtrees


@dataclass(frozen=True)
class ExtractSummary:
    path: Path
    values: int  # rows written
    requests: int  # dataValueSets requests made
    seconds: float


@dataclass(frozen=True)
class Extraction:
    """A selection made ready: its requests and the schema every batch has."""

    requests: tuple[Params, ...]
    kind: Kind
    families: Mapping[str, Family]
    include_deleted: bool = False
    format: Format = "csv"

    @property
    def schema(self) -> pl.Schema:
        return schema(
            self.kind, include_deleted=self.include_deleted, created=self.format == "json"
        )


def schema(of: Kind, *, include_deleted: bool = False, created: bool = True) -> pl.Schema:
    columns: dict[str, pl.DataType] = {
        "data_element": pl.String(),
        "period": pl.String(),
        "org_unit": pl.String(),
        "category_option_combo": pl.String(),
        "attribute_option_combo": pl.String(),
        **_value_columns(of),
        "stored_by": pl.String(),
        "created": TIMESTAMP,
        "last_updated": TIMESTAMP,
        "comment": pl.String(),
        "followup": pl.Boolean(),
    }
    if not created:
        del columns["created"]
    if include_deleted:
        columns["deleted"] = pl.Boolean()
    return pl.Schema(columns)


# -- metadata ---------------------------------------------------------------------------------


def by_id(dhis2: DHIS2, endpoint: str, ids: Sequence[str], fields: str) -> dict[str, Any]:
    """The objects of a collection with these ids (those that exist), fetched in batches."""
    if not ids:
        return {}

    def batch(chunk: tuple[str, ...]) -> list[dict[str, Any]]:
        found = dhis2.pages(endpoint, fields=fields, filters=[f"id:in:[{','.join(chunk)}]"])
        return [item for page in found for item in page]

    with ThreadPoolExecutor(max_workers=dhis2.max_parallel) as pool:
        answers = list(pool.map(batch, batched(ids, ID_BATCH)))
    return {str(item["id"]): item for items in answers for item in items if "id" in item}


def subtrees(dhis2: DHIS2, units: Sequence[str]) -> dict[str, str]:
    """The path of every org unit in the subtrees of ``units`` (they included), read a few
    roots per request; the paths say how big each subtree is and how it branches."""

    def batch(chunk: tuple[str, ...]) -> list[dict[str, Any]]:
        filters = [f"path:like:{unit}" for unit in chunk]
        found = dhis2.pages(
            "organisationUnits", fields="id,path", filters=filters, params={"rootJunction": "OR"}
        )
        return [item for page in found for item in page]

    with ThreadPoolExecutor(max_workers=dhis2.max_parallel) as pool:
        answers = list(pool.map(batch, batched(units, SUBTREE_BATCH)))
    return {str(i["id"]): str(i.get("path") or "") for items in answers for i in items}


def _missing(kind_name: str, code: str, wanted: Sequence[str], found: Mapping[str, Any]) -> None:
    absent = [i for i in wanted if i not in found]
    if absent:
        raise DHIS2Error(
            409,
            f"{kind_name} not found (or not readable) on the server: {', '.join(absent)}",
            code=code,
        )


def _with_members(dhis2: DHIS2, units: tuple[str, ...], groups: Sequence[str]) -> tuple[str, ...]:
    """The units and the members of the groups, once each. Asking DHIS2 by these units
    rather than by ``orgUnitGroup`` keeps requests small, and a unit in two groups (or in a
    group and the list) comes once."""
    found = by_id(dhis2, "organisationUnitGroups", groups, "id,organisationUnits[id]")
    _missing("org unit groups", "E1112", groups, found)
    members = [
        str(member["id"])
        for group in groups
        for member in found[group].get("organisationUnits") or []
        if member.get("id")
    ]
    return tuple(dict.fromkeys([*units, *members]))


def prepare(
    dhis2: DHIS2, selection: DataValueSelection, chunks: Chunks, answer_format: Format = "csv"
) -> Extraction:
    """Read the metadata a selection needs and plan its requests."""
    by_element = dhis2.version_number == 0 or dhis2.version_number >= 39
    if selection.data_elements and not by_element:
        raise ValueError(
            f"DHIS2 {dhis2.version} cannot select data elements in dataValueSets (2.39 can): "
            "select datasets or data_element_groups"
        )
    elements = list(selection.data_elements)
    period_types: dict[str, set[str]] = {}
    if selection.datasets:
        sets = by_id(
            dhis2, "dataSets", selection.datasets, "id,periodType,dataSetElements[dataElement[id]]"
        )
        _missing("data sets", "E2013", selection.datasets, sets)
        for identifier in selection.datasets:
            period_type = sets[identifier].get("periodType")
            for member in sets[identifier].get("dataSetElements") or []:
                element = str((member.get("dataElement") or {}).get("id") or "")
                if element:
                    elements.append(element)
                    if period_type:
                        period_types.setdefault(element, set()).add(str(period_type))
    if selection.data_element_groups:
        groups = by_id(
            dhis2, "dataElementGroups", selection.data_element_groups, "id,dataElements[id]"
        )
        _missing("data element groups", "E2014", selection.data_element_groups, groups)
        for identifier in selection.data_element_groups:
            elements += [str(e["id"]) for e in groups[identifier].get("dataElements") or []]
    elements = list(dict.fromkeys(elements))
    # Unknown elements stay in the selection: the server says whether they exist (E2015).
    found = by_id(
        dhis2, "dataElements", elements, "id,valueType,dataSetElements[dataSet[periodType]]"
    )
    families = {e: family(found[e].get("valueType") if e in found else None) for e in elements}
    for identifier, element in found.items():
        for member in element.get("dataSetElements") or []:
            period_type = (member.get("dataSet") or {}).get("periodType")
            if period_type:
                period_types.setdefault(identifier, set()).add(str(period_type))
    if selection.attribute_option_combos:
        # DHIS2 drops unknown ones silently, and with none left it filters nothing.
        combos = by_id(dhis2, "categoryOptionCombos", selection.attribute_option_combos, "id")
        _missing("attribute option combos", "E1112", selection.attribute_option_combos, combos)
    units = selection.org_units
    if selection.org_unit_groups:
        units = _with_members(dhis2, units, selection.org_unit_groups)
    alone: tuple[str, ...] = ()
    weights: dict[str, int] = {}
    limit = 0
    if selection.children:
        paths = subtrees(dhis2, units)
        units = roots(paths, units)
        limit = subtree_limit(selection, len(elements), chunks)
        units, alone, weights = split_subtrees(units, paths, limit)
    resolved = Resolved(
        elements=tuple(elements),
        period_types={e: frozenset(t) for e, t in period_types.items()},
        org_units=units,
        weights=weights,
        alone=alone,
        unit_limit=limit,
    )
    return Extraction(
        requests=tuple(plan(selection, resolved, chunks, by_element=by_element)),
        kind=kind(families.values()),
        families=families,
        include_deleted=selection.include_deleted,
        format=answer_format,
    )


# -- answers ----------------------------------------------------------------------------------


def parse_answer(body: bytes, answer_format: Format = "json") -> pl.DataFrame:
    """One dataValueSets answer as a table of text columns named as in ``FIELDS``' values.

    With ``parse_answer`` and ``ENDPOINTS``, the only code that knows the answers' formats."""
    if answer_format == "csv":
        return parse_csv(body)
    start = body[:80].decode(errors="replace")
    if not body.lstrip().startswith(b"{"):
        raise DHIS2Error(0, f"DHIS2's dataValueSets answer is not a JSON object: {start!r}")
    try:
        frame = pl.read_json(io.BytesIO(body), schema={"dataValues": pl.List(_RAW)})
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise DHIS2Error(
            0, f"DHIS2's dataValueSets answer is not the JSON expected ({exc}): {start!r}"
        ) from None
    values = frame.get_column("dataValues")
    if values.null_count() == values.len() or values.list.len().sum() == 0:
        return pl.DataFrame(schema=_RAW.to_schema()).rename(FIELDS)
    return values.explode().struct.unnest().rename(FIELDS)


def parse_csv(body: bytes) -> pl.DataFrame:
    """A CSV answer: columns found by DHIS2's header names (either spelling), or by position
    when the answer has no header line. Everything stays text, as in JSON answers."""
    empty = pl.DataFrame(schema=dict.fromkeys(CSV_ORDER, pl.String))
    if not body.strip():
        return empty
    first = body.split(b"\n", 1)[0].decode(errors="replace").strip().lower()
    header = "dataelement" in [n.strip().strip('"') for n in first.split(",")]
    try:
        frame = pl.read_csv(io.BytesIO(body), has_header=header, infer_schema=False)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise DHIS2Error(
            0, f"DHIS2's dataValueSets CSV cannot be read ({exc}): {first!r}"
        ) from None
    if not header:  # by position, in DHIS2's order
        if frame.width > len(CSV_ORDER):
            raise DHIS2Error(0, f"DHIS2's dataValueSets CSV has {frame.width} columns: {first!r}")
        frame = frame.rename(dict(zip(frame.columns, CSV_ORDER, strict=False)))
    else:
        unknown = [n for n in frame.columns if n.strip().lower() not in CSV_FIELDS]
        if unknown:
            raise DHIS2Error(0, f"DHIS2's dataValueSets CSV has unknown columns: {unknown}")
        frame = frame.rename({n: CSV_FIELDS[n.strip().lower()] for n in frame.columns})
    missing = [c for c in CSV_ORDER if c not in frame.columns]
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)


def _timestamp(column: str) -> pl.Expr:
    text = pl.col(column)
    return pl.coalesce(  # 2010-07-23T00:00:00.000+0000, or without offset (read as UTC)
        text.str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f%z", time_zone="UTC", strict=False, time_unit="ms"
        ),
        text.str.to_datetime(
            "%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="ms"
        ).dt.replace_time_zone("UTC"),
    ).alias(column)


def shape(raw: pl.DataFrame, extraction: Extraction) -> pl.DataFrame:
    """A parsed answer with the extraction's columns, types and order."""
    flag = (pl.col("followup").str.to_lowercase() == "true").alias("followup")
    columns = [
        pl.col("data_element", "period", "org_unit"),
        pl.col("category_option_combo", "attribute_option_combo"),
        *typed_values(extraction.kind, extraction.families),
        pl.col("stored_by"),
        *([_timestamp("created")] if "created" in extraction.schema else []),
        _timestamp("last_updated"),
        # JSON says "" where CSV leaves the field empty: both become null.
        pl.when(pl.col("comment") != "").then(pl.col("comment")).alias("comment"),
        flag,
    ]
    if extraction.include_deleted:
        columns.append((pl.col("deleted").str.to_lowercase() == "true").fill_null(False))
    target = extraction.schema
    return raw.select(columns).select(list(target)).cast(target)


def fetch(dhis2: DHIS2, extraction: Extraction, params: Params) -> pl.DataFrame:
    body = dhis2.http.get_bytes(ENDPOINTS[extraction.format], params)
    return shape(parse_answer(body, extraction.format), extraction)


def batches(dhis2: DHIS2, extraction: Extraction) -> Iterator[pl.DataFrame]:
    """Each request's values, in the plan's order, skipping empty answers; at most
    ``max_parallel`` requests run, and no more answers wait than that."""
    todo = iter(extraction.requests)
    pool = ThreadPoolExecutor(max_workers=dhis2.max_parallel)
    pending: deque[Future[pl.DataFrame]] = deque()

    def submit() -> None:
        params = next(todo, None)
        if params is not None:
            pending.append(pool.submit(fetch, dhis2, extraction, params))

    try:
        for _ in range(dhis2.max_parallel):
            submit()
        while pending:
            frame = pending.popleft().result()
            submit()  # the next request runs while this batch is used
            if frame.height:
                yield frame
    finally:
        for waiting in pending:
            waiting.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


# -- results ------------------------------------------------------------------------------------

Transform = Callable[[pl.DataFrame], pl.DataFrame]


def frame(dhis2: DHIS2, extraction: Extraction) -> pl.DataFrame:
    found = list(batches(dhis2, extraction))
    if not found:
        return pl.DataFrame(schema=extraction.schema)
    return pl.concat(found, how="vertical", rechunk=True)


def write_parquet(path: str | Path, empty: pl.DataFrame, frames: Iterable[pl.DataFrame]) -> int:
    """Append each frame to a Parquet file with ``empty``'s schema as it arrives; the file
    appears whole under ``path`` (written as ``path.partial``, then renamed) or not at all."""
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    arrow_schema = empty.to_arrow().schema
    rows = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with pq.ParquetWriter(partial, arrow_schema, compression="zstd") as writer:
            for batch in frames:
                table = batch.to_arrow()
                if table.schema != arrow_schema:
                    table = table.cast(arrow_schema)
                writer.write_table(table)
                rows += batch.height
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return rows


def to_parquet(
    dhis2: DHIS2, extraction: Extraction, path: str | Path, transform: Transform | None = None
) -> ExtractSummary:
    started = time.monotonic()
    change = transform or (lambda f: f)
    empty = change(pl.DataFrame(schema=extraction.schema))
    rows = write_parquet(path, empty, (change(b) for b in batches(dhis2, extraction)))
    return ExtractSummary(
        path=Path(path),
        values=rows,
        requests=len(extraction.requests),
        seconds=time.monotonic() - started,
    )
