"""Who may do what on the pages: CSRF, sign-in throttling, roles, outsiders, archived."""

from __future__ import annotations

from joliba.domain.permissions import Role
from tests.conftest import Person, World
from tests.web.page_client import Pages, csrf_of


def workspace_name(person: Person, slug: str) -> str:
    return str(person.api.get(f"/workspaces/{slug}").json()["name"])


def test_form_post_without_csrf_token_is_refused_and_changes_nothing(
    world: World, pages: Pages
) -> None:
    admin = world.person()
    slug = world.workspace(admin)
    client = pages.signed_in(admin.email, admin.password)
    before = workspace_name(admin, slug)

    form = {"name": "Renamed", "description": "", "time_zone": "UTC"}
    refused = client.http.post(f"/w/{slug}/settings", data=form)
    assert refused.status_code == 403
    assert "text/html" in refused.headers["content-type"]
    wrong = client.http.post(f"/w/{slug}/settings", data={**form, "csrf_token": "forged"})
    assert wrong.status_code == 403
    assert workspace_name(admin, slug) == before

    # The same form with the token goes through, so the refusals were about the token.
    assert client.post(f"/w/{slug}/settings", form).status_code == 303
    assert workspace_name(admin, slug) == "Renamed"


def test_anonymous_form_needs_the_csrf_cookie_token(world: World, pages: Pages) -> None:
    person = world.person()
    client = pages.anonymous()
    client.get("/login")
    response = client.http.post("/login", data={"email": person.email, "password": person.password})
    assert response.status_code == 403
    assert "joliba_session" not in client.http.cookies


def test_wrong_password_rerenders_then_throttles(world: World, pages: Pages) -> None:
    person = world.person()  # a fresh email: the failure count is per address
    client = pages.anonymous()
    client.csrf = csrf_of(client.get("/login").text)
    limit = world.platform.settings.login_max_failures
    for _ in range(limit):
        response = client.post("/login", {"email": person.email, "password": "wrong password"})
        assert response.status_code == 401
        assert "Incorrect email or password." in response.text
        assert person.email in response.text  # the form keeps what was typed
    throttled = client.post("/login", {"email": person.email, "password": person.password})
    assert throttled.status_code == 429
    assert "too many failed sign-ins" in throttled.text
    assert "joliba_session" not in client.http.cookies


