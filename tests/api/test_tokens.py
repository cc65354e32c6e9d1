"""Personal API tokens: shown once, hashed at rest, expiring, revocable, scoped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from joliba.db.tables import ApiToken, AuditEntry, utcnow
from joliba.services import users
from joliba.services.crypto import token_hash
from tests.conftest import World


def test_token_lifecycle(world: World) -> None:
    person = world.person()
    r = person.api.post("/me/tokens", json={"name": "laptop", "expires_in_days": 30})
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["token"]
    assert secret.startswith("jlb_") and created["prefix"] == secret[:8]
    listed = person.api.get("/me/tokens").json()["items"]
    entry = next(t for t in listed if t["id"] == created["id"])
    assert "token" not in entry  # never shown again
    assert secret not in person.api.get("/me/tokens").text
    with world.platform.db.session() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.prefix == created["prefix"]))
        assert row is not None and row.token_hash == token_hash(secret)
        assert row.expires_at is not None
        assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
    laptop = world.client(secret)
    assert laptop.get("/me").json()["email"] == person.email
    assert person.api.delete(f"/me/tokens/{created['id']}").status_code == 204
    assert laptop.get("/me").status_code == 401
    assert person.api.delete(f"/me/tokens/{created['id']}").status_code == 404
    audit = [e["action"] for e in _audit_of_user(world, person.email)]
    assert "token.create" in audit and "token.revoke" in audit


def _audit_of_user(world: World, email: str) -> list[dict[str, Any]]:
    from joliba.db.tables import AuditEntry

    with world.platform.db.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.actor_email == email)).all()
        return [{"action": r.action, "details": r.details} for r in rows]


def test_expired_token_is_refused(world: World) -> None:
    person = world.person()
    secret = person.api.post("/me/tokens", json={"name": "old", "expires_in_days": 1}).json()[
        "token"
    ]
    client = world.client(secret)
    assert client.get("/me").status_code == 200
    with world.platform.db.transaction() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == token_hash(secret))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    r = client.get("/me")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_cannot_revoke_someone_elses_token(world: World) -> None:
    alice, bob = world.person(), world.person()
    token_id = alice.api.post("/me/tokens", json={"name": "a"}).json()["id"]
    assert bob.api.delete(f"/me/tokens/{token_id}").status_code == 404
    assert any(t["id"] == token_id for t in alice.api.get("/me/tokens").json()["items"])


def test_restricted_tokens_cannot_mint_or_escape(world: World) -> None:
    person = world.person()
    ws = world.workspace(person)
    other = world.workspace(person)
    r = person.api.post("/me/tokens", json={"name": "ws only", "workspace": ws})
    assert r.status_code == 201 and r.json()["workspace"] == ws
    scoped = world.client(r.json()["token"])
    assert scoped.get(f"/workspaces/{ws}/files").status_code == 200
    assert scoped.get(f"/workspaces/{other}/files").status_code == 404
    assert scoped.post("/me/tokens", json={"name": "escape"}).status_code == 403
    # A token cannot be scoped to a workspace its owner cannot see.
    stranger = world.person()
    r = stranger.api.post("/me/tokens", json={"name": "x", "workspace": ws})
    assert r.status_code == 404


def _reset_or_deactivate(world: World, email: str, how: str) -> users.Revoked:
    with world.platform.db.transaction() as session:
        user = users.get_by_email(session, email)
        assert user is not None
        if how == "reset":
            return users.reset_password(session, user, "a brand new password")
        return users.deactivate(session, user)


def test_password_reset_and_deactivation_revoke_every_token(world: World) -> None:
    for how in ("reset", "deactivate"):
        person = world.person()
        ws = world.workspace(person)
        scoped = world.client(world.token_for(person, ws))
        assert person.api.post(f"/workspaces/{ws}/datasets", json={"name": "d"}).status_code == 201
        made = person.api.post(f"/workspaces/{ws}/datasets/d/tokens", json={"name": "bi"})
        assert made.status_code == 201, made.text
        reader = world.client(made.json()["token"])
        assert reader.get(f"/workspaces/{ws}/datasets/d").status_code == 200
        bystander = world.person()  # someone else's token is left alone
        assert scoped.get("/me").status_code == 200

        revoked = _reset_or_deactivate(world, person.email, how)

        assert (revoked.tokens, revoked.dataset_tokens) == (2, 1), how
        for client in (person.api, scoped):
            r = client.get("/me")
            assert r.status_code == 401, (how, r.text)
        assert reader.get(f"/workspaces/{ws}/datasets/d").status_code == 401
        assert bystander.api.get("/me").status_code == 200
        with world.platform.db.session() as session:
            rows = session.scalars(
                select(AuditEntry).where(AuditEntry.target == person.email)
            ).all()
            action = "user.password_reset" if how == "reset" else "user.deactivate"
            entry = next(r for r in rows if r.action == action)
            assert entry.details == {"tokens_revoked": 2, "dataset_tokens_revoked": 1}
            revokes = session.scalars(
                select(AuditEntry).where(AuditEntry.action == "token.revoke")
            ).all()
            mine = [r for r in revokes if (r.details or {}).get("user") == person.email]
            assert len(mine) == 2 and {r.details["reason"] for r in mine} == {
                "password reset" if how == "reset" else "deactivation"
            }


def test_changing_your_own_password_keeps_your_tokens(world: World) -> None:
    person = world.person()
    r = person.api.post(
        "/me/password",
        json={"current_password": person.password, "new_password": "another long one"},
    )
    assert r.status_code == 204, r.text
    assert person.api.get("/me").status_code == 200
