"""__NAME__: a health map. The org units of one level (the districts) with their boundaries,
and the monthly values of data elements or indicators from DHIS2 analytics, as one GeoParquet
table published as a dataset version and written to the workspace database.

Run it locally against the DHIS2 emulator (`joliba dhis2 emulator`), see README.md.
"""

import json

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from joliba import DHIS2Connection, current_run, parameter, pipeline, workspace
from joliba.dhis2 import periods
from joliba.sdk.datasets import DatasetNotFound

#: The table, one row per org unit, month and data element or indicator. ``geometry`` is the
#: org unit's shape as WKB (GeoParquet's encoding); ``geojson`` the same shape as DHIS2 gave it.
SCHEMA = pa.schema(
    [
        ("org_unit", pa.string()),
        ("name", pa.string()),
        ("period", pa.string()),
        ("data_element", pa.string()),
        ("data_element_name", pa.string()),
        ("value", pa.float64()),
        ("geometry", pa.binary()),
        ("geojson", pa.string()),
    ]
)


@pipeline(name="__NAME__", timeout=3600)
@parameter("source", type=DHIS2Connection, name="DHIS2")
@parameter(
    "level",
    type=str,
    name="Org unit level",
    help="The level of the districts: its number (1 is the country) or id",
    default="3",
    widget="dhis2.org_unit_levels",
    connection="source",
)
@parameter(
    "data_elements",
    type=str,
    multiple=True,
    required=False,
    name="Data elements",
    help="Their totals (all category option combos)",
    widget="dhis2.data_elements",
    connection="source",
)
@parameter(
    "indicators",
    type=str,
    multiple=True,
    required=False,
    name="Indicators",
    widget="dhis2.indicators",
    connection="source",
)
@parameter(
    "first_period",
    type=str,
    name="First month",
    help="202401; a quarter or a year (2024Q1, 2024) starts at its first month",
)
@parameter("last_period", type=str, name="Last month", help="Included")
@parameter(
    "dataset",
    type=str,
    name="Dataset",
    help="Slug of the dataset that gets a new version; empty: only write the file",
    default="health-map",
    required=False,
)
@parameter(
    "table",
    type=str,
    name="Workspace table",
    help="Empty: no table",
    default="health_map",
    required=False,
)
def __FUNCTION__(
    source, level, data_elements, indicators, first_period, last_period, dataset, table
):
    items = list(dict.fromkeys([*data_elements, *indicators]))
    if not items:
        raise ValueError("choose data elements, indicators or both")
    months = month_ids(first_period, last_period)
    if table and not workspace.database_url:
        raise ValueError(
            f"this workspace has no database for table {table!r}: set database_url in "
            "workspace.yaml, or leave table empty"
        )
    level = level_number(source, level)
    units = source.organisation_units(level=level).select("id", "name", "geometry")
    if units.is_empty():
        raise ValueError(f"no org units at level {level} in this DHIS2: is it the right level?")
    units = units.sort("name", "id")
    names = item_names(source, items)
    current_run.log_info(
        f"DHIS2 {source.version} at {source.url}: {units.height} org units at level {level}, "
        f"{len(months)} months ({months[0]} to {months[-1]}), {len(items)} data elements "
        "or indicators"
    )

    shapes, geo = shapes_of(units)
    missing = units.filter(shapes["geometry"].is_null())
    if not missing.is_empty():
        shown = ", ".join(missing["name"].head(5))
        more = f" and {missing.height - 5} more" if missing.height > 5 else ""
        current_run.log_warning(
            f"{missing.height} of {units.height} org units have no geometry DHIS2 gives or "
            f"shapely reads ({shown}{more}): kept, with geometry null"
        )
    current_run.progress(20, "reading analytics")

    roots = source.organisation_units(level=1)["id"].to_list()
    found = source.analytics(items, months, [f"LEVEL-{level}", *roots])
    values = found.select(
        pl.col("ou").alias("org_unit"),
        pl.col("pe").alias("period"),
        pl.col("dx").alias("data_element"),
        pl.col("value").cast(pl.Float64),
    )
    # Every org unit, month and item gets a row, null where DHIS2 has no value.
    grid = (
        units.select(pl.col("id").alias("org_unit"), "name")
        .join(pl.DataFrame({"period": months}), how="cross")
        .join(names, how="cross")
        .join(values, on=["org_unit", "period", "data_element"], how="left")
    )
    if values.is_empty():
        current_run.log_warning(
            "DHIS2 analytics has no value for these items and months: are they right, and "
            "have DHIS2's analytics tables been generated since the data was entered?"
        )
    counted = grid["value"].is_not_null().sum()
    current_run.log_info(
        f"{values.height:,} values from analytics; {grid.height:,} rows, "
        f"{grid.height - counted:,} of them without a value"
    )
    current_run.progress(60, "writing the map")

    folder = workspace.files_path / "dhis2" / (dataset or "__CODE__")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "health_map.parquet"
    write_map(grid, shapes, geo, months, path)
    current_run.add_file_output(str(path.relative_to(workspace.files_path)))
    current_run.log_info(f"wrote {path.name} ({path.stat().st_size:,} bytes)")

    if table:
        current_run.progress(70, "writing the workspace table")
        written = workspace.write_table(table, path, geometry="geometry")
        current_run.add_table_output(table)
        current_run.log_info(f"table {table}: {written:,} rows")
    if dataset:
        current_run.progress(85, "publishing the dataset")
        changelog = (
            f"DHIS2 {source.version} ({source.url}), level {level}, {months[0]} to "
            f"{months[-1]}, {len(items)} data elements or indicators: {grid.height:,} rows"
        )
        version = target_dataset(dataset).create_version(files=[path], changelog=changelog)
        current_run.log_info(f"published {dataset} {version.name}")


