"""A workspace's Superset dashboards: the demo health map built through Superset's API,
listed for the workspace's members only, embedded with guest tokens Joliba hands out."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import pytest

from joliba.domain.permissions import Role
from joliba.services import superset_demo
from joliba.services.platform import Platform
from tests.conftest import World
from tests.fixtures.superset import SharedSuperset
from tests.fixtures.superset_worlds import link_of, square, write_health_map


def test_features_query_colours_each_district_of_the_latest_month_by_quintile(
    tmp_path: Any,
) -> None:
    path = tmp_path / "w.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE health_map (name TEXT, period TEXT, value REAL, geojson TEXT)")
        con.executemany(
            "INSERT INTO health_map VALUES (?, ?, ?, ?)",
            [(f"d{i}", "202502", float(i), square(i, 0)) for i in range(10)]
            + [("d0", "202501", 99.0, square(0, 0)), ("gone", "202502", None, square(9, 9))],
        )
        rows = con.execute(superset_demo.features_sql("health_map", sqlite=True)).fetchall()
    con.close()
    assert {r[1] for r in rows} == {"202502"}  # only the latest month
    features = {r[0]: json.loads(r[3]) for r in rows}
    assert features["d0"]["properties"]["fillColor"] == superset_demo.QUINTILES[0]
    assert features["d9"]["properties"]["fillColor"] == superset_demo.QUINTILES[-1]
    assert features["gone"]["properties"]["fillColor"] == superset_demo.NO_VALUE
    assert features["d3"]["geometry"]["type"] == "Polygon"


def test_dashboards_are_listed_and_embedded_for_their_workspace_members_only(
    ss_world: World, ss_platform: Platform, superset: SharedSuperset
) -> None:
    admin = ss_world.person()
    slug, other = ss_world.workspace(admin), ss_world.workspace(admin)
    write_health_map(ss_platform, slug)
    link = link_of(ss_platform)
    dashboard_id = superset_demo.build(link, slug)
    # Built once: asked again, the same dashboard.
    assert superset_demo.build(link, slug) == dashboard_id

    viewer = ss_world.person()
    ss_world.add_member(slug, viewer, Role.VIEWER)
    outsider = ss_world.person()
    ss_world.add_member(other, outsider, Role.ADMIN)

    listed = viewer.api.get(f"/workspaces/{slug}/dashboards")
    assert listed.status_code == 200, listed.text
    (dashboard,) = listed.json()
    assert dashboard["id"] == dashboard_id and dashboard["title"] == superset_demo.TITLE
    assert dashboard["url"] == f"{superset.url}/superset/dashboard/{dashboard_id}/"
    assert outsider.api.get(f"/workspaces/{other}/dashboards").json() == []
    assert outsider.api.get(f"/workspaces/{slug}/dashboards").status_code == 404
    # Another workspace's dashboard cannot be had through one's own workspace.
    stolen = outsider.api.post(f"/workspaces/{other}/dashboards/{dashboard_id}/guest-token")
    assert stolen.status_code == 404

    answer = viewer.api.post(f"/workspaces/{slug}/dashboards/{dashboard_id}/guest-token")
    assert answer.status_code == 200, answer.text
    guest = answer.json()
    assert guest["superset_url"] == superset.url
    # The guest token opens that dashboard and its charts' data in Superset, nothing else.
    headers = {"X-GuestToken": guest["token"]}
    with httpx.Client(base_url=superset.url, timeout=60, headers=headers) as client:
        seen = client.get(f"/api/v1/dashboard/{dashboard_id}")
        assert seen.status_code == 200, seen.text
        assert seen.json()["result"]["dashboard_title"] == superset_demo.TITLE
        charts = client.get(f"/api/v1/dashboard/{dashboard_id}/charts").json()["result"]
        assert {c["slice_name"] for c in charts} >= {"District map, latest month", "Total"}
        total = next(c for c in charts if c["slice_name"] == "Total")
        dataset = int(total["form_data"]["datasource"].split("__")[0])
        data = client.post(
            "/api/v1/chart/data",
            json={
                "datasource": {"id": dataset, "type": "table"},
                "queries": [{"metrics": [total["form_data"]["metric"]]}],
                # As the embedded page asks: a chart of this dashboard.
                "form_data": {
                    **total["form_data"],
                    "slice_id": total["id"],
                    "dashboardId": dashboard_id,
                },
                "result_format": "json",
                "result_type": "full",
            },
        )
        assert data.status_code == 200, data.text
        # 6 districts x 3 months, one missing: sum of 10*d + m.
        expected = sum(10 * d + m for d in range(6) for m in range(3)) - (0 + 2)
        assert next(iter(data.json()["result"][0]["data"][0].values())) == pytest.approx(expected)
        # It lists no database: its only access is to what the dashboard draws.
        assert client.get("/api/v1/database/").json()["result"] == []
    with ss_platform.db.transaction(write=False) as session:
        from sqlalchemy import select

        from joliba.db.tables import AuditEntry

        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor_email == viewer.email)
        ).all()
    assert "superset.dashboard_view" in actions


def test_a_dashboard_that_also_reads_another_workspace_is_in_neither(
    ss_world: World, ss_platform: Platform
) -> None:
    admin = ss_world.person()
    mine, theirs = ss_world.workspace(admin), ss_world.workspace(admin)
    write_health_map(ss_platform, mine)
    write_health_map(ss_platform, theirs)
    link = link_of(ss_platform)
    dashboard_id = superset_demo.build(link, mine)
    assert admin.api.get(f"/workspaces/{mine}/dashboards").json()[0]["id"] == dashboard_id

    # Someone adds a chart of the other workspace's table to it in Superset.
    other = link.database_id(theirs)
    assert other is not None
    dataset = link.dataset_id(other, "health_map")
    params = {"datasource": f"{dataset}__table", "viz_type": "table", "query_mode": "raw"}
    link.api.post(
        "/api/v1/chart/",
        {
            "slice_name": "Theirs",
            "viz_type": "table",
            "datasource_id": dataset,
            "datasource_type": "table",
            "params": json.dumps({**params, "all_columns": ["name", "value"]}),
            "dashboards": [dashboard_id],
        },
    )
    link.forget_dashboards()
    for slug in (mine, theirs):
        assert admin.api.get(f"/workspaces/{slug}/dashboards").json() == []
        token = admin.api.post(f"/workspaces/{slug}/dashboards/{dashboard_id}/guest-token")
        assert token.status_code == 404
