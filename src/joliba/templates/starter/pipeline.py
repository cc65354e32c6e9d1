"""__NAME__: a starting point. Run it locally with `python pipeline.py -c '{"years": [2024]}'`."""

from joliba import current_run, parameter, pipeline, task, workspace


@pipeline(name="__NAME__", timeout=3600, retries=0)
@parameter("country", type=str, name="Country", help="Shown in the report", default="Mali")
@parameter("years", type=int, name="Years", multiple=True, default=[2024, 2025])
@parameter("dry_run", type=bool, name="Dry run", help="Write nothing", default=False)
def __FUNCTION__(country, years, dry_run):
    current_run.log_info(f"preparing a report for {country}, years {years}")
    counts = [count_cases(year) for year in years]  # independent tasks run in parallel
    write_report(country, years, counts, dry_run)


@task(retries=2, retry_delay=1)
def count_cases(year):
    # Replace with real work: read a file, query DHIS2 through a connection parameter…
    return (year % 100) * 10


@task
def write_report(country, years, counts, dry_run):
    lines = [f"{year},{count}" for year, count in zip(years, counts)]
    current_run.log_info(f"{len(lines)} rows for {country}")
    if dry_run:
        current_run.log_warning("dry run: nothing written")
        return
    path = "reports/__CODE__.csv"
    with workspace.open(path, "w") as handle:
        handle.write("year,cases\n" + "\n".join(lines) + "\n")
    current_run.add_file_output(path)


if __name__ == "__main__":
    __FUNCTION__()
