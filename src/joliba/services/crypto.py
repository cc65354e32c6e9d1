"""Password hashing (argon2), random tokens and their hashes, and the secret box for
connection secrets (Fernet, keyed from the server's secret key by HKDF)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_hasher = PasswordHasher()
# Verifying against this keeps the time of a sign-in with an unknown email the same as with a
# known one, so response times do not tell which accounts exist.
_DUMMY_HASH = _hasher.hash("joliba-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_token(prefix: str) -> str:
    """A random secret with a recognisable prefix (``jlb_`` for API tokens)."""
    return f"{prefix}{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class SecretBox:
    """Encrypts small JSON objects (connection secrets) with a key derived from the secret key."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"joliba connection secrets"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, values: dict[str, str]) -> bytes:
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode())

    def open(self, blob: bytes) -> dict[str, str]:
        try:
            data = json.loads(self._fernet.decrypt(blob))
        except InvalidToken:
            raise RuntimeError(
                "connection secrets cannot be decrypted: was JOLIBA_SECRET_KEY changed?"
            ) from None
        return {str(k): str(v) for k, v in data.items()}
