"""__NAME__: DHIS2 data values for data elements or data sets, org units at one level and a
range of periods, published as a dataset version (and, if asked, a workspace table).

Run it locally against the DHIS2 emulator (`joliba dhis2 emulator`), see README.md.
"""

import polars as pl

from joliba import DHIS2Connection, current_run, parameter, pipeline, workspace
from joliba.dhis2 import periods
from joliba.sdk.datasets import DatasetNotFound


@pipeline(name="__NAME__", timeout=6 * 3600)
@parameter("source", type=DHIS2Connection, name="DHIS2")
@parameter(
    "data_elements",
    type=str,
    multiple=True,
    required=False,
    name="Data elements",
    widget="dhis2.data_elements",
    connection="source",
)
@parameter(
    "datasets",
    type=str,
    multiple=True,
    required=False,
    name="Data sets",
    help="All their data elements",
    widget="dhis2.datasets",
    connection="source",
)
@parameter(
    "level",
    type=str,
    name="Org unit level",
    help="Keep the units at this level and below: its number (1 is the country) or id",
    default="2",
    widget="dhis2.org_unit_levels",
    connection="source",
)
@parameter(
    "org_units",
    type=str,
    multiple=True,
    required=False,
    name="Within org units",
    help="Default: the whole hierarchy",
    widget="dhis2.org_units",
    connection="source",
)
@parameter("first_period", type=str, name="First period", help="202401, 2024W1, 2024Q1, 2024…")
@parameter("last_period", type=str, name="Last period", help="Included")
@parameter("aggregate", type=bool, name="Sum to the level", default=False)
@parameter(
    "dataset",
    type=str,
    name="Dataset",
    help="Slug of the dataset that gets a new version; empty: only write the file",
    default="dhis2-data-values",
    required=False,
)
@parameter("table", type=str, name="Workspace table", required=False)
def __FUNCTION__(
    source,
    data_elements,
    datasets,
    level,
    org_units,
    first_period,
    last_period,
    aggregate,
    dataset,
    table,
):
    if not data_elements and not datasets:
        raise ValueError("choose data elements, data sets or both")
    first, last = periods.parse(first_period), periods.parse(last_period)
    if first.start > last.end:
        raise ValueError(f"first period {first.id} is after last period {last.id}")
    level = level_number(source, level)
    roots = list(org_units) or source.organisation_units(level=1)["id"].to_list()
    current_run.log_info(
        f"DHIS2 {source.version} at {source.url}: {len(data_elements)} data elements, "
        f"{len(datasets)} data sets, {first.id} to {last.id}, under {len(roots)} org units"
    )

    folder = workspace.files_path / "dhis2" / (dataset or "__CODE__")
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / "raw-data-values.parquet"
    summary = source.data_value_sets_to_parquet(
        raw,
        data_elements=data_elements,
        datasets=datasets,
        org_units=roots,
        children=True,
        start_date=first.start,
        end_date=last.end,
    )
    current_run.log_info(f"{summary.values:,} values in {summary.requests} requests")
    current_run.progress(70, "joining names and hierarchy")

    values = shape(source, pl.scan_parquet(raw), level, aggregate)
    path = folder / "data_values.parquet"
    values.sink_parquet(path)
    raw.unlink()
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    current_run.log_info(f"{rows:,} rows at level {level} and below")
    current_run.add_file_output(str(path.relative_to(workspace.files_path)))

    if table:
        workspace.write_table(table, pl.read_parquet(path))
        current_run.add_table_output(table)
    if dataset:
        changelog = (
            f"DHIS2 {source.version} ({source.url}), periods {first.id} to {last.id}, "
            f"level {level}{' summed' if aggregate else ''}: {rows:,} rows"
        )
        version = target_dataset(dataset).create_version(files=[path], changelog=changelog)
        current_run.log_info(f"published {dataset} {version.name}")


def shape(source, values, level, aggregate):
    """Names, ancestors down to ``level``; rows above the level dropped; summed if asked."""
    found = values.select("org_unit").unique().collect()
    units = source.with_names(source.with_hierarchy(found))
    elements = source.data_elements().select(
        pl.col("id").alias("data_element"), pl.col("name").alias("data_element_name")
    )
    combos = source.category_option_combos().select(
        pl.col("id").alias("category_option_combo"),
        pl.col("name").alias("category_option_combo_name"),
    )
    joined = (
        values.join(units.lazy(), on="org_unit", how="left")
        .join(elements.lazy(), on="data_element", how="left")
        .join(combos.lazy(), on="category_option_combo", how="left")
        .filter(pl.col(f"level_{level}_id").is_not_null())
    )
    if not aggregate:
        return joined
    keys = ["data_element", "data_element_name", "category_option_combo"]
    keys += ["category_option_combo_name", "attribute_option_combo", "period"]
    keys += [
        f"level_{n}_{part}"
        for n in range(1, level + 1)
        for part in ("id", "name")
        if f"level_{n}_{part}" in units.columns
    ]
    value = pl.col("value_number") if "value_number" in joined.collect_schema() else pl.col("value")
    return joined.group_by(keys).agg(value.cast(pl.Float64, strict=False).sum().alias("value"))


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
