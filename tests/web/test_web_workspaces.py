"""Workspace list, creation, home page and settings; members and invitation links."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from joliba.domain.permissions import Action, Role
from joliba.services import invitations, users, workspaces
from joliba.services.actors import Actor
from tests.conftest import World
from tests.web.page_client import Pages, csrf_of


def invitation_path(html: str) -> str:
    found = re.search(r'class="secret-once"[^>]*>([^<]+)<', html)
    assert found, "no invitation link on the page"
    return urlsplit(found.group(1).strip()).path


def test_superuser_creates_a_workspace_and_others_cannot(world: World, pages: Pages) -> None:
    boss, someone = world.person(superuser=True), world.person()
    client = pages.signed_in(boss.email, boss.password)
    assert "New workspace" in client.get("/workspaces").text
    slug = f"ws-{boss.user_id.hex[:8]}"
    form = {
        "name": "Malaria Mali",
        "slug": slug,
        "description": "PNLP",
        "time_zone": "Africa/Bamako",
    }

    created = client.post("/workspaces", form)
    assert created.status_code == 303
    assert created.headers["location"].startswith(f"/w/{slug}?flash=")
    home = client.get(created.headers["location"])
    assert "Malaria Mali" in home.text and "Africa/Bamako" in home.text
    assert 'role="status"' in home.text  # the flash message

    duplicate = client.post("/workspaces", form)
    assert duplicate.status_code == 409
    assert "already exists" in duplicate.text
    assert 'value="Malaria Mali"' in duplicate.text  # the form keeps what was typed
    bad_zone = client.post("/workspaces", {**form, "slug": "", "time_zone": "Mars/Olympus"})
    assert bad_zone.status_code == 400
    assert "unknown time zone" in bad_zone.text

    other = pages.signed_in(someone.email, someone.password)
    assert "New workspace" not in other.get("/workspaces").text
    refused = other.post("/workspaces", {**form, "slug": f"{slug}-x"})
    assert refused.status_code == 403


def test_home_page_and_settings(world: World, pages: Pages) -> None:
    admin, editor = world.person(), world.person()
    slug = world.workspace(admin)
    world.add_member(slug, editor, Role.EDITOR)
    put = admin.api.put(f"/workspaces/{slug}/files/notes.txt", content=b"hello")
    assert put.status_code == 201
    client = pages.signed_in(admin.email, admin.password)

    home = client.get(f"/w/{slug}")
    assert "notes.txt" in home.text and "Save settings" in home.text
    assert f'href="/w/{slug}/audit"' in home.text
    saved = client.post(
        f"/w/{slug}/settings",
        {"name": "Renamed", "description": "About it", "time_zone": "Africa/Dakar"},
    )
    assert saved.status_code == 303
    assert "Africa/Dakar" in client.get(f"/w/{slug}").text
    invalid = client.post(f"/w/{slug}/settings", {"name": " ", "time_zone": "UTC"})
    assert invalid.status_code == 400
    assert "name: 1 to 200 characters" in invalid.text

    as_editor = pages.signed_in(editor.email, editor.password)
    page = as_editor.get(f"/w/{slug}")
    assert "editor" in page.text and "Save settings" not in page.text
    assert f'href="/w/{slug}/audit"' not in page.text
    assert as_editor.post(f"/w/{slug}/settings", {"name": "Mine"}).status_code == 403


def test_invitation_link_is_shown_once_and_accepted_by_a_new_user(
    world: World, pages: Pages
) -> None:
    admin = world.person()
    slug = world.workspace(admin)
    client = pages.signed_in(admin.email, admin.password)
    email = f"new-{admin.user_id.hex[:8]}@example.org"

    invited = client.post(f"/w/{slug}/invitations", {"email": email, "role": "editor"})
    assert invited.status_code == 200
    path = invitation_path(invited.text)
    secret = path.rsplit("/", 1)[1]
    members_page = client.get(f"/w/{slug}/members").text
    assert email in members_page  # listed as pending
    assert secret not in members_page  # but the link is never shown again

    newcomer = pages.anonymous()
    page = newcomer.get(path)
    assert page.status_code == 200 and "Create account and join" in page.text
    newcomer.csrf = csrf_of(page.text)
    short = newcomer.post(
        f"{path}/register", {"name": "Awa", "password": "short", "password_again": "short"}
    )
    assert short.status_code == 400 and "at least 10 characters" in short.text
    joined = newcomer.post(
        f"{path}/register",
        {"name": "Awa", "password": "a long enough one", "password_again": "a long enough one"},
    )
    assert joined.status_code == 303
    assert joined.headers["location"].startswith(f"/w/{slug}")
    assert "joliba_session" in newcomer.http.cookies
    assert "editor" in newcomer.get(f"/w/{slug}").text

    used = pages.anonymous().get(path)
    assert used.status_code == 409 and "already been used" in used.text
    assert pages.anonymous().get("/invitations/inv_nonsense").status_code == 404


def test_invitation_for_an_existing_account(world: World, pages: Pages) -> None:
    admin, known, stranger = world.person(), world.person(), world.person()
    slug = world.workspace(admin)
    client = pages.signed_in(admin.email, admin.password)
    path = invitation_path(
        client.post(f"/w/{slug}/invitations", {"email": known.email, "role": "viewer"}).text
    )

    anonymous = pages.anonymous().get(path)
    assert "Sign in to accept" in anonymous.text
    assert "/login?next=/invitations/" in anonymous.text

    wrong = pages.signed_in(stranger.email, stranger.password)
    assert "Sign out, then sign in as" in wrong.get(path).text
    refused = wrong.post(f"{path}/accept")
    assert refused.status_code == 403
    switched = wrong.post("/logout", {"next": path})
    assert switched.status_code == 303
    assert switched.headers["location"] == f"/login?next={path}"

    right = pages.signed_in(known.email, known.password)
    assert "Accept and open the workspace" in right.get(path).text
    accepted = right.post(f"{path}/accept")
    assert accepted.status_code == 303
    assert accepted.headers["location"].startswith(f"/w/{slug}")


def test_admin_changes_roles_removes_members_and_revokes_invitations(
    world: World, pages: Pages
) -> None:
    admin, member = world.person(), world.person()
    slug = world.workspace(admin)
    world.add_member(slug, member, Role.VIEWER)
    client = pages.signed_in(admin.email, admin.password)

    assert (
        client.post(f"/w/{slug}/members/{member.user_id}/role", {"role": "editor"}).status_code
        == 303
    )
    roles = {
        m["email"]: m["role"] for m in admin.api.get(f"/workspaces/{slug}/members").json()["items"]
    }
    assert roles[member.email] == "editor"
    last_admin = client.post(f"/w/{slug}/members/{admin.user_id}/role", {"role": "viewer"})
    assert last_admin.status_code == 409
    assert client.post(f"/w/{slug}/members/{member.user_id}/remove").status_code == 303
    assert member.email not in client.get(f"/w/{slug}/members").text

    client.post(f"/w/{slug}/invitations", {"email": "later@example.org", "role": "viewer"})
    pending = admin.api.get(f"/workspaces/{slug}/invitations").json()["items"]
    assert [i["email"] for i in pending] == ["later@example.org"]
    revoked = client.post(f"/w/{slug}/invitations/{pending[0]['id']}/revoke")
    assert revoked.status_code == 303
    assert admin.api.get(f"/workspaces/{slug}/invitations").json()["total"] == 0


def test_expired_and_revoked_links_say_so(world: World, pages: Pages) -> None:
    admin = world.person()
    slug = world.workspace(admin)
    with world.platform.db.transaction() as session:
        user = users.get_by_email(session, admin.email)
        assert user is not None
        access = workspaces.authorize(session, Actor(user=user), slug, Action.MEMBER_MANAGE)
        expired = invitations.create(
            session, access, email="late@example.org", role=Role.VIEWER, lifetime=timedelta(0)
        ).secret
    page = pages.anonymous().get(f"/invitations/{expired}")
    assert page.status_code == 409 and "has expired" in page.text
    assert "Create account" not in page.text

    client = pages.signed_in(admin.email, admin.password)
    path = invitation_path(
        client.post(f"/w/{slug}/invitations", {"email": "gone@example.org"}).text
    )
    pending = admin.api.get(f"/workspaces/{slug}/invitations").json()["items"]
    client.post(f"/w/{slug}/invitations/{pending[0]['id']}/revoke")
    revoked = pages.anonymous().get(path)
    assert revoked.status_code == 404 and "not valid" in revoked.text
