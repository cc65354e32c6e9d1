"""A dataset table as a map layer through the API: its own shapes, or a boundaries
dataset's matched on an org unit id; both reads are in the access logs."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from joliba.db.tables import DatasetAccess
from tests.api.test_table_loads import _publish
from tests.conftest import World

SQUARE = "POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))"


def test_a_map_of_a_table_with_shapes_and_of_one_matched_to_boundaries(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    for name in ("Cases", "Org units"):
        assert admin.api.post(f"/workspaces/{ws}/datasets", json={"name": name}).status_code == 201
    _publish(
        admin, ws, "org-units", {"units.csv": f'id,name,geometry\nd1,Dosso,"{SQUARE}"\n'.encode()}
    )
    _publish(
        admin, ws, "cases", {"cases.csv": b"org_unit,period,value\nd1,202401,5\nd1,202402,7\n"}
    )
    base = f"/workspaces/{ws}/datasets"
    own = admin.api.get(f"{base}/org-units/versions/latest/files/units.csv/map")
    assert own.status_code == 200, own.text
    assert own.json()["features"][0]["properties"] == {"label": "Dosso", "values": {"": 1}}
    plain = admin.api.get(f"{base}/cases/versions/latest/files/cases.csv/map")
    assert plain.status_code == 400 and "no column of shapes" in plain.text
    joined = admin.api.get(
        f"{base}/cases/versions/latest/files/cases.csv/map",
        params={
            "boundaries": "org-units",
            "boundaries_file": "units.csv",
            "key": "org_unit",
            "boundaries_key": "id",
        },
    )
    assert joined.status_code == 200, joined.text
    body = joined.json()
    assert body["periods"] == ["202401", "202402"]
    assert body["features"][0]["geometry"]["type"] == "Polygon"
    assert body["features"][0]["properties"]["values"] == {"202401": 5, "202402": 7}
    workspace_id = uuid.UUID(admin.api.get(f"/workspaces/{ws}").json()["id"])
    with world.platform.db.session() as session:
        maps = session.scalars(
            select(DatasetAccess.file_name).where(
                DatasetAccess.action == "map", DatasetAccess.reader_workspace_id == workspace_id
            )
        ).all()
    # The failed map (no shapes) is not recorded; the joined one is, for both tables.
    assert sorted(maps) == ["cases.csv", "units.csv", "units.csv"]
