"""Browser sessions: the cookie carries a random id; the table keeps its hash and CSRF token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from joliba.db.tables import User, UserSession, utcnow
from joliba.services.crypto import new_token, token_hash


@dataclass(frozen=True)
class NewSession:
    cookie_value: str
    csrf_token: str


def start(session: Session, user: User, *, lifetime: timedelta) -> NewSession:
    cookie = new_token("")
    csrf = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=token_hash(cookie),
            user_id=user.id,
            csrf_token=csrf,
            expires_at=utcnow() + lifetime,
        )
    )
    session.flush()
    return NewSession(cookie_value=cookie, csrf_token=csrf)


def resolve(session: Session, cookie_value: str) -> UserSession | None:
    row = session.scalar(
        select(UserSession).where(UserSession.token_hash == token_hash(cookie_value))
    )
    if row is None or row.expires_at <= utcnow() or not row.user.is_active:
        return None
    return row


def end(session: Session, cookie_value: str) -> None:
    session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(cookie_value)))
    session.flush()
