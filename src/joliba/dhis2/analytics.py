"""Aggregate analytics (``/api/analytics``) as a Polars table, never silently cut short.

DHIS2 refuses a query past its row cap (50 000 unless configured, 409 ``E7128``). Such a query
is split, by periods first, then organisation units, then data items, and the parts are read
(in parallel, at most ``max_parallel`` at once) and put together. Items that are not explicit
(``LAST_12_MONTHS``, ``LEVEL-4``, ``DE_GROUP-…``) are first resolved into the periods, units or
data items they stand for, by a small query that DHIS2 answers with metadata only. An answer
of exactly the cap's size may have been cut, so it is split too; a part that cannot be split
and is still too big raises :class:`DHIS2Error` naming the cap. Answers with a pager (in
``metaData.pager`` or at the top) are read page by page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from joliba.dhis2.http import DHIS2Error, Http
from joliba.dhis2.periods import parse as parse_period

MAX_ROWS = 50_000
DIMENSIONS = ("dx", "pe", "ou")
SPLIT_ORDER = ("pe", "ou", "dx")
UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
DX_ITEM = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}(\.|$)")
LAST_NUMBER = re.compile(r"(\d+)\D*$")
# Parameters that shape the rows: left out of the metadata-only queries that resolve items.
LAYOUT = frozenset({"dimension", "filter", "columns", "rows", "page", "pageSize", "paging"})


@dataclass(frozen=True)
class Query:
    dx: tuple[str, ...]
    pe: tuple[str, ...]
    ou: tuple[str, ...]

    def items(self, name: str) -> tuple[str, ...]:
        return tuple(getattr(self, name))

    def with_items(self, name: str, items: Sequence[str]) -> Query:
        return replace(self, **{name: tuple(items)})


@dataclass(frozen=True)
class _Table:
    headers: list[dict[str, Any]]
    rows: list[list[Any]]


class _Over(Exception):
    """The query is over the cap (or exactly at it, so possibly cut)."""


def _items(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"a;b"`` or ``["a", "b"]`` → ``("a", "b")``, without repeats."""
    parts = value.split(";") if isinstance(value, str) else [str(v) for v in value]
    return tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))


def _explicit(name: str, item: str) -> bool:
    """Whether a dimension item names exactly one row key (so lists of them can be split)."""
    if name == "ou":
        return bool(UID.match(item))
    if name == "dx":
        return bool(DX_ITEM.match(item))
    try:
        parse_period(item)
    except ValueError:
        return False  # a relative period (LAST_12_MONTHS) or another keyword
    return True


