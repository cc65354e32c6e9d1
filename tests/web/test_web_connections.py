"""Connection pages: secrets never rendered, masked values kept, "Test connection" fragment."""

from __future__ import annotations

from joliba.domain.connections import MASK
from joliba.domain.permissions import Role
from tests.conftest import World
from tests.dhis2.emulator_support import live_emulator
from tests.web.page_client import Pages

SECRET = "Pa55word-never-shown"
TOKEN = "d2pat_never_shown_either"


def test_secrets_are_never_rendered(world: World, pages: Pages) -> None:
    admin = world.person()
    slug = world.workspace(admin)
    client = pages.signed_in(admin.email, admin.password)
    created = client.post(
        f"/w/{slug}/connections",
        {
            "type": "dhis2",
            "name": "National HMIS",
            "dhis2.url": "https://dhis2.example.org",
            "dhis2.username": "admin",
            "dhis2.password": SECRET,
            # Fields of the types not chosen are ignored.
            "postgresql.password": "ignored",
        },
    )
    assert created.status_code == 303
    edit = created.headers["location"].split("?")[0]
    assert edit == f"/w/{slug}/connections/national-hmis/edit"
    custom = client.post(
        f"/w/{slug}/connections",
        {
            "type": "custom",
            "name": "Weather API",
            "custom_key": ["endpoint", "api_key"],
            "custom_value": ["https://weather.example.org", TOKEN],
            "custom_secret": ["1"],
        },
    )
    assert custom.status_code == 303

    for path in (
        edit,
        f"/w/{slug}/connections/weather-api/edit",
        f"/w/{slug}/connections",
        f"/w/{slug}/audit",
    ):
        html = client.get(path).text
        assert SECRET not in html and TOKEN not in html, path
    page = client.get(edit).text
    assert f'type="password" name="dhis2.password" value="{MASK}"' in page
    assert 'name="dhis2.token" value=""' in page  # no token stored: no mask either
    assert (
        'value="https://weather.example.org"'
        in client.get(f"/w/{slug}/connections/weather-api/edit").text
    )

    # A failed save shows the form again, still without the secret.
    failed = client.post(
        edit,
        {"name": "National HMIS", "dhis2.url": "not a url", "dhis2.password": "typed-new-one"},
    )
    assert failed.status_code == 400
    assert "must be an http:// or https:// URL" in failed.text
    assert "typed-new-one" not in failed.text and SECRET not in failed.text


def test_saving_with_the_mask_keeps_the_secret(world: World, pages: Pages) -> None:
    admin = world.person()
    slug = world.workspace(admin)
    client = pages.signed_in(admin.email, admin.password)
    with live_emulator(scale=0.1, users={"admin": SECRET}) as dhis2:
        client.post(
            f"/w/{slug}/connections",
            {
                "type": "dhis2",
                "name": "HMIS",
                "dhis2.url": str(dhis2.base_url),
                "dhis2.username": "admin",
                "dhis2.password": SECRET,
            },
        )
        saved = client.post(
            f"/w/{slug}/connections/hmis/edit",
            {
                "name": "HMIS renamed",
                "description": "the national instance",
                "dhis2.url": str(dhis2.base_url),
                "dhis2.username": "admin",
                "dhis2.password": MASK,
                "dhis2.token": "",
            },
        )
        assert saved.status_code == 303
        page = client.get(f"/w/{slug}/connections/hmis/edit").text
        assert "HMIS renamed" in page and SECRET not in page

        # HTMX "Test connection": the stored password still works, and the answer is a
        # fragment that never holds the secret.
        ok = client.post(f"/w/{slug}/connections/hmis/test", headers={"HX-Request": "true"})
        assert ok.status_code == 200
        assert 'class="ok"' in ok.text
        assert "connected to DHIS2 2.39.5 (Joliba DHIS2 emulator)" in ok.text
        assert "<html" not in ok.text

    # A custom connection: rows removed in the form are cleared; masked secrets stay.
    client.post(
        f"/w/{slug}/connections",
        {
            "type": "custom",
            "name": "Keys",
            "custom_key": ["a", "b", "key"],
            "custom_value": ["1", "2", TOKEN],
            "custom_secret": ["2"],
        },
    )
    kept = client.post(
        f"/w/{slug}/connections/keys/edit",
        {
            "name": "Keys",
            "custom_key": ["a", "key"],
            "custom_value": ["one", MASK],
            "custom_secret": ["1"],
        },
    )
    assert kept.status_code == 303
    stored = admin.api.get(f"/workspaces/{slug}/connections/keys").json()
    assert stored["fields"] == {"a": "one", "key": MASK}
    assert stored["secret_fields"] == ["key"]


def test_failed_connection_test_is_red_and_masks_the_secret(world: World, pages: Pages) -> None:
    admin = world.person()
    slug = world.workspace(admin)
    client = pages.signed_in(admin.email, admin.password)
    with live_emulator(scale=0.1, users={"admin": "the right one"}) as dhis2:
        client.post(
            f"/w/{slug}/connections",
            {
                "type": "dhis2",
                "name": "Wrong",
                "dhis2.url": str(dhis2.base_url),
                "dhis2.username": "admin",
                "dhis2.password": SECRET,
            },
        )
        failed = client.post(f"/w/{slug}/connections/wrong/test", headers={"HX-Request": "true"})
    assert failed.status_code == 200
    assert 'class="error"' in failed.text
    assert "authentication failed (the server answered HTTP 401)" in failed.text
    assert SECRET not in failed.text


def test_editors_test_but_only_admins_delete(world: World, pages: Pages) -> None:
    admin, editor, viewer = world.person(), world.person(), world.person()
    slug = world.workspace(admin)
    world.add_member(slug, editor, Role.EDITOR)
    world.add_member(slug, viewer, Role.VIEWER)
    assert (
        admin.api.post(
            f"/workspaces/{slug}/connections",
            json={"type": "custom", "name": "Lookup", "fields": {"a": "1"}},
        ).status_code
        == 201
    )
    as_viewer = pages.signed_in(viewer.email, viewer.password)
    read_only = as_viewer.get(f"/w/{slug}/connections/lookup/edit")
    assert read_only.status_code == 200
    assert "Save" not in read_only.text and "Delete connection" not in read_only.text
    refused = as_viewer.post(f"/w/{slug}/connections/lookup/test", headers={"HX-Request": "true"})
    assert refused.status_code == 403
    assert 'class="error"' in refused.text and "<html" not in refused.text  # a fragment

    as_editor = pages.signed_in(editor.email, editor.password)
    page = as_editor.get(f"/w/{slug}/connections/lookup/edit").text
    assert "Save" in page and "Delete connection" not in page
    assert as_editor.post(f"/w/{slug}/connections/lookup/delete").status_code == 403

    as_admin = pages.signed_in(admin.email, admin.password)
    deleted = as_admin.post(f"/w/{slug}/connections/lookup/delete")
    assert deleted.status_code == 303
    assert admin.api.get(f"/workspaces/{slug}/connections").json()["total"] == 0
