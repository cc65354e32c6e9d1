"""File browser forms, the audit page, and the account page (tokens, password)."""

from __future__ import annotations

from joliba.domain.permissions import Role
from tests.conftest import World
from tests.web.page_client import Pages


def test_folders_moves_and_deletes(world: World, pages: Pages) -> None:
    admin, viewer = world.person(), world.person()
    slug = world.workspace(admin)
    world.add_member(slug, viewer, Role.VIEWER)
    assert admin.api.put(f"/workspaces/{slug}/files/data.csv", content=b"a,b\n1,2\n").is_success
    client = pages.signed_in(admin.email, admin.password)

    made = client.post(f"/w/{slug}/files/folder", {"name": "reports 2024"})
    assert made.status_code == 303
    again = client.post(f"/w/{slug}/files/folder", {"name": "reports 2024"})
    assert again.status_code == 409 and "exists" in again.text
    bad = client.post(f"/w/{slug}/files/folder", {"name": ".."})
    assert bad.status_code == 400 and "segments are not allowed" in bad.text

    moved = client.post(
        f"/w/{slug}/files/move",
        {"source": "data.csv", "destination": "reports 2024/data.csv", "folder": ""},
    )
    assert moved.status_code == 303
    inside = client.get(f"/w/{slug}/files", params={"path": "reports 2024"})
    assert inside.status_code == 200
    assert f"/api/v1/workspaces/{slug}/files/reports%202024/data.csv" in inside.text
    assert ">reports 2024</strong>" in inside.text  # the breadcrumb
    assert client.get(f"/w/{slug}/files", params={"path": "nowhere"}).status_code == 404

    as_viewer = pages.signed_in(viewer.email, viewer.password)
    listing = as_viewer.get(f"/w/{slug}/files", params={"path": "reports 2024"}).text
    assert "data.csv" in listing and "data-upload" not in listing and "Delete" not in listing
    refused = as_viewer.post(f"/w/{slug}/files/delete", {"path": "reports 2024/data.csv"})
    assert refused.status_code == 403

    deleted = client.post(f"/w/{slug}/files/delete", {"path": "reports 2024", "folder": ""})
    assert deleted.status_code == 303
    assert admin.api.get(f"/workspaces/{slug}/files").json()["total"] == 0

    audit = client.get(f"/w/{slug}/audit", params={"action": "file"})
    assert audit.status_code == 200
    assert "file.delete" in audit.text and "member.add" not in audit.text
    assert "reports 2024" in audit.text


def test_token_secret_is_shown_once_and_can_be_revoked(world: World, pages: Pages) -> None:
    person = world.person()
    slug = world.workspace(person)
    client = pages.signed_in(person.email, person.password)

    created = client.post(
        "/account/tokens", {"name": "sync job", "workspace": slug, "expires_in_days": "30"}
    )
    assert created.status_code == 200
    secret = created.text.split("data-token-secret>")[1].split("<")[0].strip()
    assert secret.startswith("jlb_")
    with world.client(secret) as api:
        assert api.get(f"/workspaces/{slug}").status_code == 200
        page = client.get("/account").text
        assert "sync job" in page and secret not in page

        bad = client.post("/account/tokens", {"name": "x", "expires_in_days": "soon"})
        assert bad.status_code == 400 and "whole number" in bad.text
        hidden = client.post("/account/tokens", {"name": "x", "workspace": "not-mine"})
        assert hidden.status_code == 404

        token_id = next(
            t["id"] for t in person.api.get("/me/tokens").json()["items"] if t["name"] == "sync job"
        )
        assert client.post(f"/account/tokens/{token_id}/revoke").status_code == 303
        assert api.get(f"/workspaces/{slug}").status_code == 401


def test_password_change_keeps_this_browser_signed_in(world: World, pages: Pages) -> None:
    person = world.person()
    here = pages.signed_in(person.email, person.password)
    elsewhere = pages.signed_in(person.email, person.password)
    new = "a brand new passphrase"

    wrong = here.post(
        "/account/password",
        {"current_password": "nope", "new_password": new, "new_password_again": new},
    )
    assert wrong.status_code == 400 and "incorrect" in wrong.text
    differ = here.post(
        "/account/password",
        {"current_password": person.password, "new_password": new, "new_password_again": "x"},
    )
    assert differ.status_code == 400 and "differ" in differ.text

    old_cookie = here.http.cookies["joliba_session"]
    changed = here.post(
        "/account/password",
        {"current_password": person.password, "new_password": new, "new_password_again": new},
    )
    assert changed.status_code == 303
    assert here.http.cookies["joliba_session"] != old_cookie
    assert here.get("/account").status_code == 200  # signed in with the new session
    assert elsewhere.get("/account").status_code == 303  # the other session ended
    assert pages.anonymous().sign_in(person.email, new).status_code == 303
