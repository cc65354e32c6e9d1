"""User accounts: creation, sign-in with throttling, password change and reset, deactivation."""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from joliba.db.tables import User, UserSession, utcnow
from joliba.domain import backoff
from joliba.domain.emails import normalise_email as normalise_email  # the one email check
from joliba.domain.errors import Conflict, Invalid, NotFound, TooManyRequests
from joliba.domain.paging import PageRequest
from joliba.services import audit, dataset_tokens, tokens
from joliba.services.actors import Actor
from joliba.services.crypto import hash_password, needs_rehash, verify_password
from joliba.services.paging import paginate

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
#: Failed sign-ins older than this no longer slow anyone down.
FAILURES_KEPT = timedelta(days=1)


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


@dataclass(frozen=True)
class Revoked:
    """What a reset or a deactivation revoked."""

    tokens: int
    dataset_tokens: int

    def details(self) -> dict[str, int]:
        return {"tokens_revoked": self.tokens, "dataset_tokens_revoked": self.dataset_tokens}


def reset_password(
    session: Session, user: User, password: str, *, actor: Actor | None = None
) -> Revoked:
    """An administrator's reset (``joliba users set-password``), for an account that may be in
    the wrong hands: the new password, every browser session ended, and every API token and
    dataset token the user holds revoked. Audited as ``user.password_reset``."""
    set_password(session, user, password)
    return _revoke_credentials(session, user, actor, "password reset", "user.password_reset")


def deactivate(session: Session, user: User, *, actor: Actor | None = None) -> Revoked:
    """Stop the account from signing in or calling the API: browser sessions ended, API
    tokens and dataset tokens revoked (reactivating does not bring them back)."""
    user.is_active = False
    session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    return _revoke_credentials(session, user, actor, "deactivation", "user.deactivate")


def activate(session: Session, user: User, *, actor: Actor | None = None) -> None:
    """Let a deactivated account sign in again (with its password; it has no tokens left)."""
    user.is_active = True
    session.flush()
    audit.record(session, "user.activate", actor=actor, target=user.email)


def _revoke_credentials(
    session: Session, user: User, actor: Actor | None, reason: str, action: str
) -> Revoked:
    """Every API token and dataset token of ``user`` revoked, then ``action`` audited."""
    revoked = Revoked(
        tokens=tokens.revoke_all(session, user, actor=actor, reason=reason),
        dataset_tokens=dataset_tokens.revoke_all_of(session, user, actor=actor, reason=reason),
    )
    audit.record(session, action, actor=actor, target=user.email, details=revoked.details())
    return revoked


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
    device_user: uuid.UUID | None = None,
    now: datetime | None = None,
) -> User | None:
    """Check a sign-in: the user, or None after auditing the failure (the caller commits
    either way). While recent failures impose a wait, TooManyRequests is raised before the
    password is even checked. The failures live in the audit log, so the waits hold across
    server processes. ``device_user`` is the account a signed device cookie of this browser
    names (``services.devices``): that browser is not slowed by failures from elsewhere.
    ``now`` is the time of the attempt (the clock, unless a test sets it).
    """
    now = now or utcnow()
    email = email.strip().lower()
    user = get_by_email(session, email)
    known_device = user is not None and device_user == user.id
    _throttle(
        session,
        email,
        client_ip,
        now=now,
        max_failures=max_failures,
        window=window,
        known_device=known_device,
    )
    ok = verify_password(user.password_hash if user else None, password)
    if not user or not ok or not user.is_active:
        audit.record(
            session,
            "auth.login_failed",
            email=email,
            target=email,
            client_ip=client_ip,
            at=now,
        )
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    actor = Actor(user=user, client_ip=client_ip)
    audit.record(session, "auth.login", actor=actor, target=email, at=now)
    return user


def _throttle(
    session: Session,
    email: str,
    client_ip: str,
    *,
    now: datetime,
    max_failures: int,
    window: timedelta,
    known_device: bool = False,
) -> None:
    """Refuse the attempt while failed sign-ins impose a wait (``domain.backoff``).

    Two counts, each of the failures of the last day: the account's since its last successful
    sign-in (``max_failures`` come without a wait), and the client address's over every
    account (four times as many). A client that has signed in to the account before — from
    this address, or with this browser's device cookie — counts only its own failures on the
    account, so failures from elsewhere never keep its owner out; a device cookie also
    spares the address's count.
    """
    horizon = now - FAILURES_KEPT
    last_success = audit.last_at(session, "auth.login", target=email)
    since = max(horizon, last_success or horizon)
    known = known_device or (
        audit.last_at(session, "auth.login", target=email, client_ip=client_ip) is not None
    )
    counts = [
        (
            audit.count_since(
                session,
                "auth.login_failed",
                since,
                target=email,
                client_ip=client_ip if known else None,
            ),
            max_failures,
        )
    ]
    if not known_device:
        by_address = audit.count_since(session, "auth.login_failed", horizon, client_ip=client_ip)
        counts.append((by_address, 4 * max_failures))
    wait = max(
        backoff.retry_after(failures, last, now, allowed=allowed, longest=window)
        for (failures, last), allowed in counts
    )
    if wait > 0:
        seconds = math.ceil(wait)
        shown = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
        raise TooManyRequests(
            f"too many failed sign-ins; try again in {shown}", retry_after=seconds
        )
