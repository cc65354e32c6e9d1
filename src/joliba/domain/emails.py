"""Email addresses: the one check behind user creation (CLI, API, web) and invitations.

email-validator refuses special-use domains such as ``.local`` and ``.test``, because no mail
to them crosses the internet. Health ministries run mail on their own networks under exactly
such names (``admin@sante.local``), so those are accepted here; the rest of the address is
checked as strictly as any other.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from joliba.domain.errors import Invalid

#: Special-use domains of intranets, refused by email-validator, accepted here (others an
#: intranet uses, ``.internal``, ``.lan``, ``.corp``, are not special to it). ``localhost``,
#: ``invalid``, ``onion`` and the rest of ``arpa`` stay refused: no mail server is there.
INTRANET_SUFFIXES = ("local", "test", "home.arpa")


def normalise_email(email: str, *, field: str = "email") -> str:
    """``email`` checked and normalised (lower case), or :class:`Invalid` naming ``field``."""
    address = email.strip()
    local, at, domain = address.rpartition("@")
    suffix = _intranet_suffix(domain) if at and local else None
    # An intranet domain is checked with its special-use suffix swapped for an ordinary
    # label of the same length (so the length limits still hold), then given back.
    stand_in = "x" * len(suffix) if suffix else ""
    checked = f"{local}@{domain[: -len(suffix)]}{stand_in}" if suffix else address
    try:
        result = validate_email(checked, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(f"{field}: {exc}", details={"field": field}) from None
    normalized = result.normalized
    if suffix:
        normalized = normalized[: -len(stand_in)] + suffix
    return normalized.lower()


def _intranet_suffix(domain: str) -> str | None:
    lowered = domain.lower()
    for suffix in INTRANET_SUFFIXES:
        if lowered.endswith("." + suffix) and len(lowered) > len(suffix) + 1:
            return domain[-len(suffix) :]
    return None
