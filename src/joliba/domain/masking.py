"""Secrets out of messages: whole secret values are replaced, nothing else is touched.

A remote system's error message may quote a credential back (a URL with the password, a
token in an echo). Masking must hide it without garbling the rest: a password ``x`` must not
turn "exist" into "e********ist". So a secret is replaced only where it stands whole — not
run into letters, digits or ``_`` on either side — and, when it is long enough that a chance
match is impossible (``LONG`` characters or more), also inside longer text. Its URL-encoded
form is masked the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

from joliba.domain.connections import MASK

#: Secrets at least this long are masked even inside longer words.
LONG = 8


def mask_secrets(message: str, secrets: Iterable[str]) -> str:
    """``message`` with each of ``secrets`` (empty ones ignored) replaced by ``********``."""
    forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
    if not forms:
        return message
    # One pass, longest first: a secret that contains another is masked whole, and the masks
    # put in are never matched again.
    alternatives = [
        re.escape(form) if len(form) >= LONG else rf"(?<!\w){re.escape(form)}(?!\w)"
        for form in sorted(forms, key=len, reverse=True)
    ]
    return re.sub("|".join(alternatives), MASK, message)