class Reader:
    """One analytics request as the user asked it, and the parts it had to be split into."""

    def __init__(
        self,
        http: Http,
        *,
        filters: Mapping[str, Sequence[str] | str] | None = None,
        params: Mapping[str, Any] | None = None,
        ignore_limit: bool = False,
        max_parallel: int = 4,
    ) -> None:
        self.http = http
        self.filters = [(name, _items(items)) for name, items in (filters or {}).items()]
        self.extra: list[tuple[str, Any]] = []
        for key, value in (params or {}).items():
            many = isinstance(value, list | tuple)
            self.extra += [(key, v) for v in value] if many else [(key, value)]
        # ignoreLimit among the params means the same as ignore_limit=True
        asked = str((params or {}).get("ignoreLimit", "")).lower() == "true"
        self.ignore_limit = ignore_limit or asked
        self.max_parallel = max(1, max_parallel)
        self.cap = MAX_ROWS  # lowered if DHIS2 says its own cap is lower

    def params(self, query: Query) -> list[tuple[str, Any]]:
        found: list[tuple[str, Any]] = [
            ("dimension", f"{name}:{';'.join(query.items(name))}")
            for name in DIMENSIONS
            if query.items(name)
        ]
        found += [("filter", f"{name}:{';'.join(items)}") for name, items in self.filters]
        found += self.extra
        if self.ignore_limit and not any(k == "ignoreLimit" for k, _v in self.extra):
            found.append(("ignoreLimit", "true"))
        return found

    def read(self, query: Query) -> pl.DataFrame:
        # Breadth first: each round reads its parts in parallel; parts over the cap are split
        # for the next round. Keys keep the parts in the order of the query.
        pending: list[tuple[tuple[int, ...], Query]] = [((), query)]
        done: list[tuple[tuple[int, ...], _Table]] = []
        with ThreadPoolExecutor(max_workers=self.max_parallel) as pool:
            while pending:
                outcomes = list(pool.map(lambda part: self._attempt(part[1]), pending))
                following: list[tuple[tuple[int, ...], Query]] = []
                for (key, part), outcome in zip(pending, outcomes, strict=True):
                    if isinstance(outcome, _Table):
                        done.append((key, outcome))
                    else:
                        following += [
                            ((*key, n), piece) for n, piece in enumerate(self.split(part))
                        ]
                pending = following
        done.sort(key=lambda item: item[0])
        return frame([table for _key, table in done])

    def _attempt(self, query: Query) -> _Table | _Over:
        try:
            return self._pages(self.params(query))
        except _Over as over:
            return over

    def _pages(self, params: list[tuple[str, Any]]) -> _Table:
        try:
            answer = self.http.get("analytics", params)
        except DHIS2Error as exc:
            if self.ignore_limit or not _over_cap(exc):
                raise
            number = LAST_NUMBER.search(exc.message)
            if number and int(number.group(1)) > 0:
                self.cap = min(self.cap, int(number.group(1)))
            raise _Over from None
        table = _table(answer)
        pager = _pager(answer)
        if pager is None:
            if not self.ignore_limit and len(table.rows) >= self.cap:
                raise _Over  # exactly the cap: DHIS2 may have cut it
            return table
        rows = list(table.rows)
        page = int(pager.get("page") or 1)
        size = int(pager.get("pageSize") or 0)
        count = int(pager.get("pageCount") or 0)
        last = table.rows
        base = [(k, v) for k, v in params if k != "page"]
        while (count and page < count) or (not count and size and len(last) >= size):
            page += 1
            last = _table(self.http.get("analytics", [*base, ("page", page)])).rows
            rows += last
        return _Table(table.headers, rows)

    def split(self, query: Query) -> list[Query]:
        for name in SPLIT_ORDER:
            items = query.items(name)
            if items and not all(_explicit(name, item) for item in items):
                resolved = self.resolve(query, name)
                if resolved:
                    query, items = query.with_items(name, resolved), resolved
            if len(items) > 1:
                half = (len(items) + 1) // 2
                return [query.with_items(name, items[:half]), query.with_items(name, items[half:])]
        raise DHIS2Error(
            409,
            f"this analytics query has at least {self.cap} rows, DHIS2's cap for one request "
            "(past it DHIS2 refuses or may cut the answer), and cannot be split further "
            f"(dx={';'.join(query.dx)}, pe={';'.join(query.pe)}, ou={';'.join(query.ou)}); "
            "ask for fewer items or pass ignore_limit=True",
            code="E7128",
        )

    def resolve(self, query: Query, name: str) -> tuple[str, ...]:
        """The explicit items DHIS2 reads a dimension's items as, from metadata only."""
        params: list[tuple[str, Any]] = [("dimension", f"{name}:{';'.join(query.items(name))}")]
        params += [
            ("filter", f"{other}:{';'.join(query.items(other))}")
            for other in DIMENSIONS
            if other != name and query.items(other)
        ]
        params += [("filter", f"{n}:{';'.join(items)}") for n, items in self.filters]
        params += [(k, v) for k, v in self.extra if k not in LAYOUT]
        params.append(("skipData", "true"))
        try:
            answer = self.http.get("analytics", params)
        except DHIS2Error as exc:
            if _over_cap(exc):
                return ()
            raise
        dimensions = ((answer or {}).get("metaData") or {}).get("dimensions") or {}
        return _items([str(i) for i in dimensions.get(name) or []])


def _over_cap(exc: DHIS2Error) -> bool:
    return exc.status == 409 and (exc.code == "E7128" or "max limit" in exc.message.lower())


def _pager(answer: Any) -> dict[str, Any] | None:
    meta = answer.get("metaData") if isinstance(answer, dict) else None
    for holder in (meta, answer):
        if isinstance(holder, dict) and isinstance(holder.get("pager"), dict):
            return dict(holder["pager"])
    return None


def _table(answer: Any) -> _Table:
    if not isinstance(answer, dict) or not isinstance(answer.get("headers"), list):
        raise DHIS2Error(0, "DHIS2's analytics answer has no 'headers' list")
    return _Table(list(answer["headers"]), list(answer.get("rows") or []))


def frame(tables: Sequence[_Table]) -> pl.DataFrame:
    """The rows as a table: dx, pe, ou, other dimensions (text), then value and any other
    numbers (Float64)."""
    if not tables:
        return pl.DataFrame(schema={"value": pl.Float64})
    headers = tables[0].headers
    names = [str(h.get("name")) for h in headers]
    numeric = {str(h.get("name")) for h in headers if h.get("meta") is False}
    numeric |= {"value"} & set(names)
    rows = [row for table in tables for row in table.rows]
    columns = {
        name: [None if row[i] in (None, "") else str(row[i]) for row in rows]
        for i, name in enumerate(names)
    }
    data = pl.DataFrame(columns, schema={n: pl.String for n in names})
    data = data.with_columns(pl.col(n).cast(pl.Float64, strict=False) for n in numeric)
    meta = [n for n in names if n not in numeric]
    order = [n for n in DIMENSIONS if n in meta] + [n for n in meta if n not in DIMENSIONS]
    numbers = (["value"] if "value" in numeric else []) + sorted(
        numeric - {"value"}, key=names.index
    )
    return data.select(order + numbers)


def read_analytics(
    http: Http,
    dx: str | Sequence[str],
    pe: str | Sequence[str],
    ou: str | Sequence[str],
    *,
    filters: Mapping[str, Sequence[str] | str] | None = None,
    params: Mapping[str, Any] | None = None,
    ignore_limit: bool = False,
    max_parallel: int = 4,
) -> pl.DataFrame:
    reader = Reader(
        http, filters=filters, params=params, ignore_limit=ignore_limit, max_parallel=max_parallel
    )
    return reader.read(Query(_items(dx), _items(pe), _items(ou)))
