"""``GET /workspaces/{ws}/connections/{slug}/dhis2/{collection}``: what the run form's DHIS2
pickers list, searched on a live emulator."""

from __future__ import annotations

from typing import Any

import httpx

from joliba.domain.permissions import Role
from tests.conftest import World
from tests.dhis2.emulator_support import live_emulator
from tests.fixtures.connections import connect_dhis2

SECRET = "Emulated-S3cret"


def _everything(dhis2: httpx.Client, endpoint: str, fields: str) -> list[dict[str, Any]]:
    answer = dhis2.get(
        f"/api/{endpoint}",
        params={"paging": "false", "fields": fields},
        auth=("admin", SECRET),
    )
    return list(answer.json()[endpoint])


def test_pickers_search_each_collection_of_the_connection(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    base = f"/workspaces/{ws}/connections/hmis/dhis2"
    with live_emulator(scale=0.1, users={"admin": SECRET}) as dhis2:
        connect_dhis2(admin.api, ws, str(dhis2.base_url), password=SECRET)
        elements = {e["name"]: e["id"] for e in _everything(dhis2, "dataElements", "id,name")}

        found = admin.api.get(f"{base}/data_elements", params={"q": "confirmed MALARIA"})
        assert found.status_code == 200, found.text
        items = found.json()["items"]
        names = [i["name"] for i in items]
        assert "Malaria confirmed cases" in names
        assert all({"malaria", "confirmed"} <= set(n.lower().split()) for n in names)
        assert names == sorted(names)
        assert all(set(i) == {"id", "name"} and elements[i["name"]] == i["id"] for i in items)

        # An id finds its item; a limit cuts the list; ids list the picks again.
        uid = elements["Malaria confirmed cases"]
        by_id = admin.api.get(f"{base}/data_elements", params={"q": uid}).json()["items"]
        assert by_id == [{"id": uid, "name": "Malaria confirmed cases"}]
        three = admin.api.get(f"{base}/data_elements", params={"limit": 3}).json()["items"]
        assert len(three) == 3
        picked = sorted(elements.values())[:2]
        again = admin.api.get(f"{base}/data_elements", params={"ids": picked}).json()["items"]
        assert sorted(i["id"] for i in again) == picked

        levels = admin.api.get(f"{base}/org_unit_levels").json()["items"]
        assert [(i["level"], i["name"]) for i in levels] == [
            (1, "National"),
            (2, "Region"),
            (3, "District"),
            (4, "Facility"),
        ]
        region = next(
            u
            for u in _everything(dhis2, "organisationUnits", "id,name,level,path")
            if u["level"] == 2
        )
        units = admin.api.get(f"{base}/org_units", params={"q": region["name"]}).json()["items"]
        assert units[0] == {
            "id": region["id"],
            "name": region["name"],
            "level": 2,
            "path": region["path"],
        }
        assert all(u["path"].endswith("/" + u["id"]) for u in units)

        for collection, endpoint in (
            ("datasets", "dataSets"),
            ("data_element_groups", "dataElementGroups"),
            ("indicators", "indicators"),
        ):
            listed = admin.api.get(f"{base}/{collection}", params={"limit": 100}).json()["items"]
            everything = _everything(dhis2, endpoint, "id,name")
            assert {i["id"] for i in listed} == {e["id"] for e in everything[:100]}, collection

        # Answers are kept a little while: the same search still answers once DHIS2 is gone.
        again_url, again_params = f"{base}/data_elements", {"q": "confirmed MALARIA"}
    assert admin.api.get(again_url, params=again_params).json()["items"] == items
    # An edited connection is asked afresh.
    edited = admin.api.patch(f"/workspaces/{ws}/connections/hmis", json={"description": "x"})
    assert edited.status_code == 200, edited.text
    assert admin.api.get(again_url, params=again_params).status_code == 502
    gone = admin.api.get(again_url, params={"q": "tested"})
    assert gone.status_code == 502
    error = gone.json()["error"]
    assert error["code"] == "bad_gateway"
    assert error["message"] == "DHIS2 connection 'hmis': could not connect: connection refused"
    assert error["details"] == {"connection": "hmis", "status": 0}
    assert SECRET not in gone.text


def test_picker_search_errors_are_clear(world: World) -> None:
    admin, viewer, editor = world.person(), world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, viewer, Role.VIEWER)
    world.add_member(ws, editor, Role.EDITOR)
    base = f"/workspaces/{ws}/connections"
    with live_emulator(scale=0.1) as dhis2:  # admin / district: SECRET is wrong
        connect_dhis2(admin.api, ws, str(dhis2.base_url), password=SECRET)
        refused = admin.api.get(f"{base}/hmis/dhis2/datasets")
        assert refused.status_code == 502
        assert refused.json()["error"]["message"] == (
            "DHIS2 connection 'hmis': authentication failed (the server answered HTTP 401)"
        )
        assert SECRET not in refused.text
        unknown = admin.api.get(f"{base}/hmis/dhis2/programs")
        assert unknown.status_code == 400
        assert unknown.json()["error"]["message"].startswith(
            "collection: unknown DHIS2 collection 'programs' (known: data_elements, datasets"
        )
        assert admin.api.get(f"{base}/nope/dhis2/datasets").status_code == 404
        admin.api.post(
            base, json={"type": "custom", "name": "Other", "slug": "other", "fields": {"a": "1"}}
        )
        other = admin.api.get(f"{base}/other/dhis2/datasets")
        assert other.status_code == 400
        assert other.json()["error"]["message"] == (
            "connection 'other' is a custom connection, not dhis2"
        )
        # Those who may start runs may search; viewers may not.
        assert viewer.api.get(f"{base}/hmis/dhis2/datasets").status_code == 403
        assert editor.api.get(f"{base}/hmis/dhis2/datasets").status_code == 502
