"""User accounts: creation, sign-in with throttling, password change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from joliba.db.tables import User, UserSession, utcnow
from joliba.domain.errors import Conflict, Invalid, NotFound, TooManyRequests
from joliba.domain.paging import PageRequest
from joliba.services import audit
from joliba.services.actors import Actor
from joliba.services.crypto import hash_password, needs_rehash, verify_password
from joliba.services.paging import paginate

MIN_PASSWORD = 10
MAX_PASSWORD = 1024


def normalise_email(email: str, *, field: str = "email") -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Invalid(f"{field}: {exc}", details={"field": field}) from None


def check_password(password: str, *, field: str = "password") -> str:
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"{field}: at least {MIN_PASSWORD} characters", details={"field": field})
    if len(password) > MAX_PASSWORD:
        raise Invalid(f"{field}: at most {MAX_PASSWORD} characters", details={"field": field})
    return password


def get_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    name: str = "",
    superuser: bool = False,
    actor: Actor | None = None,
) -> User:
    email = normalise_email(email)
    check_password(password)
    if get_by_email(session, email):
        raise Conflict(
            f"email: a user with email {email} already exists", details={"field": "email"}
        )
    user = User(
        email=email,
        name=name.strip()[:200],
        password_hash=hash_password(password),
        is_superuser=superuser,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        "user.create",
        actor=actor,
        target=email,
        details={"superuser": superuser},
    )
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Set a new password and end every browser session of the user."""
    check_password(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    session.flush()


def change_password(
    session: Session,
    actor: Actor,
    *,
    current_password: str,
    new_password: str,
    max_failures: int,
    window: timedelta,
) -> bool:
    """Change the actor's password; False when ``current_password`` is wrong.

    A wrong current password counts as a failed sign-in (audited, throttled), so a stolen
    browser session cannot be used to guess the password; the caller commits either way.
    """
    check_password(new_password, field="new_password")
    user = get_user(session, actor.user.id)
    _throttle(
        session,
        user.email,
        actor.client_ip,
        now=utcnow(),
        max_failures=max_failures,
        window=window,
    )
    if not verify_password(user.password_hash, current_password):
        audit.record(
            session,
            "auth.login_failed",
            actor=actor,
            target=user.email,
            details={"during": "password change"},
        )
        return False
    set_password(session, user, new_password)
    audit.record(session, "user.password_change", actor=actor, target=user.email)
    return True


def list_users(session: Session, page: PageRequest) -> tuple[Sequence[User], int]:
    return paginate(session, select(User), page, User.email)


def get_user(session: Session, user_id: object) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    client_ip: str,
    max_failures: int,
    window: timedelta,
) -> User | None:
    """Check a sign-in: the user, or None after auditing the failure (the caller commits
    either way). Too many recent failures raise TooManyRequests before the password is even
    checked. The count lives in the audit log, so throttling holds across server processes.
    """
    email = email.strip().lower()
    now = utcnow()
    _throttle(session, email, client_ip, now=now, max_failures=max_failures, window=window)
    user = get_by_email(session, email)
    ok = verify_password(user.password_hash if user else None, password)
    if not user or not ok or not user.is_active:
        audit.record(session, "auth.login_failed", email=email, target=email, client_ip=client_ip)
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record(session, "auth.login", actor=Actor(user=user, client_ip=client_ip), target=email)
    return user


def _throttle(
    session: Session,
    email: str,
    client_ip: str,
    *,
    now: datetime,
    max_failures: int,
    window: timedelta,
) -> None:
    since = now - window
    last_success = audit.last_at(session, "auth.login", target=email)
    by_email, oldest = audit.count_since(
        session, "auth.login_failed", max(since, last_success or since), target=email
    )
    by_ip, oldest_ip = audit.count_since(session, "auth.login_failed", since, client_ip=client_ip)
    for count, limit, first in (
        (by_email, max_failures, oldest),
        (by_ip, 4 * max_failures, oldest_ip),
    ):
        if count >= limit and first is not None:
            retry = max(1, int((first + window - now).total_seconds()))
            raise TooManyRequests(
                f"too many failed sign-ins; try again in {max(1, retry // 60)} minute(s)",
                retry_after=retry,
            )
