"""Joliba's side inside Apache Superset: sign-in through Joliba and the service account.

This file runs in Superset's own virtual environment (it imports Flask and Superset, never
Joliba): ``joliba superset install`` copies it beside the generated ``superset_config.py``,
which calls :func:`init_app` from ``FLASK_APP_MUTATOR``.

Sign-in: Joliba's ``/superset/signin`` sends the browser here with a short-lived token that
it signed with a key both sides derive from Joliba's secret key. The token says who the
person is, whether they are a Joliba superuser, and the Superset databases of their
workspaces; every sign-in sets their Superset roles from it again (Admin for superusers;
otherwise Gamma, sql_lab and one role per workspace database granting ``database_access``
on it), so leaving a workspace takes its data away at the next sign-in. Superset's own
sign-in page sends people to Joliba.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import threading
import time
from typing import Any
from urllib.parse import urlencode

#: The roles Joliba gives to the members of a workspace, one per workspace database.
ROLE_PREFIX = "Joliba: "
#: Set by init_app from superset_config.py.
_config: dict[str, Any] = {}
#: Token nonces already used, with their expiry: a token signs in once (per process).
_used: dict[str, float] = {}
_used_lock = threading.Lock()


class BadToken(ValueError):
    pass


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify(token: str, key: bytes, now: float) -> dict[str, Any]:
    """The claims of a token Joliba signed, or BadToken: a bad signature, an expired token,
    or one already used."""
    body, _, signature = token.partition(".")
    expected = hmac.new(key, body.encode(), hashlib.sha256).digest()
    try:
        given = _b64decode(signature)
        claims = json.loads(_b64decode(body))
    except ValueError:
        raise BadToken("malformed token") from None
    if not hmac.compare_digest(expected, given):
        raise BadToken("bad signature")
    if not isinstance(claims, dict) or float(claims.get("exp", 0)) < now:
        raise BadToken("expired token")
    nonce = str(claims.get("nonce", ""))
    with _used_lock:
        for old, expiry in list(_used.items()):
            if expiry < now:
                del _used[old]
        if not nonce or nonce in _used:
            raise BadToken("token already used")
        _used[nonce] = float(claims["exp"])
    return claims


def _local_path(target: object) -> str:
    """A path on this Superset ("/superset/welcome/"), never another site."""
    text = str(target or "/")
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    return text


def init_app(app: Any) -> None:
    """Called with the Flask app by FLASK_APP_MUTATOR."""
    from flask import redirect, request

    _config.update(
        joliba_url=app.config["JOLIBA_URL"].rstrip("/"),
        key=app.config["JOLIBA_SIGNIN_KEY"].encode(),
    )

    @app.before_request
    def _sign_in_at_joliba() -> Any:
        # Superset's own sign-in page: people sign in at Joliba instead (the API's
        # /api/v1/security/login, which the service account uses, stays as it is).
        if request.method == "GET" and request.path.rstrip("/") == "/login":
            nxt = _local_path(request.args.get("next"))
            query = urlencode({"next": nxt})
            return redirect(f"{_config['joliba_url']}/superset/signin?{query}")
        return None

    app.add_url_rule("/joliba/signin", "joliba_signin", _signin)


def _signin() -> Any:
    from flask import abort, redirect, request
    from flask_login import login_user

    try:
        claims = verify(request.args.get("token", ""), _config["key"], time.time())
    except BadToken as exc:
        abort(403, description=f"Joliba sign-in refused: {exc}")
    user = _user_for(claims)
    if user is None:
        abort(409, description="A Superset account already uses this email address.")
    login_user(user, remember=False)
    return redirect(_local_path(claims.get("next")))


def _user_for(claims: dict[str, Any]) -> Any:
    from flask import current_app

    sm = current_app.appbuilder.sm
    roles = _roles(sm, claims)
    username = str(claims["username"])
    user = sm.find_user(username=username)
    if user is None:
        added = sm.add_user(
            username=username,
            first_name=str(claims.get("first_name") or username),
            last_name=str(claims.get("last_name") or "-"),
            email=str(claims["email"]),
            role=roles,
            # Nobody knows it: these accounts sign in only through Joliba.
            password=secrets.token_urlsafe(32),
        )
        return added or None
    user.first_name = str(claims.get("first_name") or username)
    user.last_name = str(claims.get("last_name") or "-")
    user.email = str(claims["email"])
    user.roles = roles
    user.active = True
    sm.update_user(user)
    return user


def _roles(sm: Any, claims: dict[str, Any]) -> list[Any]:
    if claims.get("admin"):
        return [sm.find_role("Admin")]
    roles = [sm.find_role("Gamma"), sm.find_role("sql_lab")]
    for name in claims.get("databases", []):
        role = _workspace_role(sm, str(name))
        if role is not None:
            roles.append(role)
    return [role for role in roles if role is not None]


def _workspace_role(sm: Any, database_name: str) -> Any:
    """The role that reads one workspace database (made on first use), or None when Joliba
    has not registered that database yet."""
    from superset import db
    from superset.models.core import Database

    database = db.session.query(Database).filter_by(database_name=database_name).one_or_none()
    if database is None:
        return None
    name = ROLE_PREFIX + database_name
    role = sm.find_role(name) or sm.add_role(name)
    access = sm.add_permission_view_menu("database_access", database.perm)
    if access not in role.permissions:
        sm.add_permission_role(role, access)
    return role


def ensure_service_account() -> None:
    """Make (or reset) the Admin account Joliba's server uses Superset's API with; its name
    and password come from the environment, never from the command line."""
    from superset.app import create_app

    username = os.environ["JOLIBA_SUPERSET_SERVICE_USER"]
    password = os.environ["JOLIBA_SUPERSET_SERVICE_PASSWORD"]
    app = create_app()
    with app.app_context():
        sm = app.appbuilder.sm
        admin = sm.find_role("Admin")
        user = sm.find_user(username=username)
        if user is None:
            added = sm.add_user(
                username=username,
                first_name="Joliba",
                last_name="service",
                email=f"{username}@joliba.invalid",
                role=admin,
                password=password,
            )
            if not added:
                raise SystemExit(f"could not create the Superset account {username}")
            return
        user.roles = [admin]
        user.active = True
        sm.update_user(user)
        sm.reset_password(user.id, password)


if __name__ == "__main__":
    if sys.argv[1:] != ["service-account"]:
        raise SystemExit("usage: python joliba_superset.py service-account")
    ensure_service_account()
