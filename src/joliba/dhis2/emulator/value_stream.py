"""The body of ``GET /api/dataValueSets`` as DHIS2 writes it, JSON or CSV, streamed block by
block so that memory stays bounded for millions of values.

A generated value is a row of a Polars frame (org unit, slot, amount, day); its text is the
concatenation of a few strings prepared once per request — the part of the slot before the
org unit, the org unit, the part between it and the value, the value, and the tail holding
the timestamps of its day — so that a block of 50 000 values becomes one string column in a
single vectorised pass, whose Arrow buffer is the block's bytes. Imported values, rare, are
written one by one with ``json``/``csv`` and merged in by position.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from joliba.dhis2.emulator.ids import DEFAULT_COC
from joliba.dhis2.emulator.values import Block, DataValue, Template

CSV_MEDIA_TYPE = "application/csv"
# DHIS2's CsvDataValueSetWriter (the API docs' catoptcombo/attroptcombo header is older)
CSV_COLUMNS = [
    "dataelement",
    "period",
    "orgunit",
    "categoryoptioncombo",
    "attributeoptioncombo",
    "value",
    "storedby",
    "lastupdated",
    "comment",
    "followup",
    "deleted",
]


@dataclass
class _Parts:
    """The strings a request's generated values are made of."""

    head: pl.Series  # by slot: what comes before the org unit
    units: pl.Series  # by index into the request's org units
    middle: pl.Series  # by slot: between the org unit and the value
    tail: pl.Series  # by day: after the value
    recent_days: list[int]  # days whose lastUpdated passes the request's lastUpdated filter


class _Format:
    def parts(self, template: Template, org_units: list[str], since: str) -> _Parts:
        ids = [p.id for p in template.periods]
        slot_pe = [ids[p] for p in template.slot_period]
        head = [self.head(de, pe) for de, pe in zip(template.slot_de, slot_pe, strict=True)]
        middle = [self.middle(coc) for coc in template.slot_coc]
        stamps = template.stamps
        recent = [i for i, s in enumerate(stamps) if not since or _recent(s, since)]
        return _Parts(
            pl.Series(head, dtype=pl.String),
            pl.Series(org_units, dtype=pl.String),
            pl.Series(middle, dtype=pl.String),
            pl.Series([self.tail(s) for s in stamps], dtype=pl.String),
            recent,
        )

    def head(self, de: str, pe: str) -> str:
        raise NotImplementedError

    def middle(self, coc: str) -> str:
        raise NotImplementedError

    def tail(self, stamp: str) -> str:
        raise NotImplementedError

    def row(self, value: DataValue) -> str:
        raise NotImplementedError


class _Json(_Format):
    """Rows as objects with DHIS2's keys and order, each led by a comma (the stream drops the
    first one)."""

    def head(self, de: str, pe: str) -> str:
        return f',{{"dataElement":"{de}","period":"{pe}","orgUnit":"'

    def middle(self, coc: str) -> str:
        return f'","categoryOptionCombo":"{coc}","attributeOptionCombo":"{DEFAULT_COC}","value":"'

    def tail(self, stamp: str) -> str:
        return (
            f'","storedBy":"admin","created":"{stamp}","lastUpdated":"{stamp}",'
            '"comment":"","followup":false}'
        )

    def row(self, value: DataValue) -> str:
        return "," + json.dumps(value.as_json(), ensure_ascii=False, separators=(",", ":"))


class _Csv(_Format):
    def head(self, de: str, pe: str) -> str:
        return f"{de},{pe},"

    def middle(self, coc: str) -> str:
        return f",{coc},{DEFAULT_COC},"

    def tail(self, stamp: str) -> str:
        return f",admin,{stamp},,false,false\n"

    def row(self, value: DataValue) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(
            [
                value.data_element,
                value.period,
                value.org_unit,
                value.coc,
                value.aoc,
                value.value,
                value.stored_by,
                value.last_updated,
                value.comment,
                str(value.followup).lower(),
                str(value.deleted).lower(),
            ]
        )
        return out.getvalue()


def _recent(stamp: str, since: str) -> bool:
    return stamp[: len(since)] >= since[:23]


def _bytes(text: pl.Series) -> bytes:
    """The concatenated strings of a column, straight from its Arrow buffer."""
    array = text.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    _, offsets, data = array.buffers()
    bounds = memoryview(offsets).cast("q")  # int64 offsets of large_string
    start, end = bounds[array.offset], bounds[array.offset + len(array)]
    chunk: bytes = data[start:end].to_pybytes()
    return chunk


def _rows(
    blocks: Iterator[Block], style: _Format, limit: int | None, since: str
) -> Iterator[bytes]:
    left = limit
    parts: _Parts | None = None
    template: Template | None = None
    for block in blocks:
        if left is not None and left <= 0:
            return
        if parts is None or block.template is not template:
            template = block.template
            parts = style.parts(template, list(block.org_units), since)
        generated = block.generated
        if since:
            generated = generated.filter(pl.col("day").is_in(parts.recent_days))
        text = generated.select(
            pos=pl.col("unit").cast(pl.UInt64) * block.template.width + pl.col("slot"),
            text=pl.concat_str(
                pl.lit(parts.head).gather(pl.col("slot")),
                pl.lit(parts.units).gather(pl.col("unit")),
                pl.lit(parts.middle).gather(pl.col("slot")),
                pl.col("amount").cast(pl.String),
                pl.lit(parts.tail).gather(pl.col("day")),
            ),
        )
        imported = [
            (position, style.row(value))
            for position, value in block.imported
            if not since or _recent(value.last_updated, since)
        ]
        if imported:
            extra = pl.DataFrame(
                {"pos": [p for p, _ in imported], "text": [t for _, t in imported]},
                schema={"pos": pl.UInt64, "text": pl.String},
            )
            text = pl.concat([text, extra]).sort("pos")
        if left is not None:
            text = text.head(left)
            left -= text.height
        if text.height:
            yield _bytes(text["text"])


def json_body(
    header: dict[str, Any], blocks: Iterator[Block], *, limit: int | None, since: str
) -> Iterator[bytes]:
    """DHIS2's dataValueSet JSON: the header keys, then ``dataValues``."""
    opening = json.dumps(header, separators=(",", ":"))[:-1]
    yield (opening + ("," if header else "") + '"dataValues":[').encode()
    first = True
    for chunk in _rows(blocks, _Json(), limit, since):
        yield chunk[1:] if first else chunk  # the first row has no comma before it
        first = False
    yield b"]}"


def csv_body(blocks: Iterator[Block], *, limit: int | None, since: str) -> Iterator[bytes]:
    """DHIS2's CSV: the header row, then a row per value."""
    yield (",".join(CSV_COLUMNS) + "\n").encode()
    yield from _rows(blocks, _Csv(), limit, since)
