"""Email addresses: intranet domains (``admin@sante.local``) are accepted, bad syntax is not."""

from __future__ import annotations

import pytest

from joliba.domain.emails import normalise_email
from joliba.domain.errors import Invalid


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("admin@sante.local", "admin@sante.local"),
        ("  Admin@Sante.LOCAL ", "admin@sante.local"),
        ("data.manager@dhis2.moh.test", "data.manager@dhis2.moh.test"),
        ("it@router.home.arpa", "it@router.home.arpa"),
        ("admin@sante.internal", "admin@sante.internal"),
        ("admin@moh.lan", "admin@moh.lan"),
        ("agent@santé.local", "agent@santé.local"),
        ("admin@example.org", "admin@example.org"),
    ],
)
def test_accepted(given: str, expected: str) -> None:
    assert normalise_email(given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("sante.local", "must have an @-sign"),
        ("@sante.local", "There must be something before the @-sign"),
        ("admin@local", "It should have a period"),
        ("admin@.local", "period immediately after the @-sign"),
        ("admin@sante..local", "two periods in a row"),
        ("ad min@sante.local", "invalid character"),
        ("a@b@sante.local", "invalid characters"),
        ("admin@sante.local.", "cannot end with a period"),
        # Special-use names where no mail server can be stay refused.
        ("admin@host.localhost", "special-use or reserved name"),
        ("admin@site.onion", "special-use or reserved name"),
        ("admin@name.invalid", "special-use or reserved name"),
        ("admin@1.168.192.in-addr.arpa", "special-use or reserved name"),
    ],
)
def test_refused(given: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        normalise_email(given, field="invitation email")
    assert caught.value.message.startswith("invitation email: ")
    assert reason in caught.value.message
    assert caught.value.details == {"field": "invitation email"}


def test_length_limits_hold_for_intranet_domains() -> None:
    # 254 characters is the longest address: the swapped suffix counts as much as the real one.
    domain = ".".join(["b" * 60] * 3) + ".sante.local"
    longest = f"{'a' * (254 - 1 - len(domain))}@{domain}"
    assert len(longest) == 254 and normalise_email(longest) == longest
    with pytest.raises(Invalid, match="too long"):
        normalise_email("a" + longest)
