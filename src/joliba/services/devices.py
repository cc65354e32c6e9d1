"""The device cookie: a browser that signed in to an account before is known to it.

On each successful sign-in the browser gets ``joliba_device``, naming the account and when it
was issued, signed with a key derived from the server's secret key. Sign-in throttling
(``services.users``) counts only that browser's own failures against it, so a flood of wrong
passwords from elsewhere never keeps the account's owner out. The cookie grants nothing else:
the password is always needed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE = "joliba_device"
#: How long a browser stays known after its last sign-in.
LIFETIME = timedelta(days=365)


@lru_cache(maxsize=4)
def _key(secret_key: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"joliba device cookies"
    ).derive(secret_key.encode())


def _mac(secret_key: str, message: str) -> str:
    digest = hmac.new(_key(secret_key), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(secret_key: str, user_id: uuid.UUID, *, now: datetime | None = None) -> str:
    """The cookie value for a browser that just signed in as ``user_id``."""
    issued = int((now or datetime.now(UTC)).timestamp())
    message = f"{user_id.hex}.{issued}"
    return f"{message}.{_mac(secret_key, message)}"


def user_of(secret_key: str, value: str, *, now: datetime | None = None) -> uuid.UUID | None:
    """The account a genuine, unexpired cookie names; None for anything else."""
    parts = value.split(".")
    if len(parts) != 3 or not (parts[1].isascii() and parts[1].isdigit()) or len(parts[1]) > 12:
        return None
    user_hex, issued, mac = parts
    if not hmac.compare_digest(mac, _mac(secret_key, f"{user_hex}.{issued}")):
        return None
    when = datetime.fromtimestamp(int(issued), UTC)
    if when + LIFETIME < (now or datetime.now(UTC)):
        return None
    try:
        return uuid.UUID(hex=user_hex)
    except ValueError:
        return None
