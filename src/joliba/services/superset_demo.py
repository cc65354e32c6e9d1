"""The demo's Superset dashboard, built through Superset's API from the health-map table
that the dhis2-health-map template writes (one row per district, month and data element,
with the district's shape as GeoJSON text).

It holds a map of the latest month (deck.gl GeoJSON: each district filled by its quintile,
no base map, so nothing is fetched from the internet), the monthly totals, the districts'
totals and the year's total. Made once: the workspace's dashboard of that title is reused.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from joliba.domain.errors import Invalid
from joliba.services import workspaces
from joliba.services.superset import SupersetLink

TITLE = "Health map"
#: Light to dark red, one colour per quintile of the month's values.
QUINTILES = ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15")
NO_VALUE = "#d9d9d9"


def features_sql(table: str, *, sqlite: bool) -> str:
    """A query giving each district of the latest month as a GeoJSON Feature whose
    ``fillColor`` is its quintile's colour (for Superset's deck.gl GeoJSON chart)."""
    # Columns are named with their table (latest.value): Superset's SQL parser reads
    # json_object('value', value) as its KEY … VALUE syntax and refuses the query.
    colour = "CASE WHEN latest.value IS NULL THEN '{none}' {bins} END".format(
        none=NO_VALUE,
        bins=" ".join(f"WHEN latest.bucket = {i + 1} THEN '{c}'" for i, c in enumerate(QUINTILES)),
    )
    pairs = f"'name', latest.name, 'value', latest.value, 'fillColor', {colour}"
    if sqlite:
        feature = (
            "json_object('type', 'Feature', 'geometry', json(latest.geojson), 'properties', "
            f"json_object({pairs}))"
        )
    else:
        feature = (
            "json_build_object('type', 'Feature', 'geometry', latest.geojson::json, "
            f"'properties', json_build_object({pairs}))::text"
        )
    quoted = '"' + table.replace('"', '""') + '"'
    return (
        f"SELECT latest.name, latest.period, latest.value, {feature} AS feature FROM ("  # noqa: S608
        f"SELECT name, period, value, geojson, "
        f"CASE WHEN value IS NULL THEN NULL ELSE ntile(5) OVER (ORDER BY value) END AS bucket "
        f"FROM {quoted} WHERE geojson IS NOT NULL AND period = "
        f"(SELECT max(period) FROM {quoted} WHERE value IS NOT NULL)) AS latest"
    )


def _sum(column: str, label: str) -> dict[str, Any]:
    return {
        "expressionType": "SIMPLE",
        "column": {"column_name": column},
        "aggregate": "SUM",
        "label": label,
    }


def build(link: SupersetLink, workspace: str, table: str = "health_map") -> int:
    """Make (or find) the demo dashboard on ``workspace``'s ``table``; its Superset id."""
    api = link.api
    link.forget_dashboards()
    for made in link.dashboards_of(workspace):
        if made.title == TITLE:
            return made.id
    with link.db.transaction(write=False) as session:
        workspace_id = workspaces.by_slug(session, workspace).id
    link.sync()
    database_id = link.database_id(workspace)
    if database_id is None:
        raise Invalid(f"workspace {workspace!r} has no database in Superset yet")
    physical = link.dataset_id(database_id, table)
    if physical is None:
        raise Invalid(f"workspace {workspace!r} has no table {table!r} yet (run its pipeline)")
    target = link.databases.target(workspace_id, writable=False)
    virtual = api.post(
        "/api/v1/dataset/",
        {
            "database": database_id,
            "schema": "main" if target.is_sqlite else "public",
            "table_name": f"{table}_latest_map",
            "sql": features_sql(table, sqlite=target.is_sqlite),
        },
    )["id"]
    dashboard = api.post("/api/v1/dashboard/", {"dashboard_title": TITLE, "published": True})
    dashboard_id = int(dashboard["id"])
    value = _sum("value", "Cases")
    charts = [
        (
            "District map, latest month",
            virtual,
            {
                "viz_type": "deck_geojson",
                "geojson": "feature",
                "row_limit": 10_000,
                "filled": True,
                "stroked": True,
                "extruded": False,
                "line_width": 1,
                "line_width_unit": "pixels",
                # Transparent: each district keeps its own fillColor (a colour here with any
                # opacity would paint over every district's).
                "fill_color_picker": {"r": 0, "g": 0, "b": 0, "a": 0},
                "stroke_color_picker": {"r": 80, "g": 80, "b": 80, "a": 1},
                "autozoom": True,
                "mapbox_style": "",
            },
            8,
            60,
        ),
        (
            "Total",
            physical,
            {"viz_type": "big_number_total", "metric": value, "header_font_size": 0.4},
            4,
            60,
        ),
        (
            "Cases by month",
            physical,
            {
                "viz_type": "echarts_timeseries_bar",
                "x_axis": "period",
                "metrics": [value],
                "groupby": [],
                "row_limit": 1000,
                "x_axis_sort_asc": True,
                "x_axis_sort": "period",
            },
            6,
            50,
        ),
        (
            "Cases by district",
            physical,
            {
                "viz_type": "table",
                "query_mode": "aggregate",
                "groupby": ["name"],
                "metrics": [value],
                "order_desc": True,
                "timeseries_limit_metric": value,
                "row_limit": 200,
            },
            6,
            50,
        ),
    ]
    placed: list[tuple[int, str, int, int]] = []
    for name, dataset, params, width, height in charts:
        body = {
            "slice_name": name,
            "viz_type": params["viz_type"],
            "datasource_id": dataset,
            "datasource_type": "table",
            "params": json.dumps({"datasource": f"{dataset}__table", **params}),
            "dashboards": [dashboard_id],
        }
        chart_id = int(api.post("/api/v1/chart/", body)["id"])
        placed.append((chart_id, name, width, height))
    api.put(
        f"/api/v1/dashboard/{dashboard_id}",
        {"position_json": json.dumps(_layout(placed))},
    )
    link.forget_dashboards()
    return dashboard_id


def _layout(charts: list[tuple[int, str, int, int]]) -> dict[str, Any]:
    """Superset's dashboard layout: the charts in rows of at most 12 columns."""
    layout: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": TITLE}},
    }
    row: dict[str, Any] | None = None
    used = 12
    for chart_id, name, width, height in charts:
        if row is None or used + width > 12:
            row_id = f"ROW-{uuid.uuid4().hex[:8]}"
            row = {
                "type": "ROW",
                "id": row_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID"],
                "meta": {"background": "BACKGROUND_TRANSPARENT"},
            }
            layout[row_id] = row
            layout["GRID_ID"]["children"].append(row_id)
            used = 0
        key = f"CHART-{chart_id}"
        layout[key] = {
            "type": "CHART",
            "id": key,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID", row["id"]],
            "meta": {"chartId": chart_id, "width": width, "height": height, "sliceName": name},
        }
        row["children"].append(key)
        used += width
    return layout
