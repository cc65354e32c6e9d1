"""Pushing data values (``POST /api/dataValueSets``) in chunks, with a report that keeps every
conflict and names the row of the table it came from.

DHIS2 answers an import with an ImportSummary: bare up to API 37, wrapped in a WebMessage from
38 (with 409 when there are conflicts, which is a result here, not a failure). From 38 each
conflict lists the ``indexes`` of the values it refused, which map straight to rows; before,
a conflict only names its ``object`` (a data element, period, value…), so it is matched to the
rows of its chunk that hold that object, in the column its message speaks of.

A chunk that still fails after the HTTP layer's retries (network, 5xx) is recorded in the
report and the next chunks go on. With ``journal=path``, every chunk DHIS2 answered is recorded
(with a hash of what was sent, and its counts and conflicts) by atomic file writes, so a run
started again skips the chunks already done; changed rows make a different hash and are sent.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from joliba.dhis2.http import DHIS2Error, Http

REQUIRED = ("data_element", "period", "org_unit", "value")
OPTIONAL = ("category_option_combo", "attribute_option_combo", "comment")
WIRE = {
    "data_element": "dataElement",
    "period": "period",
    "org_unit": "orgUnit",
    "category_option_combo": "categoryOptionCombo",
    "attribute_option_combo": "attributeOptionCombo",
    "value": "value",
    "comment": "comment",
}
CONFLICT_SCHEMA: dict[str, Any] = {
    "row": pl.Int64,
    "data_element": pl.String,
    "period": pl.String,
    "org_unit": pl.String,
    "category_option_combo": pl.String,
    "value": pl.String,
    "error_code": pl.String,
    "object": pl.String,
    "message": pl.String,
}
# What a conflict message speaks of, to find its object in the right column (before API 38).
HINTS = (
    ("data element", "data_element"),
    ("period", "period"),
    ("organisation unit", "org_unit"),
    ("org unit", "org_unit"),
    ("category option combo", "category_option_combo"),
    ("attribute option combo", "attribute_option_combo"),
    ("value", "value"),
)
STRATEGIES = (
    "CREATE_AND_UPDATE",
    "CREATE",
    "UPDATE",
    "DELETE",
    "NEW_AND_UPDATES",
    "NEW",
    "UPDATES",
    "DELETES",
)
KEYS = ("data_element", "period", "org_unit", "category_option_combo", "attribute_option_combo")
JOURNAL_VERSION = 1


@dataclass(frozen=True)
class ChunkResult:
    """One chunk: its position, size and outcome.

    ``status`` is DHIS2's (``SUCCESS``, ``WARNING``, ``ERROR``), ``FAILED`` when no import
    summary came back (``error`` says why), or ``SKIPPED`` when a journal shows it was done by
    an earlier run (its counts are those recorded then)."""

    index: int
    rows: int
    status: str
    error: str | None = None
    imported: int = 0
    updated: int = 0
    ignored: int = 0
    deleted: int = 0


@dataclass(frozen=True, eq=False)
class ImportReport:
    """Counts summed over chunks, every conflict with the ``row`` of the pushed table it names
    (null when DHIS2's conflict could not be tied to a row), and each chunk's outcome."""

    imported: int
    updated: int
    ignored: int
    deleted: int
    conflicts: pl.DataFrame
    chunks: list[ChunkResult] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """No conflict and no chunk that failed or that DHIS2 refused."""
        return self.conflicts.is_empty() and not self.failed_chunks

    @property
    def failed_chunks(self) -> list[ChunkResult]:
        return [c for c in self.chunks if c.status in ("FAILED", "ERROR")]

    def __repr__(self) -> str:
        return (
            f"ImportReport(imported={self.imported}, updated={self.updated}, "
            f"ignored={self.ignored}, deleted={self.deleted}, conflicts={self.conflicts.height}, "
            f"chunks={len(self.chunks)}, failed_chunks={len(self.failed_chunks)}, "
            f"dry_run={self.dry_run})"
        )


def plain_number(number: float) -> str | None:
    """A float as DHIS2 accepts it: no exponent, no ``.0`` on whole numbers; NaN is no value."""
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise ValueError("value holds an infinite number, which DHIS2 cannot store")
    if number.is_integer():
        return str(int(number))
    return format(Decimal(repr(number)), "f")


def _value_texts(values: pl.Series) -> pl.Series:
    if values.dtype in (pl.Float32, pl.Float64):
        texts = [None if v is None else plain_number(float(v)) for v in values.to_list()]
        return pl.Series("value", texts, dtype=pl.String)
    return values.cast(pl.String)  # booleans become "true"/"false", as DHIS2 writes them


def texts(df: pl.DataFrame) -> pl.DataFrame:
    """The columns sent, as text; raises ValueError naming missing columns."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise ValueError(
            f"push_data_values needs the columns {', '.join(REQUIRED)}; missing: "
            f"{', '.join(missing)} (the table has {', '.join(df.columns) or 'no columns'})"
        )
    return df.select(
        _value_texts(df[c]).alias(c) if c == "value" else df[c].cast(pl.String).alias(c)
        for c in (*REQUIRED, *OPTIONAL)
        if c in df.columns
    )


