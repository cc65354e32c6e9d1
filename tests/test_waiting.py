"""``eventually``, the tests' one way to wait for a state (tests/fixtures/waiting.py)."""

from __future__ import annotations

import itertools

import pytest

from tests.fixtures.waiting import eventually


def test_it_returns_the_first_truthy_value() -> None:
    counter = itertools.count()
    assert eventually(lambda: next(counter) >= 3 and "ready", interval=0) == "ready"
    assert next(counter) == 4  # called until it held, and no more


def test_failed_asserts_mean_not_yet() -> None:
    counter = itertools.count()

    def check() -> int:
        value = next(counter)
        assert value >= 2, value
        return value

    assert eventually(check, interval=0) == 2


def test_the_timeout_fails_with_the_message_and_the_last_value() -> None:
    values = iter(range(1_000_000))
    with pytest.raises(AssertionError) as failed:
        eventually(lambda: [] if next(values) < 10**9 else [1], timeout=0.1, message="never")
    text = str(failed.value)
    assert text.startswith("never; after 0.1 s (")
    assert text.endswith("last value: []")
    assert failed.value.__cause__ is None


def test_the_last_failure_is_kept_as_the_cause() -> None:
    def check() -> bool:
        raise AssertionError("still 3 runs")

    with pytest.raises(AssertionError, match="still 3 runs") as failed:
        eventually(check, timeout=0.05, message=lambda: "built late")
    assert str(failed.value).startswith("built late; ")
    assert isinstance(failed.value.__cause__, AssertionError)
    assert str(failed.value.__cause__) == "still 3 runs"


def test_other_errors_fail_at_once_unless_ignored() -> None:
    calls = itertools.count()

    def refused() -> bool:
        next(calls)
        raise ConnectionRefusedError("not listening yet")

    with pytest.raises(ConnectionRefusedError):
        eventually(refused, timeout=10)
    assert next(calls) == 1  # no second try, no waiting out the timeout
    with pytest.raises(AssertionError, match="not listening yet") as failed:
        eventually(refused, timeout=0.05, interval=0.01, ignoring=(ConnectionRefusedError,))
    assert isinstance(failed.value.__cause__, ConnectionRefusedError)
    assert next(calls) > 3
