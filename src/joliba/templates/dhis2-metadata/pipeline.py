"""__NAME__: DHIS2 metadata (org units with geometry and hierarchy, org unit levels, data
elements, category option combos, data sets) published as a dataset version.

Org units are written as GeoParquet, which QGIS, GeoPandas and DuckDB read as a map layer.
"""

from joliba import DHIS2Connection, current_run, parameter, pipeline, workspace
from joliba.dhis2.geo import write_geoparquet
from joliba.sdk.datasets import DatasetNotFound


@pipeline(name="__NAME__", timeout=3600)
@parameter("source", type=DHIS2Connection, name="DHIS2")
@parameter(
    "max_level",
    type=str,
    name="Deepest org unit level",
    help="Its number or id; empty: every level",
    required=False,
    widget="dhis2.org_unit_levels",
    connection="source",
)
@parameter(
    "dataset",
    type=str,
    name="Dataset",
    help="Slug of the dataset that gets a new version; empty: only write the files",
    default="dhis2-metadata",
    required=False,
)
def __FUNCTION__(source, max_level, dataset):
    current_run.log_info(f"DHIS2 {source.version} at {source.url}")
    folder = workspace.files_path / "dhis2" / (dataset or "__CODE__")
    folder.mkdir(parents=True, exist_ok=True)

    units = source.organisation_units()
    if max_level:
        units = units.filter(units["level"] <= level_number(source, max_level))
    units = source.with_hierarchy(units, column="id")
    files = [write_geoparquet(units, folder / "organisation_units.parquet")]
    current_run.log_info(f"{units.height:,} org units")
    current_run.progress(50, "org units written")

    tables = {
        "organisation_unit_levels": source.organisation_unit_levels(),
        "data_elements": source.data_elements(),
        "category_option_combos": source.category_option_combos(),
        "datasets": source.datasets(),
    }
    for name, frame in tables.items():
        path = folder / f"{name}.parquet"
        frame.write_parquet(path)
        files.append(path)
        current_run.log_info(f"{frame.height:,} {name.replace('_', ' ')}")
    for path in files:
        current_run.add_file_output(str(path.relative_to(workspace.files_path)))

    if dataset:
        changelog = f"DHIS2 {source.version} ({source.url}): {units.height:,} org units"
        version = target_dataset(dataset).create_version(files=files, changelog=changelog)
        current_run.log_info(f"published {dataset} {version.name}")


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