def _wire(row: dict[str, Any]) -> dict[str, Any]:
    # Empty optional columns are left out so DHIS2 uses its defaults (default combos).
    return {WIRE[k]: v for k, v in row.items() if v is not None or k == "value"}


def summary_of(answer: Any) -> dict[str, Any] | None:
    """The ImportSummary in an answer: bare (API 37 and before) or wrapped (38 and later)."""
    if not isinstance(answer, dict):
        return None
    for candidate in (answer, answer.get("response")):
        if isinstance(candidate, dict) and (
            candidate.get("responseType") == "ImportSummary" or "importCount" in candidate
        ):
            return candidate
    return None


def _matches(obj: str, message: str, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Rows of a chunk holding a conflict's object, in the column its message speaks of."""
    if not obj:
        return []
    text = message.lower()
    spoken = sorted((text.find(word), column) for word, column in HINTS if word in text)
    order = list(dict.fromkeys([column for _at, column in spoken] + [*KEYS, "value"]))
    for column in order:
        found = [i for i, row in enumerate(rows) if (row.get(column) or "") == obj]
        if found:
            if "not specified" in text:  # "Data value or comment not specified": the empty ones
                empty = [i for i in found if not (rows[i].get("value") or rows[i].get("comment"))]
                found = empty or found
            return found
    return []


def conflicts_of(
    summary: dict[str, Any], rows: Sequence[dict[str, Any]], start: int
) -> list[dict[str, Any]]:
    """Every conflict of a chunk's summary, once per row it names."""
    found: list[dict[str, Any]] = []
    for conflict in summary.get("conflicts") or []:
        if not isinstance(conflict, dict):
            continue
        obj = "" if conflict.get("object") is None else str(conflict["object"])
        message = str(conflict.get("value") or conflict.get("message") or "")
        code = conflict.get("errorCode")
        indexes = conflict.get("indexes")
        if isinstance(indexes, list) and indexes:
            positions = [i for i in indexes if isinstance(i, int) and 0 <= i < len(rows)]
        else:
            positions = _matches(obj, message, rows)
        where: list[int | None] = [*positions] or [None]
        for position in where:
            row = rows[position] if position is not None else {}
            found.append(
                {
                    "row": None if position is None else start + position,
                    **{k: row.get(k) for k in ("data_element", "period", "org_unit")},
                    "category_option_combo": row.get("category_option_combo"),
                    "value": row.get("value"),
                    "error_code": None if code is None else str(code),
                    "object": obj,
                    "message": message,
                }
            )
    return found


class Journal:
    """Chunks already done, in a JSON file replaced atomically after each chunk."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.done: dict[str, dict[str, Any]] = {}
        if self.path is not None and self.path.exists():
            try:
                saved = json.loads(self.path.read_text())
            except ValueError as exc:
                raise ValueError(f"the journal {self.path} is not readable JSON: {exc}") from None
            if not isinstance(saved, dict) or saved.get("version") != JOURNAL_VERSION:
                raise ValueError(f"{self.path} is not a push_data_values journal")
            self.done = dict(saved.get("chunks") or {})

    def finished(self, index: int, digest: str) -> dict[str, Any] | None:
        entry = self.done.get(str(index))
        return entry if entry is not None and entry.get("hash") == digest else None

    def record(self, index: int, entry: dict[str, Any]) -> None:
        if self.path is None:
            return
        self.done[str(index)] = entry
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        partial.write_text(json.dumps({"version": JOURNAL_VERSION, "chunks": self.done}))
        os.replace(partial, self.path)  # a crash leaves the old journal or the new, never half


def push(
    http: Http,
    df: pl.DataFrame,
    *,
    dry_run: bool = False,
    import_strategy: str = "CREATE_AND_UPDATE",
    id_scheme: str = "UID",
    chunk_size: int = 5000,
    journal: str | Path | None = None,
) -> ImportReport:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, not {chunk_size}")
    strategy = import_strategy.upper()
    if strategy not in STRATEGIES:
        raise ValueError(
            f"import_strategy must be one of {', '.join(STRATEGIES)}, not {import_strategy!r}"
        )
    table = texts(df)
    params = [
        ("dryRun", "true" if dry_run else "false"),
        ("importStrategy", strategy),
        ("idScheme", id_scheme),
    ]
    done = Journal(None if dry_run else journal)  # a dry run stores nothing: nothing to resume
    chunks: list[ChunkResult] = []
    conflicts: list[dict[str, Any]] = []
    for index, start in enumerate(range(0, table.height, chunk_size)):
        rows = table.slice(start, chunk_size).to_dicts()
        body = {"dataValues": [_wire(r) for r in rows]}
        digest = hashlib.sha256(
            json.dumps([http.base, params, body], sort_keys=True).encode()
        ).hexdigest()
        earlier = done.finished(index, digest)
        if earlier is not None:
            chunks.append(ChunkResult(index, len(rows), "SKIPPED", None, *earlier["counts"]))
            conflicts += earlier["conflicts"]
            continue
        try:
            answer = http.post("dataValueSets", body, params)
        except DHIS2Error as exc:
            chunks.append(ChunkResult(index, len(rows), "FAILED", str(exc)))
            continue
        summary = summary_of(answer)
        if summary is None:
            said = answer.get("message") if isinstance(answer, dict) else answer
            reason = f"no import summary in DHIS2's answer: {said}"
            chunks.append(ChunkResult(index, len(rows), "FAILED", reason))
            continue
        count = summary.get("importCount") or {}
        counts = [int(count.get(k) or 0) for k in ("imported", "updated", "ignored", "deleted")]
        status = str(summary.get("status") or "SUCCESS")
        error = (str(summary.get("description") or "") or None) if status == "ERROR" else None
        found = conflicts_of(summary, rows, start)
        chunks.append(ChunkResult(index, len(rows), status, error, *counts))
        conflicts += found
        done.record(index, {"hash": digest, "counts": counts, "conflicts": found})
    return ImportReport(
        imported=sum(c.imported for c in chunks),
        updated=sum(c.updated for c in chunks),
        ignored=sum(c.ignored for c in chunks),
        deleted=sum(c.deleted for c in chunks),
        conflicts=pl.DataFrame(conflicts, schema=CONFLICT_SCHEMA)
        if conflicts
        else pl.DataFrame(schema=CONFLICT_SCHEMA),
        chunks=chunks,
        dry_run=dry_run,
    )
