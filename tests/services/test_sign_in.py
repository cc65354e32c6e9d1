"""Sign-in checks, throttling and password changes, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from joliba.domain.errors import Invalid, TooManyRequests
from joliba.services import sessions, users
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from tests.conftest import PASSWORD, unique

WINDOW = timedelta(minutes=15)


def _try(platform: Platform, email: str, password: str, ip: str = "10.0.0.1"):
    with platform.db.transaction() as session:
        user = users.authenticate(
            session, email=email, password=password, client_ip=ip, max_failures=3, window=WINDOW
        )
        return user.email if user else None


def test_sign_in_and_throttling(platform: Platform) -> None:
    email = f"{unique()}@example.org"
    with platform.db.transaction() as session:
        users.create_user(session, email=email, password=PASSWORD)
    assert _try(platform, email.upper(), PASSWORD) == email
    for _ in range(3):
        assert _try(platform, email, "wrong password") is None
    with pytest.raises(TooManyRequests) as caught:
        _try(platform, email, PASSWORD)  # even the right password waits now
    assert 0 < caught.value.retry_after <= WINDOW.total_seconds()
    # Another account from another address is not affected.
    other = f"{unique()}@example.org"
    with platform.db.transaction() as session:
        users.create_user(session, email=other, password=PASSWORD)
    assert _try(platform, other, PASSWORD, ip="10.0.0.2") == other


def test_unknown_email_fails_like_a_wrong_password(platform: Platform) -> None:
    assert _try(platform, f"{unique()}@example.org", PASSWORD) is None


def _change(platform: Platform, user, current: str, new: str) -> bool:
    with platform.db.transaction() as session:
        return users.change_password(
            session,
            Actor(user=user, client_ip="10.9.9.9"),
            current_password=current,
            new_password=new,
            max_failures=3,
            window=WINDOW,
        )


def test_password_change_ends_sessions(platform: Platform) -> None:
    email = f"{unique()}@example.org"
    with platform.db.transaction() as session:
        user = users.create_user(session, email=email, password=PASSWORD)
        started = sessions.start(session, user, lifetime=timedelta(days=1))
    with platform.db.transaction() as session:
        assert sessions.resolve(session, started.cookie_value) is not None
    with pytest.raises(Invalid, match="at least"):
        _change(platform, user, PASSWORD, "short")
    assert _change(platform, user, PASSWORD, "a new long one") is True
    with platform.db.transaction() as session:
        assert sessions.resolve(session, started.cookie_value) is None
    assert _try(platform, email, "a new long one") == email
    assert _try(platform, email, PASSWORD) is None


def test_guessing_the_current_password_is_throttled(platform: Platform) -> None:
    email = f"{unique()}@example.org"
    with platform.db.transaction() as session:
        user = users.create_user(session, email=email, password=PASSWORD)
    for _ in range(3):
        assert _change(platform, user, "a wrong guess", "whatever new one") is False
    with pytest.raises(TooManyRequests):
        _change(platform, user, PASSWORD, "whatever new one")
    with pytest.raises(TooManyRequests):  # the same budget guards signing in
        _try(platform, email, PASSWORD, ip="10.0.0.9")


def test_passwords_are_hashed_with_argon2(platform: Platform) -> None:
    email = f"{unique()}@example.org"
    with platform.db.transaction() as session:
        user = users.create_user(session, email=email, password=PASSWORD)
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
