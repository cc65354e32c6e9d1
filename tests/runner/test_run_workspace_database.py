"""A run writes to its own workspace's PostgreSQL database, through the sandbox's relay, and
can open no other database on that server: not another workspace's, not the metadata one."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import World, metadata_database
from tests.fixtures.pg_cluster import Cluster
from tests.pipeline_helpers import log_messages, push, start_run, wait_for_run

REACH = """
import psycopg
import polars as pl
from joliba import current_run, parameter, pipeline, workspace

@pipeline(name="Reach")
@parameter("other", type=str)
@parameter("other_user", type=str)
@parameter("metadata", type=str)
def reach(other, other_user, metadata):
    frame = pl.DataFrame({"district": ["Bo", "Kono"], "cases": [12, 7]})
    current_run.log_info(f"wrote {workspace.write_table('cases', frame)} rows")
    url = workspace.database_url
    base, _, _ = url.rpartition("/")
    credentials, _, where = base.rpartition("@")
    password = credentials.rpartition(":")[2]
    attempts = {
        "other": f"{base}/{other}",
        "metadata": f"{base}/{metadata}",
        "as-other": f"postgresql://{other_user}:{password}@{where}/{other}",
    }
    for name, target in attempts.items():
        try:
            psycopg.connect(target, connect_timeout=5).close()
            current_run.log_info(f"{name}: opened")
        except psycopg.Error as exc:
            current_run.log_info(f"{name}: refused: {' '.join(str(exc).split())}")
"""


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)  # metadata on the cluster
def test_a_run_reaches_its_workspace_database_and_no_other(
    db_world: World, pg_cluster: Cluster, needs_sandbox: None
) -> None:
    admin = db_world.person()
    ws, other = db_world.workspace(admin), db_world.workspace(admin)
    mine = admin.api.get(f"/workspaces/{ws}/database", params={"reveal": "true"}).json()
    theirs = admin.api.get(f"/workspaces/{other}/database").json()
    push(admin.api, ws, "reach", REACH)
    metadata = metadata_database(db_world)
    values = {"other": theirs["database"], "other_user": theirs["user"], "metadata": metadata}
    started = start_run(admin.api, ws, "reach", values)
    run = wait_for_run(admin.api, ws, started["id"], timeout=120)
    messages = log_messages(admin.api, ws, run["id"])
    assert run["state"] == "succeeded", messages
    assert "wrote 2 rows" in messages
    found = {m.split(":", 1)[0]: m for m in messages if m.startswith(("other", "metadata", "as-"))}
    assert "permission denied for database" in found["other"], found
    assert "permission denied for database" in found["metadata"], found
    assert "password authentication failed" in found["as-other"], found
    url = pg_cluster.url(mine["database"], user=mine["read_only_user"])
    with psycopg.connect(url.replace(pg_cluster.password, mine["read_only_password"])) as con:
        rows = con.execute("SELECT district, cases FROM cases ORDER BY district").fetchall()
    assert rows == [("Bo", 12), ("Kono", 7)]
