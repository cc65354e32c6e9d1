"""The workspace audit log through the API."""

from __future__ import annotations

from joliba.domain.permissions import Role
from tests.conftest import World


def test_audit_records_file_and_connection_changes(world: World) -> None:
    admin, editor = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, editor, Role.EDITOR)
    editor.api.put(f"/workspaces/{ws}/files/cases.csv", content=b"a\n1\n")
    editor.api.get(f"/workspaces/{ws}/files/cases.csv")
    editor.api.delete(f"/workspaces/{ws}/files/cases.csv")
    editor.api.post(f"/workspaces/{ws}/connections", json={"type": "custom", "name": "K"})
    r = admin.api.get(f"/workspaces/{ws}/audit", params={"action": "file."})
    assert r.status_code == 200
    entries = r.json()["items"]
    assert [e["action"] for e in entries] == ["file.delete", "file.download", "file.upload"]
    assert all(e["actor_email"] == editor.email and e["target"] == "cases.csv" for e in entries)
    assert entries[1]["details"] == {"bytes": 4}
    assert entries[0]["client_ip"] == "127.0.0.1"
    everything = admin.api.get(f"/workspaces/{ws}/audit", params={"page_size": 2}).json()
    assert everything["total"] >= 6 and len(everything["items"]) == 2
    assert editor.api.get(f"/workspaces/{ws}/audit").status_code == 403
