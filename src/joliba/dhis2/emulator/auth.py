"""Who may call the emulator: Basic authentication with the users it knows (``admin`` /
``district`` by default) and personal access tokens (``Authorization: ApiToken d2pat_…``).

A refused request gets DHIS2's 401 WebMessage.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import zlib
from collections.abc import Mapping

from starlette.responses import Response

from joliba.dhis2.emulator.messages import error

DEFAULT_USERS = {"admin": "district"}


def make_token(seed: str | None = None) -> str:
    """A token in DHIS2's format: ``d2pat_``, 32 random characters, a 10-digit CRC32."""
    body = secrets.token_urlsafe(24)[:32] if seed is None else (seed * 32)[:32]
    return f"d2pat_{body}{zlib.crc32(body.encode()):010d}"


class Authenticator:
    def __init__(self, users: Mapping[str, str] | None = None, tokens: list[str] | None = None):
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.tokens = set(tokens or [])

    def user(self, header: str) -> str | None:
        """The user name an Authorization header proves, or None."""
        scheme, _, credentials = header.partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            name, _, password = decoded.partition(":")
            expected = self.users.get(name)
            if expected is not None and secrets.compare_digest(expected, password):
                return name
            return None
        if scheme == "ApiToken" and credentials in self.tokens:
            return "admin"
        return None


def unauthorized() -> Response:
    return error(401, "Unauthorized")
