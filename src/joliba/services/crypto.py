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


class _Passwords:
    """The process's password hasher. Its cost comes from the settings (``configure``); hashes
    made with another cost still verify, and are redone at the next sign-in."""

    def __init__(self) -> None:
        self.hasher = PasswordHasher()
        self._dummy: str | None = None

    def configure(self, *, memory_kib: int, time_cost: int) -> None:
        if (memory_kib, time_cost) != (self.hasher.memory_cost, self.hasher.time_cost):
            self.hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost)
            self._dummy = None

    @property
    def dummy(self) -> str:
        # Verifying against this keeps the time of a sign-in with an unknown email the same as
        # with a known one, so response times do not tell which accounts exist. Made on first
        # use, not at import: every CLI command would pay for it.
        if self._dummy is None:
            self._dummy = self.hasher.hash("joliba-timing-equaliser")
        return self._dummy


_passwords = _Passwords()


def configure_passwords(*, memory_kib: int, time_cost: int) -> None:
    """Set the argon2id cost of new hashes (``JOLIBA_PASSWORD_MEMORY_KIB``, ``…_TIME_COST``)."""
    _passwords.configure(memory_kib=memory_kib, time_cost=time_cost)


def password_cost() -> tuple[int, int]:
    """The memory (KiB) and passes new password hashes take."""
    return _passwords.hasher.memory_cost, _passwords.hasher.time_cost


def hash_password(password: str) -> str:
    return _passwords.hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        checked = password_hash or _passwords.dummy
        return _passwords.hasher.verify(checked, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _passwords.hasher.check_needs_rehash(password_hash)


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
