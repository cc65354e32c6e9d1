"""Password hashing: its cost is a setting with a floor, and changing it loses no account."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import extract_parameters
from pydantic import ValidationError

from joliba.services import crypto
from joliba.settings import Settings


@pytest.fixture
def restore_cost() -> Iterator[None]:
    memory, passes = crypto.password_cost()
    yield
    crypto.configure_passwords(memory_kib=memory, time_cost=passes)


def test_the_default_cost_and_its_floor() -> None:
    settings = Settings()
    assert (settings.password_memory_kib, settings.password_time_cost) == (65536, 3)
    with pytest.raises(ValidationError, match="password_memory_kib"):
        Settings(password_memory_kib=8192)
    with pytest.raises(ValidationError, match="password_time_cost"):
        Settings(password_time_cost=1)


@pytest.mark.usefixtures("restore_cost")
def test_hashes_of_another_cost_still_verify_and_ask_to_be_redone() -> None:
    crypto.configure_passwords(memory_kib=65536, time_cost=3)
    strong = crypto.hash_password("s3cret words")
    assert (extract_parameters(strong).memory_cost, extract_parameters(strong).time_cost) == (
        65536,
        3,
    )
    crypto.configure_passwords(memory_kib=19456, time_cost=2)
    cheap = crypto.hash_password("s3cret words")
    assert extract_parameters(cheap).memory_cost == 19456
    assert crypto.verify_password(strong, "s3cret words")
    assert not crypto.verify_password(strong, "wrong words")
    assert crypto.needs_rehash(strong) and not crypto.needs_rehash(cheap)
    # An unknown account is checked against a hash of the current cost, then refused.
    assert not crypto.verify_password(None, "s3cret words")
