"""``DHIS2``: one server, its version, and its metadata as Polars tables.

    from joliba.dhis2 import DHIS2
    dhis2 = DHIS2("https://play.dhis2.org/40", username="admin", password="district")
    units = dhis2.organisation_units(level=3)

Collections are read a page at a time; once the first page says how many there are, the
other pages are fetched in parallel (at most ``max_parallel`` requests at once) and put
back in order, so nothing is skipped or read twice. Metadata answers can be kept in an
on-disk cache (``cache_dir``), keyed by the request, for scripts run again and again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Unpack

import httpx
import polars as pl

from joliba.dhis2 import analytics as analytics_
from joliba.dhis2 import data_values, imports, joins, metadata, tracker
from joliba.dhis2.chunks import Chunks
from joliba.dhis2.data_values import ExtractSummary
from joliba.dhis2.http import DHIS2Error, Http, Retry, auth_header
from joliba.dhis2.metadata import Collection
from joliba.dhis2.selection import DataValueSelection, SelectionKeywords

PAGE_SIZE = 1000


class DHIS2:
    def __init__(
        self,
        url: str,
        *,
        username: str = "",
        password: str = "",
        token: str = "",
        timeout: float = 60.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_parallel: int = 4,
        cache_dir: str | Path | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = Http(
            url,
            auth_header(username=username, password=password, token=token),
            timeout=timeout,
            retry=Retry(attempts=max(1, retries), backoff=backoff),
            max_parallel=max_parallel,
            transport=transport,
        )
        self.url = self.http.base
        self.max_parallel = max(1, max_parallel)
        self.cache_dir = Path(cache_dir) if cache_dir else None

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> DHIS2:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DHIS2({self.url!r})"  # never the credentials

    # -- the server ------------------------------------------------------------------------

    @cached_property
    def system_info(self) -> dict[str, Any]:
        info = self.http.get("system/info")
        if not isinstance(info, dict) or "version" not in info:
            raise DHIS2Error(0, f"{self.url} does not look like DHIS2 (no version in system/info)")
        return info

    @property
    def version(self) -> str:
        """``2.39.5`` and the like (``-SNAPSHOT`` and build suffixes removed)."""
        return str(self.system_info["version"]).split("-")[0]

    @property
    def version_number(self) -> int:
        """The minor version as DHIS2 numbers its API (39 for 2.39.5)."""
        parts = self.version.split(".")
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    # -- collections -------------------------------------------------------------------------

    def pages(
        self,
        endpoint: str,
        *,
        fields: str,
        filters: Sequence[str] = (),
        params: dict[str, Any] | None = None,
        page_size: int = PAGE_SIZE,
        cache: bool = True,
    ) -> Iterator[list[dict[str, Any]]]:
        """Every page of collection ``endpoint``, in order."""
        base: list[tuple[str, Any]] = [("fields", fields), ("pageSize", page_size)]
        base += [("filter", f) for f in filters]
        base += list((params or {}).items())
        first = self._get_cached(endpoint, [*base, ("page", 1)], cache)
        yield _items(first, endpoint)
        count = int((first.get("pager") or {}).get("pageCount") or 1)
        if count <= 1:
            return
        with ThreadPoolExecutor(max_workers=self.max_parallel) as pool:
            answers = pool.map(
                lambda page: self._get_cached(endpoint, [*base, ("page", page)], cache),
                range(2, count + 1),
            )
            for answer in answers:
                yield _items(answer, endpoint)

    def collection(
        self,
        endpoint: str,
        *,
        fields: str = "id,name",
        filters: Sequence[str] = (),
        params: dict[str, Any] | None = None,
    ) -> pl.DataFrame:
        """Any metadata collection with the ``fields`` you choose (nested values as JSON)."""
        items = [
            i
            for page in self.pages(endpoint, fields=fields, filters=filters, params=params)
            for i in page
        ]
        return metadata.raw_frame(items)

    def _table(
        self, collection: Collection, fields: str | None, filters: Sequence[str]
    ) -> pl.DataFrame:
        if fields is not None:
            return self.collection(collection.endpoint, fields=fields, filters=filters)
        items = (
            item
            for page in self.pages(collection.endpoint, fields=collection.fields, filters=filters)
            for item in page
        )
        return metadata.frame(collection, items)

    def organisation_units(
        self,
        level: int | None = None,
        *,
        fields: str | None = None,
        filters: Sequence[str] = (),
    ) -> pl.DataFrame:
        """Org units with level, path, parent and geometry (GeoJSON text)."""
        chosen = [*filters, f"level:eq:{int(level)}"] if level is not None else list(filters)
        units = self._table(metadata.ORGANISATION_UNITS, fields, chosen)
        if fields is None:  # older servers may omit parent: the path says it too
            from_path = pl.col("path").str.split("/").list.get(-2, null_on_oob=True)
            units = units.with_columns(
                pl.coalesce(
                    pl.col("parent_id"), pl.when(pl.col("level") > 1).then(from_path)
                ).alias("parent_id")
            )
        return units

    def organisation_unit_groups(
        self, *, fields: str | None = None, filters: Sequence[str] = ()
    ) -> pl.DataFrame:
        return self._table(metadata.ORGANISATION_UNIT_GROUPS, fields, filters)

    def organisation_unit_levels(
        self, *, fields: str | None = None, filters: Sequence[str] = ()
    ) -> pl.DataFrame:
        return self._table(metadata.ORGANISATION_UNIT_LEVELS, fields, filters).sort("level")

    def data_elements(
        self, *, fields: str | None = None, filters: Sequence[str] = ()
    ) -> pl.DataFrame:
        return self._table(metadata.DATA_ELEMENTS, fields, filters)

    def data_element_groups(
        self, *, fields: str | None = None, filters: Sequence[str] = ()
    ) -> pl.DataFrame:
        return self._table(metadata.DATA_ELEMENT_GROUPS, fields, filters)

    def category_option_combos(
        self, *, fields: str | None = None, filters: Sequence[str] = ()
    ) -> pl.DataFrame:
        return self._table(metadata.CATEGORY_OPTION_COMBOS, fields, filters)

    def datasets(self, *, fields: str | None = None, filters: Sequence[str] = ()) -> pl.DataFrame:
        return self._table(metadata.DATASETS, fields, filters)

    def indicators(self, *, fields: str | None = None, filters: Sequence[str] = ()) -> pl.DataFrame:
        return self._table(metadata.INDICATORS, fields, filters)

    def programs(self, *, fields: str | None = None, filters: Sequence[str] = ()) -> pl.DataFrame:
        return self._table(metadata.PROGRAMS, fields, filters)

    # -- data values ---------------------------------------------------------------------------

    def data_value_sets(
        self,
        selection: DataValueSelection | None = None,
        *,
        names: bool = False,
        hierarchy: bool = False,
        answer_format: data_values.Format = "csv",
        chunks: Chunks | None = None,
        **keywords: Unpack[SelectionKeywords],
    ) -> pl.DataFrame:
        """Aggregate data values, typed by their data elements' value types, fetched in
        parallel chunks that never lose or repeat a value (see docs/dhis2.md, Data values).

        What to read is a :class:`DataValueSelection`, or its keywords (``datasets=…,
        org_units=…, periods=…``). ``answer_format="json"`` asks DHIS2 for JSON, slower but
        with a ``created`` column."""
        extraction = self._extraction(selection, keywords, chunks, answer_format)
        found = data_values.frame(self, extraction)
        return joins.joined(found, joins.Lookup(self), names=names, hierarchy=hierarchy)

    def iter_data_value_sets(
        self,
        selection: DataValueSelection | None = None,
        *,
        answer_format: data_values.Format = "csv",
        chunks: Chunks | None = None,
        **keywords: Unpack[SelectionKeywords],
    ) -> Iterator[pl.DataFrame]:
        """The values of ``data_value_sets`` as batches (one per request, all with the same
        schema, empty ones skipped), holding at most ``max_parallel`` answers at once."""
        extraction = self._extraction(selection, keywords, chunks, answer_format)
        return data_values.batches(self, extraction)

    def data_value_sets_to_parquet(
        self,
        path: str | Path,
        selection: DataValueSelection | None = None,
        *,
        names: bool = False,
        hierarchy: bool = False,
        answer_format: data_values.Format = "csv",
        chunks: Chunks | None = None,
        **keywords: Unpack[SelectionKeywords],
    ) -> ExtractSummary:
        """``data_value_sets`` streamed into a Parquet file, batch by batch; the file appears
        complete or not at all."""
        extraction = self._extraction(selection, keywords, chunks, answer_format)
        lookup = joins.Lookup(self)
        return data_values.to_parquet(
            self,
            extraction,
            path,
            lambda batch: joins.joined(batch, lookup, names=names, hierarchy=hierarchy),
        )

    def _extraction(
        self,
        selection: DataValueSelection | None,
        keywords: SelectionKeywords,
        chunks: Chunks | None,
        answer_format: data_values.Format,
    ) -> data_values.Extraction:
        """The checked selection of one of the methods above and its plan of requests."""
        chosen = DataValueSelection.of(selection, keywords)
        return data_values.prepare(self, chosen, chunks or Chunks(), answer_format)

    def with_names(self, df: pl.DataFrame) -> pl.DataFrame:
        """``data_element_name``, ``category_option_combo_name``, ``attribute_option_combo_name``
        and ``org_unit_name`` after those id columns, where they exist."""
        return joins.add_names(df, joins.Lookup(self))

    def with_hierarchy(self, df: pl.DataFrame, column: str = "org_unit") -> pl.DataFrame:
        """``level_1_id``, ``level_1_name``, … for every level, from ``column``'s org units."""
        return joins.add_hierarchy(df, joins.Lookup(self), column)

    # -- cache ---------------------------------------------------------------------------------

    def _get_cached(self, endpoint: str, params: list[tuple[str, Any]], cache: bool) -> Any:
        if self.cache_dir is None or not cache:
            return self.http.get(endpoint, params)
        key = hashlib.sha256(
            json.dumps([self.url, endpoint, [list(p) for p in params]], default=str).encode()
        ).hexdigest()
        path = self.cache_dir / f"{key}.json"
        if path.exists():
            return json.loads(path.read_text())
        answer = self.http.get(endpoint, params)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(answer))
        partial.replace(path)  # a crash never leaves half an answer in the cache
        return answer

    # -- analytics, tracker, import ------------------------------------------------------------

    def analytics(
        self,
        dx: Sequence[str],
        pe: Sequence[str],
        ou: Sequence[str],
        *,
        filters: Mapping[str, Sequence[str]] | None = None,
        params: Mapping[str, Any] | None = None,
        ignore_limit: bool = False,
    ) -> pl.DataFrame:
        """Aggregate analytics: columns dx, pe, ou (and other dimensions asked, such as co),
        value (Float64). Queries past DHIS2's row cap are split and put together, never cut."""
        return analytics_.read_analytics(
            self.http,
            dx,
            pe,
            ou,
            filters=filters,
            params=params,
            ignore_limit=ignore_limit,
            max_parallel=self.max_parallel,
        )

    def tracker_events(
        self,
        *,
        program: str,
        org_units: Sequence[str] = (),
        org_unit_mode: str = "DESCENDANTS",
        program_stage: str | None = None,
        occurred_after: date | datetime | str | None = None,
        occurred_before: date | datetime | str | None = None,
        updated_after: date | datetime | str | None = None,
        page_size: int = 1000,
    ) -> pl.DataFrame:
        """One row per event; its data values in text columns named by data element id."""
        return tracker.read_events(
            self.http,
            self.version_number,
            program=program,
            org_units=org_units,
            org_unit_mode=org_unit_mode,
            program_stage=program_stage,
            occurred_after=occurred_after,
            occurred_before=occurred_before,
            updated_after=updated_after,
            page_size=page_size,
            max_parallel=self.max_parallel,
        )

    def tracked_entities(
        self,
        *,
        program: str | None = None,
        tracked_entity_type: str | None = None,
        org_units: Sequence[str] = (),
        org_unit_mode: str = "DESCENDANTS",
        updated_after: date | datetime | str | None = None,
        page_size: int = 1000,
    ) -> pl.DataFrame:
        """One row per tracked entity; its attributes in text columns named by attribute id."""
        return tracker.read_tracked_entities(
            self.http,
            self.version_number,
            program=program,
            tracked_entity_type=tracked_entity_type,
            org_units=org_units,
            org_unit_mode=org_unit_mode,
            updated_after=updated_after,
            page_size=page_size,
            max_parallel=self.max_parallel,
        )

    def push_data_values(
        self,
        df: pl.DataFrame,
        *,
        dry_run: bool = False,
        import_strategy: str = "CREATE_AND_UPDATE",
        id_scheme: str = "UID",
        chunk_size: int = 5000,
        journal: str | Path | None = None,
    ) -> imports.ImportReport:
        """Import a table of data values in chunks; conflicts name the table's rows."""
        return imports.push(
            self.http,
            df,
            dry_run=dry_run,
            import_strategy=import_strategy,
            id_scheme=id_scheme,
            chunk_size=chunk_size,
            journal=journal,
        )


def _items(answer: Any, endpoint: str) -> list[dict[str, Any]]:
    if not isinstance(answer, dict) or not isinstance(answer.get(endpoint), list):
        raise DHIS2Error(0, f"DHIS2's answer for {endpoint} has no '{endpoint}' list")
    return list(answer[endpoint])
