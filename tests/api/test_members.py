"""Members and invitations through the API, and the audit trail they leave."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from joliba.db.tables import Invitation, utcnow
from tests.conftest import World, unique


def test_invite_accept_change_role_remove(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    invitee = world.person()
    r = admin.api.post(
        f"/workspaces/{ws}/invitations", json={"email": invitee.email.upper(), "role": "editor"}
    )
    assert r.status_code == 201, r.text
    link = r.json()["url"]
    secret = link.rsplit("/", 1)[1]
    assert link.startswith(world.platform.settings.base_url)
    assert invitee.api.get(f"/workspaces/{ws}").status_code == 404
    # Someone else cannot use the link.
    r = world.person().api.post("/invitations/accept", json={"token": secret})
    assert r.status_code == 403
    r = invitee.api.post("/invitations/accept", json={"token": secret})
    assert r.status_code == 200 and r.json()["role"] == "editor"
    assert invitee.api.get(f"/workspaces/{ws}").json()["role"] == "editor"
    # Single use.
    assert invitee.api.post("/invitations/accept", json={"token": secret}).status_code == 409
    members = admin.api.get(f"/workspaces/{ws}/members").json()
    assert members["total"] == 2
    assert {m["email"]: m["role"] for m in members["items"]}[invitee.email] == "editor"
    r = admin.api.patch(f"/workspaces/{ws}/members/{invitee.user_id}", json={"role": "viewer"})
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    assert invitee.api.put(f"/workspaces/{ws}/files/x.txt", content=b"x").status_code == 403
    assert admin.api.delete(f"/workspaces/{ws}/members/{invitee.user_id}").status_code == 204
    assert invitee.api.get(f"/workspaces/{ws}").status_code == 404
    actions = [e["action"] for e in admin.api.get(f"/workspaces/{ws}/audit").json()["items"]]
    for expected in ("member.invite", "member.add", "member.role_change", "member.remove"):
        assert expected in actions


def test_last_admin_stays(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    r = admin.api.patch(f"/workspaces/{ws}/members/{admin.user_id}", json={"role": "viewer"})
    assert r.status_code == 409
    assert admin.api.delete(f"/workspaces/{ws}/members/{admin.user_id}").status_code == 409
    assert admin.api.get(f"/workspaces/{ws}").json()["role"] == "admin"


def test_expired_and_revoked_invitations(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    late, revoked = world.person(), world.person()
    first = admin.api.post(f"/workspaces/{ws}/invitations", json={"email": late.email}).json()
    second = admin.api.post(f"/workspaces/{ws}/invitations", json={"email": revoked.email}).json()
    pending = admin.api.get(f"/workspaces/{ws}/invitations").json()
    assert pending["total"] == 2 and all("url" not in i for i in pending["items"])
    with world.platform.db.transaction() as session:
        session.execute(
            update(Invitation)
            .where(Invitation.email == late.email)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    r = late.api.post("/invitations/accept", json={"token": first["url"].rsplit("/", 1)[1]})
    assert r.status_code == 409 and "expired" in r.json()["error"]["message"]
    assert admin.api.delete(f"/workspaces/{ws}/invitations/{second['id']}").status_code == 204
    r = revoked.api.post("/invitations/accept", json={"token": second["url"].rsplit("/", 1)[1]})
    assert r.status_code == 404
    r = admin.api.post(f"/workspaces/{ws}/invitations", json={"email": admin.email})
    assert r.status_code == 409  # already a member
    r = admin.api.post(f"/workspaces/{ws}/invitations", json={"email": "not-an-email"})
    assert r.status_code == 400 and "email" in r.json()["error"]["message"]


def test_archived_workspace_is_read_only(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    admin.api.put(f"/workspaces/{ws}/files/kept.txt", content=b"kept")
    r = admin.api.patch(f"/workspaces/{ws}", json={"archived": True})
    assert r.status_code == 200 and r.json()["archived"] is True
    assert admin.api.get(f"/workspaces/{ws}/files/kept.txt").content == b"kept"
    r = admin.api.put(f"/workspaces/{ws}/files/new.txt", content=b"x")
    assert r.status_code == 409 and "archived" in r.json()["error"]["message"]
    r = admin.api.post(f"/workspaces/{ws}/connections", json={"type": "custom", "name": "c"})
    assert r.status_code == 409
    assert admin.api.patch(f"/workspaces/{ws}", json={"archived": False}).status_code == 200
    assert admin.api.put(f"/workspaces/{ws}/files/new.txt", content=b"x").status_code == 201


def test_superuser_creates_workspaces(world: World) -> None:
    su = world.person(superuser=True)
    slug = unique("made-")
    r = su.api.post(
        "/workspaces",
        json={"name": "Paludisme Niger", "slug": slug, "time_zone": "Africa/Niamey"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "admin" and r.json()["time_zone"] == "Africa/Niamey"
    assert su.api.post("/workspaces", json={"name": "x", "slug": slug}).status_code == 409
    r = su.api.post("/workspaces", json={"name": "Santé publique — Côte d'Ivoire"})
    assert r.status_code == 201 and r.json()["slug"] == "sante-publique-cote-d-ivoire"
    found = su.api.get("/workspaces", params={"search": "paludisme"}).json()["items"]
    assert [w["slug"] for w in found] == [slug]
