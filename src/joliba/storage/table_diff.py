"""What changed in a table between two versions: schema, row counts, and rows by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from joliba.storage.profiling import plain
from joliba.storage.tables import TableError, literal, quote, schema_of

SAMPLE = 20


def diff(
    con: duckdb.DuckDBPyConnection, old: Path, new: Path, key: list[str] | None = None
) -> dict[str, Any]:
    before, after = dict(schema_of(con, old)), dict(schema_of(con, new))
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW old AS SELECT * FROM read_parquet({literal(str(old))})"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW new AS SELECT * FROM read_parquet({literal(str(new))})"
    )
    counts = con.execute("SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM new)").fetchone()
    result: dict[str, Any] = {
        "schema": {
            "added": [{"name": n, "type": t} for n, t in after.items() if n not in before],
            "removed": [{"name": n, "type": t} for n, t in before.items() if n not in after],
            "changed": [
                {"name": n, "old": before[n], "new": after[n]}
                for n in before
                if n in after and before[n] != after[n]
            ],
        },
        "rows": {"old": int(counts[0]), "new": int(counts[1])} if counts else {},
    }
    if key:
        result["by_key"] = _rows_by_key(con, before, after, key)
    return result


def _rows_by_key(
    con: duckdb.DuckDBPyConnection, before: dict[str, str], after: dict[str, str], key: list[str]
) -> dict[str, Any]:
    for name in key:
        if name not in before or name not in after:
            raise TableError(f"key: column '{name}' is not in both versions")
    keys = ", ".join(quote(k) for k in key)
    for side in ("old", "new"):
        found = con.execute(f"SELECT count(*) - count(DISTINCT ({keys})) FROM {side}").fetchone()
        if found and found[0]:
            raise TableError(
                f"key: ({', '.join(key)}) is not unique in the {side} version "
                f"({found[0]} repeated rows)"
            )
    shared = [n for n in before if n in after and n not in key]
    join = " AND ".join(f"o.{quote(k)} = n.{quote(k)}" for k in key)
    differs = " OR ".join(f"o.{quote(c)} IS DISTINCT FROM n.{quote(c)}" for c in shared) or "false"
    added = f"SELECT n.* FROM new n ANTI JOIN old o ON {join}"
    removed = f"SELECT o.* FROM old o ANTI JOIN new n ON {join}"
    changed_keys = f"SELECT 1 FROM old o JOIN new n ON {join} WHERE {differs}"
    counts = con.execute(
        f"SELECT ({_count(added)}), ({_count(removed)}), ({_count(changed_keys)})"
    ).fetchone() or (0, 0, 0)
    changed_rows = con.execute(
        f"""SELECT {", ".join(f"o.{quote(k)}" for k in key)},
                   {", ".join(f"o.{quote(c)}, n.{quote(c)}" for c in shared) or "NULL, NULL"}
            FROM old o JOIN new n ON {join} WHERE {differs} ORDER BY {keys} LIMIT {SAMPLE}"""
    ).fetchall()
    return {
        "key": key,
        "added": int(counts[0]),
        "removed": int(counts[1]),
        "changed": int(counts[2]),
        "samples": {
            "added": _sample(con, added, key),
            "removed": _sample(con, removed, key),
            "changed": [_changes(row, key, shared) for row in changed_rows],
        },
    }


def _count(select: str) -> str:
    return f"SELECT count(*) FROM ({select})"


def _sample(con: duckdb.DuckDBPyConnection, select: str, key: list[str]) -> dict[str, Any]:
    result = con.execute(
        f"SELECT * FROM ({select}) ORDER BY {', '.join(quote(k) for k in key)} LIMIT {SAMPLE}"
    )
    names = [d[0] for d in result.description or []]
    return {"columns": names, "rows": [[plain(v) for v in r] for r in result.fetchall()]}


def _changes(row: tuple[Any, ...], key: list[str], shared: list[str]) -> dict[str, Any]:
    """One changed row: its key and, per changed column, the old and new value."""
    values = row[len(key) :]
    columns = {}
    for i, name in enumerate(shared):
        old, new = values[2 * i], values[2 * i + 1]
        if old != new:
            columns[name] = {"old": plain(old), "new": plain(new)}
    return {"key": {k: plain(v) for k, v in zip(key, row, strict=False)}, "columns": columns}
