"""The signed-in user's own account through the API."""

from __future__ import annotations

from tests.conftest import PASSWORD, World


def test_password_change(world: World) -> None:
    person = world.person()
    r = person.api.post(
        "/me/password", json={"current_password": "not it", "new_password": "a brand new one"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["details"]["field"] == "current_password"
    r = person.api.post(
        "/me/password", json={"current_password": PASSWORD, "new_password": "short"}
    )
    assert r.status_code == 400 and "at least 10" in r.json()["error"]["message"]
    r = person.api.post(
        "/me/password", json={"current_password": PASSWORD, "new_password": "a brand new one"}
    )
    assert r.status_code == 204
    # The token keeps working: only browser sessions end with a password change.
    assert person.api.get("/me").status_code == 200
    r = person.api.post(
        "/me/password", json={"current_password": PASSWORD, "new_password": "another new one"}
    )
    assert r.status_code == 400
