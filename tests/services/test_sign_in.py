"""Sign-in checks, throttling and password changes, on both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from joliba.db.tables import User, utcnow
from joliba.domain.errors import Invalid, TooManyRequests
from joliba.services import sessions, users
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from tests.conftest import PASSWORD, unique

WINDOW = timedelta(minutes=15)


class Clock:
    """The time of the attempts: the real clock, moved forward when a test lets time pass."""

    def __init__(self) -> None:
        self.now = utcnow()

    def later(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _try(
    platform: Platform,
    email: str,
    password: str,
    ip: str = "10.0.0.1",
    device_user: uuid.UUID | None = None,
    clock: Clock | None = None,
) -> str | None:
    with platform.db.transaction() as session:
        user = users.authenticate(
            session,
            email=email,
            password=password,
            client_ip=ip,
            max_failures=3,
            window=WINDOW,
            device_user=device_user,
            now=clock.now if clock else None,
        )
        return user.email if user else None


def _wait(
    platform: Platform,
    email: str,
    ip: str,
    clock: Clock | None = None,
    device_user: uuid.UUID | None = None,
) -> int:
    """The Retry-After of an attempt (with the right password) that must be refused."""
    with pytest.raises(TooManyRequests) as caught:
        _try(platform, email, PASSWORD, ip, clock=clock, device_user=device_user)
    return caught.value.retry_after


def _account(platform: Platform) -> tuple[str, uuid.UUID]:
    email = f"{unique()}@example.org"
    with platform.db.transaction() as session:
        user = users.create_user(session, email=email, password=PASSWORD)
        return email, user.id


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def test_sign_in_and_throttling(platform: Platform) -> None:
    email = f"{unique()}@example.org"
    with platform.db.transaction() as session:
        users.create_user(session, email=email, password=PASSWORD)
    assert _try(platform, email.upper(), PASSWORD) == email
    for _ in range(3):
        assert _try(platform, email, "wrong password") is None
    with pytest.raises(TooManyRequests) as caught:
        _try(platform, email, PASSWORD)  # even the right password waits now
    assert 0 < caught.value.retry_after <= 30  # the first wait, not a lock
    # Another account from another address is not affected.
    other = f"{unique()}@example.org"
    with platform.db.transaction() as session:
        users.create_user(session, email=other, password=PASSWORD)
    assert _try(platform, other, PASSWORD, ip="10.0.0.2") == other


def test_each_failure_past_the_allowance_doubles_the_wait_up_to_the_window(
    platform: Platform,
) -> None:
    email, _ = _account(platform)
    ip, clock = _address(), Clock()
    for _ in range(3):  # the allowance: no wait
        assert _try(platform, email, "wrong password", ip, clock=clock) is None
    waits = []
    for _ in range(7):
        waits.append(_wait(platform, email, ip, clock))
        clock.later(waits[-1] - 1)
        assert _wait(platform, email, ip, clock) == 1  # still waiting, one second before
        clock.later(1)  # the wait is over: the next try is heard
        assert _try(platform, email, "wrong password", ip, clock=clock) is None
    assert waits == [30, 60, 120, 240, 480, 900, 900]  # capped at the window (15 min)
    # Nothing is locked: once the wait is over, the right password works.
    clock.later(_wait(platform, email, ip, clock))
    assert _try(platform, email, PASSWORD, ip, clock=clock) == email


def test_failures_from_elsewhere_never_keep_a_known_client_out(platform: Platform) -> None:
    email, user_id = _account(platform)
    home, attacker = _address(), _address()
    assert _try(platform, email, PASSWORD, home) == email  # the owner, from home
    for _ in range(3):
        assert _try(platform, email, "a guess", attacker) is None
    assert 0 < _wait(platform, email, attacker) <= 30  # the attacker waits
    # Strangers wait too (the account is under attack), even with the right password …
    assert 0 < _wait(platform, email, _address()) <= 30
    # … but the owner's address, and the owner's browser from anywhere, do not.
    assert _try(platform, email, PASSWORD, home) == email
    assert _try(platform, email, PASSWORD, _address(), device_user=user_id) == email
    # A device cookie names one account: it does not help with another.
    other, _ = _account(platform)
    for _ in range(3):
        assert _try(platform, other, "a guess", attacker) is None
    assert 0 < _wait(platform, other, _address(), device_user=user_id) <= 30


def test_a_known_client_is_still_slowed_by_its_own_failures(platform: Platform) -> None:
    email, _ = _account(platform)
    home = _address()
    assert _try(platform, email, PASSWORD, home) == email
    for _ in range(3):
        assert _try(platform, email, "typo", home) is None
    assert 0 < _wait(platform, email, home) <= 30
    # Its failures count against the account for everyone else too.
    assert 0 < _wait(platform, email, _address()) <= 30


def test_one_address_guessing_many_accounts_is_slowed(platform: Platform) -> None:
    sprayer = _address()
    for _ in range(12):  # 4 x 3 failures, each on a different account
        assert _try(platform, _account(platform)[0], "Winter2025!", sprayer) is None
    fresh, fresh_id = _account(platform)
    assert 0 < _wait(platform, fresh, sprayer) <= 30
    assert _try(platform, fresh, PASSWORD, _address()) == fresh  # other addresses are not
    # The account's owner, with the browser that signed in before, passes even from there.
    assert _try(platform, fresh, PASSWORD, sprayer, device_user=fresh_id) == fresh


def test_failures_are_forgotten_after_a_day(platform: Platform) -> None:
    email, _ = _account(platform)
    ip, clock = _address(), Clock()
    for _ in range(8):
        clock.later(3600)  # an hour apart: every wait is over by the next try
        assert _try(platform, email, "wrong password", ip, clock=clock) is None
    assert _wait(platform, email, ip, clock) == 900  # 8 failures within the day
    clock.later(25 * 3600)  # a day after the last of them
    for _ in range(3):
        assert _try(platform, email, "wrong password", ip, clock=clock) is None
    assert _wait(platform, email, ip, clock) == 30  # a fresh start: the old ones are gone


def test_unknown_email_fails_like_a_wrong_password(platform: Platform) -> None:
    assert _try(platform, f"{unique()}@example.org", PASSWORD) is None


def _change(platform: Platform, user: User, current: str, new: str) -> bool:
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