def test_viewer_cannot_manage_members_or_create_connections(world: World, pages: Pages) -> None:
    admin, viewer = world.person(), world.person()
    slug = world.workspace(admin)
    world.add_member(slug, viewer, Role.VIEWER)
    admin_id = str(admin.user_id)
    client = pages.signed_in(viewer.email, viewer.password)

    listing = client.get(f"/w/{slug}/members")
    assert listing.status_code == 200
    assert admin.email in listing.text
    assert "Invite someone" not in listing.text
    assert f"/members/{admin_id}/remove" not in listing.text
    assert f"/w/{slug}/audit" not in listing.text  # no audit tab for viewers

    refused = [
        client.post(f"/w/{slug}/invitations", {"email": "x@example.org", "role": "viewer"}),
        client.post(f"/w/{slug}/members/{admin_id}/role", {"role": "viewer"}),
        client.post(f"/w/{slug}/members/{admin_id}/remove"),
        client.get(f"/w/{slug}/audit"),
        client.get(f"/w/{slug}/connections/new"),
        client.post(
            f"/w/{slug}/connections",
            {"type": "custom", "name": "Sneaky", "custom_key": "a", "custom_value": "b"},
        ),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    members = admin.api.get(f"/workspaces/{slug}/members").json()["items"]
    assert {m["email"]: m["role"] for m in members}[admin.email] == "admin"
    assert admin.api.get(f"/workspaces/{slug}/connections").json()["total"] == 0
    assert "New connection" not in client.get(f"/w/{slug}/connections").text


def test_outsider_gets_404_on_every_workspace_page(world: World, pages: Pages) -> None:
    admin, outsider = world.person(), world.person()
    slug = world.workspace(admin)
    created = admin.api.post(
        f"/workspaces/{slug}/connections",
        json={"type": "custom", "name": "Lookup", "fields": {"a": "1"}},
    )
    assert created.status_code == 201
    conn = created.json()["slug"]
    client = pages.signed_in(outsider.email, outsider.password)
    gets = [
        f"/w/{slug}",
        f"/w/{slug}/files",
        f"/w/{slug}/members",
        f"/w/{slug}/connections",
        f"/w/{slug}/connections/new",
        f"/w/{slug}/connections/{conn}/edit",
        f"/w/{slug}/audit",
    ]
    posts: list[tuple[str, dict[str, str]]] = [
        (f"/w/{slug}/settings", {"name": "Mine", "time_zone": "UTC"}),
        (f"/w/{slug}/archive", {"archived": "true"}),
        (f"/w/{slug}/files/folder", {"name": "x"}),
        (f"/w/{slug}/files/move", {"source": "a", "destination": "b"}),
        (f"/w/{slug}/files/delete", {"path": "a"}),
        (f"/w/{slug}/invitations", {"email": "x@example.org", "role": "admin"}),
        (f"/w/{slug}/members/{admin.user_id}/role", {"role": "viewer"}),
        (f"/w/{slug}/members/{admin.user_id}/remove", {}),
        (f"/w/{slug}/connections", {"type": "custom", "name": "x"}),
        (f"/w/{slug}/connections/{conn}/edit", {"name": "x"}),
        (f"/w/{slug}/connections/{conn}/delete", {}),
        (f"/w/{slug}/connections/{conn}/test", {}),
    ]
    for path in gets:
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text
    for path, data in posts:
        assert client.post(path, data).status_code == 404, path
    # Exactly what a workspace that does not exist answers: no existence leak.
    assert client.get("/w/no-such-workspace/files").status_code == 404
    assert slug not in client.get("/workspaces").text
    assert admin.api.get(f"/workspaces/{slug}/connections").json()["total"] == 1


def test_signed_out_visitors_are_sent_to_sign_in(world: World, pages: Pages) -> None:
    admin = world.person()
    slug = world.workspace(admin)
    client = pages.anonymous()
    for path in ("/workspaces", f"/w/{slug}/files", "/account"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=")


def test_archived_workspace_pages_refuse_changes(world: World, pages: Pages) -> None:
    admin = world.person()
    slug = world.workspace(admin)
    client = pages.signed_in(admin.email, admin.password)
    archived = client.post(f"/w/{slug}/archive", {"archived": "true"})
    assert archived.status_code == 303

    home = client.get(f"/w/{slug}")
    assert "archived" in home.text and "Unarchive workspace" in home.text
    files = client.get(f"/w/{slug}/files")
    assert files.status_code == 200
    assert "data-upload" not in files.text and "New folder" not in files.text
    assert "New connection" not in client.get(f"/w/{slug}/connections").text

    refused = [
        client.post(f"/w/{slug}/files/folder", {"name": "reports"}),
        client.post(f"/w/{slug}/invitations", {"email": "x@example.org", "role": "viewer"}),
        client.post(
            f"/w/{slug}/connections",
            {"type": "custom", "name": "Late", "custom_key": "a", "custom_value": "b"},
        ),
    ]
    for response in refused:
        assert response.status_code == 409
        assert "archived" in response.text
    upload = client.http.put(
        f"/api/v1/workspaces/{slug}/files/late.txt",
        content=b"late",
        headers={"X-CSRF-Token": client.csrf},
    )
    assert upload.status_code == 409
    assert admin.api.get(f"/workspaces/{slug}/files").json()["total"] == 0

    assert client.post(f"/w/{slug}/archive", {"archived": "false"}).status_code == 303
    assert client.post(f"/w/{slug}/files/folder", {"name": "reports"}).status_code == 303
