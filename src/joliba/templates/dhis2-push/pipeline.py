"""__NAME__: push a table of a dataset into a DHIS2 as data values.

The table's columns are renamed by `columns` (e.g. `org_unit=district,value=cases`), its codes
translated by an optional mapping file, then DHIS2 checks everything in a dry run first. The
conflicts DHIS2 finds, and the rows the mapping could not translate, are written as CSV outputs.
"""

import hashlib
from datetime import UTC, datetime

import polars as pl

from joliba import Dataset, DHIS2Connection, File, current_run, parameter, pipeline, workspace

REQUIRED = ("data_element", "period", "org_unit", "value")
OPTIONAL = ("category_option_combo", "attribute_option_combo", "comment")


@pipeline(name="__NAME__", timeout=6 * 3600)
@parameter("target", type=DHIS2Connection, name="Target DHIS2")
@parameter(
    "source",
    type=Dataset,
    name="Dataset",
    help="Its latest published version is read",
    required=False,
)
@parameter(
    "file", type=str, name="Table file", help="Empty: the version's only table", required=False
)
@parameter(
    "table_file",
    type=File,
    name="Or a workspace file",
    help="A Parquet or CSV file of the workspace, instead of a dataset",
    required=False,
)
@parameter(
    "columns",
    type=str,
    name="Columns",
    help="Renames, e.g. org_unit=district,value=cases; needed: " + ", ".join(REQUIRED),
    required=False,
)
@parameter(
    "mapping",
    type=File,
    name="Mapping file",
    help="CSV with columns kind,source,target; kind is data_element, org_unit or "
    "category_option_combo",
    required=False,
)
@parameter("dry_run", type=bool, name="Dry run only", default=True)
@parameter(
    "push_with_conflicts",
    type=bool,
    name="Import even if the dry run finds conflicts",
    default=False,
)
@parameter(
    "import_strategy",
    type=str,
    name="Import strategy",
    default="CREATE_AND_UPDATE",
    choices=["CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE"],
)
@parameter("id_scheme", type=str, name="Id scheme", default="UID", choices=["UID", "CODE"])
def __FUNCTION__(
    target,
    source,
    file,
    table_file,
    columns,
    mapping,
    dry_run,
    push_with_conflicts,
    import_strategy,
    id_scheme,
):
    table, origin = read_table(source, file, table_file)
    rows = renamed(table, columns)
    outputs = workspace.files_path / "dhis2" / "push" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    outputs.mkdir(parents=True, exist_ok=True)
    if mapping:
        rows, unmapped = translated(rows, pl.read_csv(workspace.files_path / mapping))
        if unmapped.height:
            write_output(unmapped, outputs / "unmapped.csv")
            current_run.log_warning(f"{unmapped.height:,} rows have no mapping: see unmapped.csv")
    current_run.log_info(
        f"{rows.height:,} values from {origin} to DHIS2 {target.version} at {target.url}"
    )

    options = {"import_strategy": import_strategy, "id_scheme": id_scheme}
    check = target.push_data_values(rows, dry_run=True, **options)
    log_report("dry run", check)
    if check.conflicts.height:
        write_output(check.conflicts, outputs / "conflicts-dry-run.csv")
    if dry_run:
        current_run.log_info("dry run only: nothing was imported")
        return
    if check.conflicts.height and not push_with_conflicts:
        raise RuntimeError(
            f"the dry run found {check.conflicts.height:,} conflicts (conflicts-dry-run.csv); "
            "fix them, or run again with push_with_conflicts"
        )
    current_run.progress(50, "dry run done, importing")
    # The journal remembers the chunks DHIS2 answered: a run started again after a failure
    # sends only the others. It goes once every chunk is through.
    key = hashlib.sha256(target.url.encode()).hexdigest()[:12]
    journal = workspace.files_path / "dhis2" / "push" / f"journal-{key}.json"
    report = target.push_data_values(rows, dry_run=False, journal=journal, **options)
    log_report("import", report)
    if report.conflicts.height:
        write_output(report.conflicts, outputs / "conflicts.csv")
    failed = report.failed_chunks
    if failed:
        raise RuntimeError(
            f"{len(failed)} chunks were not imported ({failed[0].error}); "
            "run again to send only those"
        )
    journal.unlink(missing_ok=True)


def read_table(source, name, table_file):
    """The table to push, and where it came from (for the log)."""
    if table_file:
        path = workspace.files_path / table_file
        reader = pl.read_parquet if path.suffix == ".parquet" else pl.read_csv
        return reader(path), table_file
    if not source:
        raise ValueError("choose a dataset or a workspace file to push")
    version = source.latest
    if version is None:
        raise ValueError(f"dataset {source} has no published version")
    origin = f"{source} {version.name}"
    if name:
        return version.file(name).read_polars(), f"{origin} {name}"
    tables = [f for f in version.files if f.kind != "file"]  # parquet, csv, excel, json…
    if len(tables) != 1:
        names = ", ".join(f.name for f in tables) or "none"
        raise ValueError(f"version {version.name} has {len(tables)} tables ({names}): name one")
    return tables[0].read_polars(), f"{origin} {tables[0].name}"


def renamed(table, columns):
    pairs = [p.strip() for p in (columns or "").split(",") if p.strip()]
    renames = {}
    for pair in pairs:
        ours, _, theirs = pair.partition("=")
        if not theirs or theirs.strip() not in table.columns:
            raise ValueError(f"columns: {pair!r} must be name=column, with a column of the table")
        renames[theirs.strip()] = ours.strip()
    table = table.rename(renames)
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"the table has no column {', '.join(missing)}: rename with `columns`")
    kept = [c for c in (*REQUIRED, *OPTIONAL) if c in table.columns]
    return table.select(pl.col(kept).cast(pl.String))


def translated(rows, mapping):
    """Each mapped column's codes replaced by the mapping's targets; unmapped rows apart."""
    if set(mapping.columns) < {"kind", "source", "target"}:
        raise ValueError("the mapping file needs columns kind, source and target")
    mapping = mapping.select(pl.col("kind", "source", "target").cast(pl.String))
    rows = rows.with_row_index("row")
    unmapped = rows.clear()
    for kind in mapping["kind"].unique().sort():
        if kind not in rows.columns:
            raise ValueError(f"mapping kind {kind!r} is not a column: use {', '.join(REQUIRED)}")
        pairs = mapping.filter(pl.col("kind") == kind).select(
            pl.col("source").alias(kind), pl.col("target").alias("_target")
        )
        joined = rows.join(pairs, on=kind, how="left")
        unmapped = pl.concat([unmapped, joined.filter(pl.col("_target").is_null()).drop("_target")])
        rows = (
            joined.filter(pl.col("_target").is_not_null())
            .with_columns(pl.col("_target").alias(kind))
            .drop("_target")
        )
    return rows.sort("row").drop("row"), unmapped.sort("row")


def log_report(step, report):
    current_run.log_info(
        f"{step}: {report.imported:,} imported, {report.updated:,} updated, "
        f"{report.ignored:,} ignored, {report.deleted:,} deleted, "
        f"{report.conflicts.height:,} conflicts"
    )


def write_output(frame, path):
    frame.write_csv(path)
    current_run.add_file_output(str(path.relative_to(workspace.files_path)))


if __name__ == "__main__":
    __FUNCTION__()