def month_ids(first_period, last_period):
    """The months from the one ``first_period`` starts in to the one ``last_period`` ends in."""
    first, last = periods.parse(first_period), periods.parse(last_period)
    if first.start > last.end:
        raise ValueError(f"first period {first.id} is after last period {last.id}")
    start = periods.period_of(first.start, periods.PeriodType.MONTHLY)
    end = periods.period_of(last.end, periods.PeriodType.MONTHLY)
    return [month.id for month in periods.periods_between(start, end)]


def item_names(source, items):
    """``data_element`` and ``data_element_name`` of each item; ids DHIS2 does not know are
    refused, naming them."""
    wanted = [f"id:in:[{','.join(items)}]"]
    found = pl.concat(
        [
            source.data_elements(filters=wanted).select("id", "name"),
            source.indicators(filters=wanted).select("id", "name"),
        ]
    )
    names = dict(zip(found["id"], found["name"]))
    unknown = [item for item in items if item not in names]
    if unknown:
        raise ValueError(f"not data elements or indicators of this DHIS2: {', '.join(unknown)}")
    return pl.DataFrame(
        {"data_element": items, "data_element_name": [names[item] for item in items]}
    )


def shapes_of(units):
    """Each org unit's shape as WKB and as GeoJSON (both null when DHIS2 gives none or it does
    not read as GeoJSON), and the GeoParquet description of the WKB column."""
    texts = units["geometry"].to_list()
    shapes = shapely.from_geojson(texts, on_invalid="ignore")
    readable = [shape for shape in shapes if shape is not None]
    column = {
        "encoding": "WKB",
        "geometry_types": sorted({shape.geom_type for shape in readable}),
    }
    if readable:
        column["bbox"] = [float(edge) for edge in shapely.total_bounds(readable)]
    frame = pl.DataFrame(
        {
            "org_unit": units["id"],
            "geometry": pl.Series(
                [None if s is None else shapely.to_wkb(s) for s in shapes], dtype=pl.Binary
            ),
            "geojson": pl.Series(
                [t if s is not None else None for t, s in zip(texts, shapes)], dtype=pl.String
            ),
        }
    )
    geo = {"version": "1.1.0", "primary_column": "geometry", "columns": {"geometry": column}}
    return frame, geo


def write_map(grid, shapes, geo, months, path):
    """The table as GeoParquet, one row group per month (memory holds one month's shapes at a
    time); written beside ``path`` and renamed, so an error leaves no half file."""
    schema = SCHEMA.with_metadata({b"geo": json.dumps(geo).encode()})
    partial = path.with_name(path.name + ".partial")
    try:
        # A large dictionary page keeps each shape once per row group, however many items.
        with pq.ParquetWriter(
            partial, schema, compression="zstd", dictionary_pagesize_limit=64 << 20
        ) as writer:
            for month in months:
                rows = grid.filter(pl.col("period") == month).join(
                    shapes, on="org_unit", how="left"
                )
                writer.write_table(rows.select(SCHEMA.names).to_arrow().cast(schema))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)


def level_number(source, level):
    """A level as the run form's picker gives it (the level's id) or as typed (its number)."""
    if str(level).strip().isdigit():
        return int(level)
    levels = source.organisation_unit_levels()
    found = levels.filter(levels["id"] == level)
    if found.is_empty():
        raise ValueError(f"{level!r} is not an org unit level of this DHIS2")
    return int(found["level"][0])


def target_dataset(slug):
    try:
        return workspace.datasets.get(slug)
    except DatasetNotFound:
        name = slug.replace("-", " ").capitalize().replace("Dhis2", "DHIS2")
        return workspace.datasets.create(name, slug=slug)


if __name__ == "__main__":
    __FUNCTION__()
